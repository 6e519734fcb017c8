// Inbound authorization: one pure decision over the peer's SPIFFE ID and the listener's policy.
// Rules are OR'ed; anything not allowed ends in an explicit deny (as ghostunnel's ACL in auth/auth.go,
// https://github.com/ghostunnel/ghostunnel/blob/master/auth/auth.go).
import { parseSpiffeId, parseSpiffePattern, matchesPattern, type SpiffeId, type SpiffePattern } from '../pki/spiffe-id.js';

/** A compiled, immutable policy for one inbound listener. */
export interface AuthzPolicy {
  /** Our own trust domain: the open default allows exactly this. */
  readonly trustDomain: string;
  /** When present (even empty) it is exhaustive: only matching IDs pass, whatever defaultPolicy says. */
  readonly allow?: readonly SpiffePattern[];
  /** Applies only without an allow list: `allow` admits the whole trust domain, `deny` refuses everyone. */
  readonly defaultPolicy: 'allow' | 'deny';
}

/** Why a peer was admitted or refused. `reason` of a refusal is the stable reason code of the data path. */
export type AuthzDecision =
  | { allow: true; reason: 'allow_rule' | 'trust_domain'; rule?: string }
  | { allow: false; reason: 'spiffe_id_denied'; detail: 'no_spiffe_id' | 'invalid_spiffe_id' | 'foreign_trust_domain' | 'no_matching_rule' | 'default_deny' };

/** Compiles config strings into a policy; throws PkiError `invalid_spiffe_pattern` on a bad rule. */
export function compilePolicy(trustDomain: string, allow: readonly string[] | undefined, defaultPolicy: 'allow' | 'deny'): AuthzPolicy {
  return Object.freeze({
    trustDomain,
    ...(allow ? { allow: Object.freeze(allow.map(parseSpiffePattern)) } : {}),
    defaultPolicy,
  });
}

/** True when the policy admits any identity of the trust domain (the open default, logged at startup). */
export function isOpenPolicy(policy: AuthzPolicy): boolean {
  return !policy.allow && policy.defaultPolicy === 'allow';
}

/** Decides whether `peerId` (the verified URI SAN, or undefined) may connect. Pure. */
export function authorize(peerId: string | undefined, policy: AuthzPolicy): AuthzDecision {
  if (peerId === undefined) return { allow: false, reason: 'spiffe_id_denied', detail: 'no_spiffe_id' };
  let id: SpiffeId;
  try {
    id = parseSpiffeId(peerId);
  } catch {
    return { allow: false, reason: 'spiffe_id_denied', detail: 'invalid_spiffe_id' };
  }
  if (policy.allow) {
    for (const rule of policy.allow) {
      if (matchesPattern(id, rule)) return { allow: true, reason: 'allow_rule', rule: rule.text };
    }
    return { allow: false, reason: 'spiffe_id_denied', detail: 'no_matching_rule' };
  }
  if (policy.defaultPolicy === 'deny') return { allow: false, reason: 'spiffe_id_denied', detail: 'default_deny' };
  if (id.trustDomain !== policy.trustDomain) return { allow: false, reason: 'spiffe_id_denied', detail: 'foreign_trust_domain' };
  return { allow: true, reason: 'trust_domain' };
}

/**
 * Whom an outbound expects at its upstream: one pattern (an `expect` of the configuration), or any of several (the
 * identities membership names for a meshed destination). Undefined (or an empty list): any ID of our trust domain.
 */
export type ServerExpectation = SpiffePattern | readonly SpiffePattern[];

/** The expectation as logs, errors and pool keys spell it; undefined for "any ID of the trust domain". */
export function expectationText(expect: ServerExpectation | undefined): string | undefined {
  if (expect === undefined) return undefined;
  if (!Array.isArray(expect)) return (expect as SpiffePattern).text;
  return expect.length ? expect.map((p) => p.text).join(' | ') : undefined;
}

/** Checks a server's ID against the expectation, or our trust domain without one. Pure. */
export function serverIdMatches(peerId: string | undefined, expect: ServerExpectation | undefined, trustDomain: string): boolean {
  if (peerId === undefined) return false;
  let id: SpiffeId;
  try {
    id = parseSpiffeId(peerId);
  } catch {
    return false;
  }
  if (expect === undefined || (Array.isArray(expect) && expect.length === 0)) return id.trustDomain === trustDomain;
  return Array.isArray(expect) ? expect.some((p: SpiffePattern) => matchesPattern(id, p)) : matchesPattern(id, expect as SpiffePattern);
}
