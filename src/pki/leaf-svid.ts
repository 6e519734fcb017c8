// The SPIFFE X.509-SVID rules for a leaf as one pure check, shared by the data path (every peer, once per
// handshake) and chain verification (CA renewals): not a CA, one valid SPIFFE ID, a signing key usage.
import type { X509Certificate } from 'node:crypto';
import { PkiError } from '../common/errors.js';
import { KEY_USAGE, keyUsageBits } from './key-usage.js';
import { parseSpiffeId } from './spiffe-id.js';
import { uriSans } from './cert-ids.js';

/** Why a certificate is not a leaf SVID (PkiError codes of verifySvidChain too). */
export type LeafSvidProblem = 'not_a_leaf' | 'no_spiffe_id' | 'invalid_spiffe_id' | 'bad_key_usage';

export type LeafSvidCheck =
  | { ok: true; spiffeId: string }
  | { ok: false; code: LeafSvidProblem; detail: string; /** The one URI SAN, when there is exactly one. */ spiffeId?: string };

const DIGITAL_SIGNATURE = 1 << KEY_USAGE.digitalSignature;
/** A leaf SVID must not be able to sign certificates or CRLs. */
const CA_USAGES = (1 << KEY_USAGE.keyCertSign) | (1 << KEY_USAGE.cRLSign);

function keyUsageProblem(cert: X509Certificate): string | undefined {
  let bits: number | undefined;
  try {
    bits = keyUsageBits(cert.raw);
  } catch (e) {
    return (e as Error).message;
  }
  if (bits === undefined) return 'no keyUsage extension';
  if (!(bits & DIGITAL_SIGNATURE)) return 'keyUsage lacks digitalSignature';
  if (bits & CA_USAGES) return 'keyUsage has keyCertSign or cRLSign';
  return undefined;
}

/**
 * Checks `cert` against the X.509-SVID leaf rules: basicConstraints CA=false, exactly one URI SAN and it is a
 * valid SPIFFE ID, keyUsage with digitalSignature and without keyCertSign/cRLSign. Pure; chain and validity
 * are the caller's (TLS, or verifySvidChain).
 */
export function checkLeafSvid(cert: X509Certificate): LeafSvidCheck {
  const uris = uriSans(cert);
  const one = uris.length === 1 ? uris[0]! : undefined;
  const fail = (code: LeafSvidProblem, detail: string): LeafSvidCheck => ({ ok: false, code, detail, ...(one !== undefined ? { spiffeId: one } : {}) });
  if (cert.ca) return fail('not_a_leaf', 'basicConstraints CA=true');
  if (one === undefined) return fail('no_spiffe_id', `${uris.length} URI SANs, a SPIFFE leaf has exactly one`);
  try {
    parseSpiffeId(one);
  } catch (e) {
    return fail('invalid_spiffe_id', (e as Error).message);
  }
  const ku = keyUsageProblem(cert);
  if (ku) return fail('bad_key_usage', ku);
  return { ok: true, spiffeId: one };
}

/** checkLeafSvid() that throws PkiError with the problem's code; returns the SPIFFE ID. */
export function assertLeafSvid(cert: X509Certificate): string {
  const r = checkLeafSvid(cert);
  if (!r.ok) throw new PkiError(r.code, `not a leaf SVID: ${r.detail}`);
  return r.spiffeId;
}
