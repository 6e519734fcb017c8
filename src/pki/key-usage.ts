// Reads a certificate's keyUsage bits straight from its DER: node's X509Certificate does not expose them
// (its `keyUsage` is the extended key usage). A walk over a dozen TLVs with der.ts, no ASN.1 library.
import { PkiError } from '../common/errors.js';
import * as der from './der.js';

/** RFC 5280 keyUsage bit numbers; keyUsageBits() sets `1 << n` for bit n. */
export const KEY_USAGE = {
  digitalSignature: 0,
  keyEncipherment: 2,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
} as const;

/** Content bytes of the keyUsage OID, 2.5.29.15. */
const KEY_USAGE_OID = Buffer.from([0x55, 0x1d, 0x0f]);
/** TBSCertificate's extensions field: [3] EXPLICIT. */
const EXTENSIONS_TAG = 0xa3;
/** keyUsage defines nine bits (digitalSignature .. decipherOnly). */
const KEY_USAGE_BITS = 9;

function malformed(why: string): never {
  throw new PkiError('malformed_der', `certificate keyUsage: ${why}`);
}

/** Decodes a keyUsage BIT STRING (the extension's value) into a bit set. */
export function decodeKeyUsage(value: Buffer): number {
  const bits = der.readWhole(value, der.TAG.BIT_STRING).content;
  if (bits.length === 0) malformed('empty BIT STRING');
  const unused = bits[0]!;
  if (unused > 7 || (bits.length === 1 && unused !== 0)) malformed('bad unused-bits count');
  const available = (bits.length - 1) * 8 - unused;
  let out = 0;
  for (let n = 0; n < Math.min(KEY_USAGE_BITS, available); n++) {
    if (bits[1 + (n >> 3)]! & (0x80 >> (n & 7))) out |= 1 << n;
  }
  return out;
}

/**
 * The keyUsage of the certificate `certDer` as a bit set (see KEY_USAGE), or undefined when it has no keyUsage
 * extension. Throws PkiError `malformed_der` on bad DER or a repeated keyUsage extension.
 */
export function keyUsageBits(certDer: Buffer): number | undefined {
  const cert = der.readWhole(certDer, der.TAG.SEQUENCE);
  const tbs = der.expectTag(der.read(cert.content, 0), der.TAG.SEQUENCE, 'TBSCertificate');
  let found: number | undefined;
  for (let off = 0; off < tbs.content.length;) {
    const field = der.read(tbs.content, off);
    off += field.raw.length;
    if (field.tag !== EXTENSIONS_TAG) continue;
    const list = der.readWhole(field.content, der.TAG.SEQUENCE);
    for (let e = 0; e < list.content.length;) {
      const ext = der.expectTag(der.read(list.content, e), der.TAG.SEQUENCE, 'Extension');
      e += ext.raw.length;
      const id = der.expectTag(der.read(ext.content, 0), der.TAG.OID, 'extnID');
      if (!id.content.equals(KEY_USAGE_OID)) continue;
      if (found !== undefined) malformed('the extension appears twice');
      let next = der.read(ext.content, id.raw.length);
      if (next.tag === der.TAG.BOOLEAN) next = der.read(ext.content, id.raw.length + next.raw.length);
      found = decodeKeyUsage(der.expectTag(next, der.TAG.OCTET_STRING, 'extnValue').content);
    }
  }
  return found;
}
