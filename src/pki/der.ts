// Minimal DER encoder and reader for the fixed certificate profiles on the CA's hot path.
// @peculiar/x509 costs ~6 ms per certificate; these Buffer splices cost microseconds.
import { PkiError } from '../common/errors.js';

/** DER tag bytes used by the profiles ztmesh builds and reads. */
export const TAG = {
  BOOLEAN: 0x01, INTEGER: 0x02, BIT_STRING: 0x03, OCTET_STRING: 0x04, NULL: 0x05, OID: 0x06,
  UTF8: 0x0c, PRINTABLE: 0x13, IA5: 0x16, UTC_TIME: 0x17, GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30, SET: 0x31,
} as const;

function lengthBytes(len: number): Buffer {
  if (len < 0x80) return Buffer.from([len]);
  const bytes: number[] = [];
  for (let n = len; n > 0; n >>>= 8) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Encodes one TLV. */
export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), lengthBytes(content.length), content]);
}

export const seq = (...parts: Buffer[]): Buffer => tlv(TAG.SEQUENCE, Buffer.concat(parts));
export const set = (...parts: Buffer[]): Buffer => tlv(TAG.SET, Buffer.concat(parts));
export const octets = (b: Buffer): Buffer => tlv(TAG.OCTET_STRING, b);
export const bitString = (b: Buffer): Buffer => tlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([0]), b]));
export const bool = (v: boolean): Buffer => tlv(TAG.BOOLEAN, Buffer.from([v ? 0xff : 0]));
export const nul = (): Buffer => Buffer.from([TAG.NULL, 0]);
/** Context-specific constructed [n] wrapping `content` (EXPLICIT tagging). */
export const explicit = (n: number, content: Buffer): Buffer => tlv(0xa0 | n, content);

/** A non-negative INTEGER from big-endian bytes, with a leading zero where the sign bit is set. */
export function uint(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const b = bytes.subarray(i);
  return tlv(TAG.INTEGER, b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

export const smallInt = (n: number): Buffer => uint(Buffer.from([n]));

/** Encodes a dotted OID string. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [arcs[0]! * 40 + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const stack: number[] = [];
    let n = arc;
    do {
      stack.unshift(n & 0x7f);
      n = Math.floor(n / 128);
    } while (n > 0);
    for (let i = 0; i < stack.length - 1; i++) stack[i]! |= 0x80;
    out.push(...stack);
  }
  return tlv(TAG.OID, Buffer.from(out));
}

/** Decodes OID content bytes to dotted form. */
export function oidToString(content: Buffer): string {
  const arcs: number[] = [];
  let n = 0;
  for (let i = 0; i < content.length; i++) {
    n = n * 128 + (content[i]! & 0x7f);
    if (!(content[i]! & 0x80)) {
      if (arcs.length === 0) arcs.push(n < 80 ? Math.floor(n / 40) : 2, n < 80 ? n % 40 : n - 80);
      else arcs.push(n);
      n = 0;
    }
  }
  return arcs.join('.');
}

/** X.509 Time: UTCTime through 2049, GeneralizedTime after, always second precision, Z. */
export function time(ms: number): Buffer {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const iso = d.toISOString(); // 2026-11-27T20:59:30.000Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z';
  const year = d.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? tlv(TAG.UTC_TIME, Buffer.from(digits.slice(2), 'ascii'))
    : tlv(TAG.GENERALIZED_TIME, Buffer.from(digits, 'ascii'));
}

/** One decoded TLV: tag, the whole encoding and the content slice (views into the input). */
export interface Node {
  tag: number;
  /** The full TLV bytes. */
  raw: Buffer;
  /** The content bytes. */
  content: Buffer;
}

/** Reads the TLV at `offset`; throws PkiError on truncation or indefinite lengths. */
export function read(buf: Buffer, offset = 0): Node {
  if (offset + 2 > buf.length) throw new PkiError('malformed_der', 'DER: truncated header');
  const tag = buf[offset]!;
  let len = buf[offset + 1]!;
  let hdr = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new PkiError('malformed_der', 'DER: unsupported length form');
    if (offset + 2 + n > buf.length) throw new PkiError('malformed_der', 'DER: truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i]!;
    hdr += n;
  }
  const end = offset + hdr + len;
  if (end > buf.length) throw new PkiError('malformed_der', 'DER: content runs past the end');
  return { tag, raw: buf.subarray(offset, end), content: buf.subarray(offset + hdr, end) };
}

/** Reads a TLV that must span the whole buffer. */
export function readWhole(buf: Buffer, expectTag?: number): Node {
  const node = read(buf, 0);
  if (node.raw.length !== buf.length) throw new PkiError('malformed_der', 'DER: trailing bytes');
  if (expectTag !== undefined && node.tag !== expectTag) {
    throw new PkiError('malformed_der', `DER: expected tag 0x${expectTag.toString(16)}, got 0x${node.tag.toString(16)}`);
  }
  return node;
}

/** The children of a constructed node. */
export function children(node: Node): Node[] {
  const out: Node[] = [];
  for (let off = 0; off < node.content.length; ) {
    const child = read(node.content, off);
    out.push(child);
    off += child.raw.length;
  }
  return out;
}

/** Asserts a node's tag, naming `what` in the error. */
export function expectTag(node: Node | undefined, tag: number, what: string): Node {
  if (!node || node.tag !== tag) throw new PkiError('malformed_der', `DER: ${what} missing or of the wrong type`);
  return node;
}
