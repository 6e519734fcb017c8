// PEM <-> DER conversion for certificates and bundles.
import { PkiError } from '../common/errors.js';

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Encodes DER as one PEM block. */
export function toPem(der: Buffer, label = 'CERTIFICATE'): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Decodes every PEM block with the given label, in order. */
export function fromPemAll(pem: string, label = 'CERTIFICATE'): Buffer[] {
  const out: Buffer[] = [];
  for (const m of pem.matchAll(BLOCK)) {
    if (m[1] === label) out.push(Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64'));
  }
  return out;
}

/** Decodes certificates from PEM; throws PkiError `no_certificates` naming `what` when there are none. */
export function certsFromPem(pem: string, what: string): Buffer[] {
  const ders = fromPemAll(pem, 'CERTIFICATE');
  if (ders.length === 0) throw new PkiError('no_certificates', `${what}: no PEM certificate found`);
  return ders;
}

/** Concatenates DER certificates into one PEM bundle. */
export function certsToPem(ders: readonly Buffer[]): string {
  return ders.map((d) => toPem(d)).join('');
}
