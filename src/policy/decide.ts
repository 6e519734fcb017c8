// The authorization decision for one connection or tunnel stream, from peer X to workload W on port P (docs/design.md
// "Authorization policy"). Pure; the sidecar, `ztmesh policy explain` and the tests all call this one function.
// Invariants:
// - An enforced DENY that matches decides: nothing else can allow then ("DENY wins").
// - Else, when an enforced ALLOW policy (or the listener's `local` one) applies to port P, the connection is allowed
//   only if one of them matches; else the mesh default decides (`allow` admits the workload's trust domain).
// - Dry-run policies only add outcomes to `dryRun`; the decision is the same with or without them.
// - A plaintext caller (no peer ID) matches only rules that name no peer.
import { matchesPattern } from '../pki/spiffe-id.js';
import { peerKeys, type CompiledPolicies, type LocalPolicy, type PeerKeys, type PolicyGroup, type RuleIndex } from './compile.js';
import { LOCAL_POLICY, MESH_DEFAULT_POLICY } from './model.js';

/** Who connects to which port of the workload. `port` undefined: a port no rule names (explain without --port). */
export interface DecisionRequest {
  /** The peer's SPIFFE ID from its verified certificate; undefined for a plaintext caller (permissive mode). */
  peerId: string | undefined;
  port: number | undefined;
}

export type DecisionReason =
  | 'deny_matched'
  | 'allow_matched'
  /** ALLOW policies apply to the port and none matched. */
  | 'no_allow_matched'
  | 'mesh_default'
  /** The mesh default `allow` admits only the workload's own trust domain. */
  | 'foreign_trust_domain'
  | 'invalid_spiffe_id';

/** What one dry-run policy that applies would have decided, had it been enforced. */
export interface DryRunOutcome {
  policy: string;
  would: 'allow' | 'deny';
}

export interface Decision {
  allow: boolean;
  /** The deciding policy: "namespace/name", `local` or `mesh-default`. */
  policy: string;
  reason: DecisionReason;
  /** Every dry-run policy that applies, and what it would decide. */
  dryRun: readonly DryRunOutcome[];
}

const NONE: readonly DryRunOutcome[] = Object.freeze([]);

type Peer = PeerKeys;

const portMatches = (ports: ReadonlySet<number> | undefined, port: number | undefined) => ports === undefined || (port !== undefined && ports.has(port));

/** The first policy an index entry leads to for `port`, or `best` when that is lower (or the entry has none). */
function lowest(entry: RuleIndex | undefined, port: number | undefined, best: number): number {
  if (entry === undefined) return best;
  const byPort = port === undefined ? undefined : entry.byPort.get(port);
  let first = entry.anyPort;
  if (byPort !== undefined && (first < 0 || byPort < first)) first = byPort;
  return first >= 0 && (best < 0 || first < best) ? first : best;
}

/** The first policy of `g` with a rule matching the peer (rules naming no peer included) and port; -1 when none. */
function firstMatch(g: PolicyGroup, peer: Peer | undefined, port: number | undefined): number {
  if (g.rules.length === 0) return -1;
  let best = lowest(g.anyPeer, port, -1);
  if (!peer) return best;
  best = lowest(g.exact.get(peer.exact), port, best);
  if (g.prefix.size) for (const k of peer.prefixes) best = lowest(g.prefix.get(k), port, best);
  if (peer.ns !== undefined && g.namespaces.size) best = lowest(g.namespaces.get(peer.ns), port, best);
  return best;
}

/** Every policy of `g` with a rule matching the peer and port. */
function allMatches(g: PolicyGroup, peer: Peer | undefined, port: number | undefined): Set<number> {
  const out = new Set<number>();
  const add = (entry: RuleIndex | undefined) => {
    for (const r of entry?.rules ?? []) if (portMatches(g.rules[r]!.ports, port)) out.add(g.rules[r]!.policy);
  };
  add(g.anyPeer);
  if (peer) {
    add(g.exact.get(peer.exact));
    for (const k of peer.prefixes) add(g.prefix.get(k));
    if (peer.ns !== undefined) add(g.namespaces.get(peer.ns));
  }
  return out;
}

/** The first policy of `g` that covers `port`; -1 when none. */
function firstCovering(g: PolicyGroup, port: number | undefined): number {
  const byPort = port === undefined ? undefined : g.coversPort.get(port);
  if (byPort === undefined) return g.coversAll;
  return g.coversAll < 0 ? byPort : Math.min(byPort, g.coversAll);
}

const covers = (g: PolicyGroup, i: number, port: number | undefined) => portMatches(g.coverage[i], port);

/** Decides one connection or stream; see the invariants above. `local` is the listener's own allow list. */
export function decide(c: CompiledPolicies, req: DecisionRequest, local?: LocalPolicy): Decision {
  let peer: Peer | undefined;
  if (req.peerId !== undefined) {
    peer = peerKeys(c, req.peerId) ?? undefined;
    if (!peer) return { allow: false, policy: MESH_DEFAULT_POLICY, reason: 'invalid_spiffe_id', dryRun: NONE };
  }
  const { port } = req;
  let decision: Decision;
  const deny = firstMatch(c.deny, peer, port);
  if (deny >= 0) decision = { allow: false, policy: c.deny.names[deny]!, reason: 'deny_matched', dryRun: NONE };
  else {
    const allow = firstMatch(c.allow, peer, port);
    if (allow >= 0) decision = { allow: true, policy: c.allow.names[allow]!, reason: 'allow_matched', dryRun: NONE };
    else if (local && peer && local.patterns.some((p) => matchesPattern(peer!.id, p))) decision = { allow: true, policy: LOCAL_POLICY, reason: 'allow_matched', dryRun: NONE };
    else {
      const applies = firstCovering(c.allow, port);
      if (applies >= 0 || local) decision = { allow: false, policy: applies >= 0 ? c.allow.names[applies]! : LOCAL_POLICY, reason: 'no_allow_matched', dryRun: NONE };
      else if (c.defaultPolicy === 'deny') decision = { allow: false, policy: MESH_DEFAULT_POLICY, reason: 'mesh_default', dryRun: NONE };
      else if (peer && peer.id.trustDomain !== c.trustDomain) decision = { allow: false, policy: MESH_DEFAULT_POLICY, reason: 'foreign_trust_domain', dryRun: NONE };
      else decision = { allow: true, policy: MESH_DEFAULT_POLICY, reason: 'mesh_default', dryRun: NONE };
    }
  }
  if (c.dryRunDeny.names.length === 0 && c.dryRunAllow.names.length === 0) return decision;
  const outcomes: DryRunOutcome[] = [];
  for (const i of allMatches(c.dryRunDeny, peer, port)) outcomes.push({ policy: c.dryRunDeny.names[i]!, would: 'deny' });
  if (c.dryRunAllow.names.length) {
    const matched = allMatches(c.dryRunAllow, peer, port);
    c.dryRunAllow.names.forEach((name, i) => {
      if (!covers(c.dryRunAllow, i, port)) return;
      // Enforced, this ALLOW would allow what it matches (unless a DENY matched) and deny what no ALLOW matched.
      const would = decision.reason === 'deny_matched' ? 'deny' : matched.has(i) || decision.reason === 'allow_matched' ? 'allow' : 'deny';
      outcomes.push({ policy: name, would });
    });
  }
  return outcomes.length ? { ...decision, dryRun: outcomes } : decision;
}

/** The dry-run outcomes that differ from the decision: what `explain` shows and the sidecar logs. */
export function dryRunDifferences(d: Decision): DryRunOutcome[] {
  return d.dryRun.filter((o) => (o.would === 'allow') !== d.allow);
}
