// Reserved SPIFFE IDs: the trust domain's own ID, the CA's ID and every ID in the CA's namespace are signed only when
// `ca serve --grant-reserved-id` names them. One pure check, applied after every attestation (token, TokenReview, renewal).
import { ConfigError, PolicyError } from '../../common/errors.js';
import { parseSpiffeId, workloadId } from '../../pki/spiffe-id.js';
import { CA_NAMESPACE, caSpiffeId } from '../../common/mesh.js';

/** Why an ID is reserved. */
export type ReservedKind = 'trust_domain_id' | 'ca_id' | 'ca_namespace';

const WHY: Record<ReservedKind, string> = {
  trust_domain_id: 'it is the ID of the trust domain itself',
  ca_id: "it is the CA's own ID, by which sidecars recognise the CA",
  ca_namespace: `it lies in the CA's namespace ${CA_NAMESPACE}`,
};

/** Kinds no grant can lift: a workload holding one could pose as the CA or as the whole trust domain. */
const NEVER_GRANTED: ReadonlySet<ReservedKind> = new Set(['trust_domain_id', 'ca_id']);

/** Why `spiffeId` is reserved in `trustDomain`, or undefined for an ordinary workload ID. Throws PkiError on a malformed ID. */
export function reservedKind(spiffeId: string, trustDomain: string): ReservedKind | undefined {
  const id = parseSpiffeId(spiffeId);
  if (id.trustDomain !== trustDomain) return undefined;
  if (id.path === '') return 'trust_domain_id';
  if (id.uri === caSpiffeId(trustDomain)) return 'ca_id';
  const ns = `/ns/${CA_NAMESPACE}`;
  if (id.path === ns || id.path.startsWith(`${ns}/`)) return 'ca_namespace';
  return undefined;
}

/** The trust domain and the reserved IDs the CA's configuration grants. */
export interface ReservedIdPolicy {
  trustDomain: string;
  granted: ReadonlySet<string>;
}

/** Throws PolicyError `reserved_identity` (PERMISSION_DENIED) when the CA must not sign `spiffeId`. Pure. */
export function assertNotReserved(spiffeId: string, policy: ReservedIdPolicy): void {
  const kind = reservedKind(spiffeId, policy.trustDomain);
  if (kind === undefined || (!NEVER_GRANTED.has(kind) && policy.granted.has(spiffeId))) return;
  const how = NEVER_GRANTED.has(kind) ? 'no workload may hold it' : 'the CA signs it only when --grant-reserved-id names it';
  throw new PolicyError('reserved_identity', `${spiffeId.slice(0, 200)} is reserved: ${WHY[kind]}; ${how}`);
}

const NS_SA = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/;

/**
 * Validates `--grant-reserved-id` values for `trustDomain`: a SPIFFE ID, or `<namespace>/<serviceaccount>` for
 * spiffe://<trustDomain>/ns/<namespace>/sa/<serviceaccount> (so manifests need not repeat the trust domain).
 * ConfigError `invalid_flag` names the value and the reason.
 */
export function parseReservedGrants(values: readonly string[], trustDomain: string): ReadonlySet<string> {
  const granted = new Set<string>();
  for (const v of values) {
    let why: string | undefined;
    let id = v;
    try {
      const short = NS_SA.exec(v);
      if (short) id = workloadId(trustDomain, short[1]!, short[3]!).uri;
      const kind = parseSpiffeId(id).trustDomain !== trustDomain ? 'foreign' : reservedKind(id, trustDomain);
      if (kind === 'foreign') why = `outside the CA's trust domain ${trustDomain}`;
      else if (kind === undefined) why = 'is not reserved, so it needs no grant';
      else if (NEVER_GRANTED.has(kind)) why = `can never be granted: ${WHY[kind]}`;
    } catch (e) {
      why = (e as Error).message;
    }
    if (why !== undefined) throw new ConfigError('invalid_flag', `--grant-reserved-id "${v}": ${why}`);
    granted.add(id);
  }
  return granted;
}
