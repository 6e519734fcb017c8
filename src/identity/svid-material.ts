// Turns a freshly generated key and the CA's answer into a complete Svid, or fails without side effects.
// Everything is parsed and checked here first, so the manager swaps in only a whole, verified SVID.
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { PkiError } from '../common/errors.js';
import { certsToPem, privateKeyPem, verifySvidChain, parseSpiffeId } from '../pki/index.js';
import type { Svid, TrustBundle } from './credentials.js';
import { certNotAfterMs } from '../pki/validity.js';

/** Builds and verifies an Svid: key matches the leaf, the chain reaches `bundle`, the ID is in our trust domain. */
export function buildSvid(opts: {
  key: KeyObject;
  chainDer: readonly Buffer[];
  bundle: TrustBundle;
  trustDomain: string;
  expectedSpiffeId?: string;
  nowMs: number;
}): Svid {
  if (opts.chainDer.length === 0) throw new PkiError('empty_chain', 'the CA returned no certificate');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(opts.chainDer[0]!);
  } catch (e) {
    throw new PkiError('malformed_certificate', 'the CA returned a certificate that cannot be parsed', { cause: e });
  }
  if (!leaf.checkPrivateKey(opts.key)) throw new PkiError('key_mismatch', 'the CA returned a certificate for another key');
  const { spiffeId } = verifySvidChain(opts.chainDer, opts.bundle.roots, opts.nowMs);
  if (parseSpiffeId(spiffeId).trustDomain !== opts.trustDomain) {
    throw new PkiError('wrong_trust_domain', `the CA issued ${spiffeId}, outside trust domain ${opts.trustDomain}`);
  }
  if (opts.expectedSpiffeId && spiffeId !== opts.expectedSpiffeId) {
    throw new PkiError('unexpected_spiffe_id', `the CA issued ${spiffeId}, not the configured ${opts.expectedSpiffeId}`);
  }
  const spki = createPublicKey(opts.key).export({ format: 'der', type: 'spki' });
  return {
    spiffeId,
    key: opts.key,
    keyPem: privateKeyPem(opts.key),
    chainDer: opts.chainDer.map((d) => Buffer.from(d)),
    chainPem: certsToPem(opts.chainDer),
    serialHex: leaf.serialNumber.toLowerCase(),
    notBeforeMs: Date.parse(leaf.validFrom),
    notAfterMs: certNotAfterMs(leaf),
    publicKeySha256: createHash('sha256').update(spki).digest('hex'),
  };
}

/** Whether `svid` still chains to a root of `bundle` at `nowMs` (false once its root was retired, or it expired). */
export function chainsToBundle(svid: Svid, bundle: TrustBundle, nowMs: number): boolean {
  try {
    verifySvidChain(svid.chainDer, bundle.roots, nowMs);
    return true;
  } catch {
    return false;
  }
}
