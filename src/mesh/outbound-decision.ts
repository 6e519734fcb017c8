// The transparent outbound's decision for one connection (docs/design.md "Mesh stream", the outbound): the static
// rules first, then membership, then the outbound policy. Pure; tested with a table. Invariant: a destination that
// membership says is meshed, or any destination while membership is not known, is never sent plain.
import type { SpiffePattern } from '../pki/spiffe-id.js';
import type { OutboundPolicy } from './kinds.js';
import type { MeshMatch } from './membership-set.js';

/** What the sidecar's own configuration says of a destination (transparent.passthrough, transparent.expect). */
export type StaticRoute =
  | { kind: 'passthrough'; because: 'cidr' | 'port' }
  | { kind: 'expect'; expect: SpiffePattern; rule: string }
  | { kind: 'none' };

/** What the sidecar knows of membership now. */
export type MembershipView =
  /** Nothing yet (the sidecar is not ready): every destination is taken as meshed. */
  | { state: 'awaiting' }
  /** The CA serves no mesh stream (an older CA): every destination is meshed, as before membership existed. */
  | { state: 'unsupported' }
  | { state: 'known'; match: MeshMatch | undefined };

export type OutboundDecision =
  | { action: 'plain'; because: 'cidr' | 'port' | 'not_meshed' }
  /** `expect` empty: any ID of the trust domain. */
  | { action: 'mtls'; because: 'expect' | 'meshed' | 'membership_awaited' | 'membership_unsupported'; expect: readonly SpiffePattern[]; rule?: string }
  | { action: 'refuse'; reason: 'destination_not_meshed' };

const ANY: readonly SpiffePattern[] = Object.freeze([]);

/**
 * Decides one connection. `membership` is asked only when no static rule decides (a lookup per connection costs
 * nothing then). Static passthrough wins, then `expect` (mTLS with that ID, meshed or not), then membership: a
 * meshed destination gets mTLS, strict, with no fallback; anything else follows the outbound policy.
 */
export function decideOutbound(route: StaticRoute, membership: () => MembershipView, policy: OutboundPolicy): OutboundDecision {
  if (route.kind === 'passthrough') return { action: 'plain', because: route.because };
  if (route.kind === 'expect') return { action: 'mtls', because: 'expect', expect: [route.expect], rule: route.rule };
  const m = membership();
  if (m.state === 'awaiting') return { action: 'mtls', because: 'membership_awaited', expect: ANY };
  if (m.state === 'unsupported') return { action: 'mtls', because: 'membership_unsupported', expect: ANY };
  if (m.match) return { action: 'mtls', because: 'meshed', expect: m.match.expect, rule: m.match.key };
  return policy === 'registry-only' ? { action: 'refuse', reason: 'destination_not_meshed' } : { action: 'plain', because: 'not_meshed' };
}
