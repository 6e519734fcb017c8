// The handoff of a tunnel stream to an mTLS connection of its own, as both ends speak it (docs/design.md "Tunnels",
// "Handoff"): the inbound's 200 carries a key of the tunnel connection; the outbound dials the same upstream with ALPN
// ztmesh-handoff/1 and sends a join request (the key and the stream's id); the inbound answers one byte. And the
// outbound's decision of when a stream is worth it. Pure.

/** The ALPN protocol of a handoff connection: its first bytes are a join request, never an app's. */
export const HANDOFF_ALPN = 'ztmesh-handoff/1';

/**
 * The response header of an accepted tunnel stream that names its connection's handoff key (32 hex digits): an
 * inbound that sends none takes no handoff, and the outbound never asks it for one.
 */
export const HANDOFF_HEADER = 'ztmesh-handoff';

/** The key's length: 128 random bits per tunnel connection, sent only inside it. */
export const HANDOFF_KEY_BYTES = 16;

const MAGIC = Buffer.from('ZTHO');
const VERSION = 1;

/** The join request's length: magic (4), version (1), key (16), stream id (4, big-endian). */
export const JOIN_BYTES = MAGIC.length + 1 + HANDOFF_KEY_BYTES + 4;

/** The inbound's one-byte answer: the stream's bytes go on here, or they stay on the tunnel (this connection closes). */
export const JOIN_ACCEPTED = 0x01;
export const JOIN_REFUSED = 0x00;

/** The join request for stream `streamId` of the tunnel connection whose key is `key`. */
export function encodeJoin(key: Buffer, streamId: number): Buffer {
  if (key.length !== HANDOFF_KEY_BYTES) throw new RangeError(`BUG: a handoff key is ${HANDOFF_KEY_BYTES} bytes, not ${key.length}`);
  const out = Buffer.alloc(JOIN_BYTES);
  MAGIC.copy(out, 0);
  out[MAGIC.length] = VERSION;
  key.copy(out, MAGIC.length + 1);
  out.writeUInt32BE(streamId >>> 0, MAGIC.length + 1 + HANDOFF_KEY_BYTES);
  return out;
}

export type Join = { ok: true; key: string; streamId: number } | { ok: false; detail: string };

/** Reads a join request (exactly JOIN_BYTES); `key` comes back as hex, as the inbound indexes its connections. */
export function decodeJoin(buf: Uint8Array): Join {
  if (buf.length !== JOIN_BYTES) return { ok: false, detail: `a join request is ${JOIN_BYTES} bytes, not ${buf.length}` };
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  if (!b.subarray(0, MAGIC.length).equals(MAGIC)) return { ok: false, detail: 'not a join request' };
  if (b[MAGIC.length] !== VERSION) return { ok: false, detail: `join request version ${b[MAGIC.length]}, not ${VERSION}` };
  const streamId = b.readUInt32BE(MAGIC.length + 1 + HANDOFF_KEY_BYTES);
  // Client-initiated HTTP/2 streams have odd ids below 2^31.
  if (streamId % 2 === 0 || streamId >= 2 ** 31) return { ok: false, detail: `stream id ${streamId} is not a client stream` };
  return { ok: true, key: b.subarray(MAGIC.length + 1, MAGIC.length + 1 + HANDOFF_KEY_BYTES).toString('hex'), streamId };
}

/** Parses the handoff header of a 200; undefined when absent or not 32 hex digits. */
export function parseHandoffKey(value: unknown): Buffer | undefined {
  return typeof value === 'string' && /^[0-9a-f]{32}$/.test(value) ? Buffer.from(value, 'hex') : undefined;
}

/** When the outbound moves a stream (docs/design.md "Tunnels", "Handoff"). */
export interface HandoffPolicy {
  /** How often each stream's byte counts are looked at. */
  checkIntervalMs: number;
  /** A stream moving at least this many bytes a second, both ways together, is bulk: multiplexing only costs it. */
  bulkBytesPerSecond: number;
  /**
   * A stream moving at least this many bytes a second while at most `loneStreams` streams are open on its connection
   * (itself included) is a busy lone stream: nothing shares the connection's reads and writes, so the frames cost
   * it more than its own connection would.
   */
  busyBytesPerSecond: number;
  loneStreams: number;
}

/**
 * Checked 10 times a second; 8 MB/s takes a bulk stream off the tunnel within 0.1–0.2 s; 64 KB/s (a few hundred small
 * requests a second) moves a connection that is alone, or with one other, on its tunnel connection. Chosen so that the
 * bench's bulk and rr1 cells move and its conn1/conn16 connections (one short request each) never do; the bench
 * (`npm run bench`) shows what the move buys.
 */
export const DEFAULT_HANDOFF_POLICY: Readonly<HandoffPolicy> = Object.freeze({
  checkIntervalMs: 100,
  bulkBytesPerSecond: 8 * 1024 * 1024,
  busyBytesPerSecond: 64 * 1024,
  loneStreams: 2,
});

/** Why a stream is moved: the `reason` of ztmesh_tunnel_handoffs_total. */
export type HandoffReason = 'bulk' | 'lone';

/** What one check sees of a stream. */
export interface StreamActivity {
  /** Bytes both ways since the last check... */
  bytes: number;
  /** ...which was this long ago. */
  intervalMs: number;
  /** Streams open on its tunnel connection, itself included. */
  connectionStreams: number;
}

/**
 * Whether a stream should get a connection of its own now, and why; undefined: it stays (and always over less than
 * one check interval: a short connection's first bytes say nothing of its rate). Pure.
 */
export function handoffReason(a: StreamActivity, policy: HandoffPolicy): HandoffReason | undefined {
  if (a.intervalMs < policy.checkIntervalMs) return undefined;
  const perSecond = (a.bytes * 1000) / a.intervalMs;
  if (perSecond >= policy.bulkBytesPerSecond) return 'bulk';
  if (perSecond >= policy.busyBytesPerSecond && a.connectionStreams <= policy.loneStreams) return 'lone';
  return undefined;
}
