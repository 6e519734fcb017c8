// Compiles a policy set once per version into indexes the decision (decide.ts) reads per connection: nothing is
// parsed, and no list of patterns is walked, per connection. Pure.
// Invariants:
// - Four groups, each with its own index: enforced DENY, enforced ALLOW, dry-run DENY, dry-run ALLOW. A dry-run
//   policy is never in an enforced group, so it cannot change a decision.
// - A rule is found from a peer's ID by at most (path depth + 3) map lookups: its exact ID, each of its path prefixes
//   ("spiffe://td/ns/shop/*"), its namespace, and the rules that name no peer at all; each entry answers "the first
//   policy here for port P" with one more lookup (byPort), so a decision never walks a list of rules.
// - Policies are ordered by "namespace/name" within a group; the first one matching is the one a decision names. Rules
//   are numbered in policy order, and every index list holds rule numbers in ascending order (a decision stops early).
import { parseSpiffePattern, parseSpiffeId, type SpiffeId, type SpiffePattern } from '../pki/spiffe-id.js';
import { LOCAL_POLICY, policyKey, type AuthorizationPolicy, type MeshDefault, type PolicySet } from './model.js';
import { selects, sortPolicies } from './policy-set.js';

/** One rule of one policy of a group: the policy's index in its group and the ports it covers (undefined: all). */
export interface CompiledRule {
  readonly policy: number;
  readonly ports: ReadonlySet<number> | undefined;
}

/** The rules one index key leads to: all of them in order, and the first policy among them per port (a lookup, no scan). */
export interface RuleIndex {
  readonly rules: readonly number[];
  /** The first policy with a rule here that covers every port; -1 when none. */
  readonly anyPort: number;
  /** Per port, the first policy with a rule here that names it. */
  readonly byPort: ReadonlyMap<number, number>;
}

/** The rules of one group, indexed by what their `from` names. */
export interface PolicyGroup {
  /** "namespace/name" of each policy, in order. */
  readonly names: readonly string[];
  readonly rules: readonly CompiledRule[];
  /** `td\0path` of an exact principal → rules. */
  readonly exact: ReadonlyMap<string, RuleIndex>;
  /** `td\0prefix/` of a principal ending in /* → rules. */
  readonly prefix: ReadonlyMap<string, RuleIndex>;
  /** A namespace of the workload's trust domain → rules. */
  readonly namespaces: ReadonlyMap<string, RuleIndex>;
  /** Rules with no `from`: they match any peer, plaintext callers included. */
  readonly anyPeer: RuleIndex;
  /** Per policy: the ports its rules cover, or undefined when some rule (or no rules at all) covers every port. */
  readonly coverage: readonly (ReadonlySet<number> | undefined)[];
  /** The first policy that covers every port (-1: none), and per port the first that names it. */
  readonly coversAll: number;
  readonly coversPort: ReadonlyMap<number, number>;
}

/** A peer's ID and every index key it can match (built once per peer, then read by every group of every decision). */
export interface PeerKeys {
  readonly id: SpiffeId;
  /** `td\0path`: the exact key. */
  readonly exact: string;
  /** `td\0prefix/` of each of its path prefixes: the keys of principals ending in /* that can match it. */
  readonly prefixes: readonly string[];
  /** The namespace of an ID of the workload's trust domain of the form /ns/<ns>/... */
  readonly ns: string | undefined;
}

/** Peers remembered per compiled set; past it the memo starts over (a flood of distinct IDs cannot grow it). */
export const MAX_PEER_MEMO = 4_096;

/** A set compiled for one workload (or one sidecar: the CA has chosen its policies already). */
export interface CompiledPolicies {
  /** The workload's trust domain: the mesh default admits it, and `namespaces` name namespaces within it. */
  readonly trustDomain: string;
  readonly defaultPolicy: MeshDefault;
  /** The policies in force (enforced and dry-run), sorted. */
  readonly policies: readonly AuthorizationPolicy[];
  readonly deny: PolicyGroup;
  readonly allow: PolicyGroup;
  readonly dryRunDeny: PolicyGroup;
  readonly dryRunAllow: PolicyGroup;
  /**
   * peerKeys()'s memo: the index keys of the peers seen, by ID. Fresh key strings cost a hash each per lookup; a peer
   * seen before costs one lookup here, and its keys' hashes are cached in the strings.
   */
  readonly peers: Map<string, PeerKeys | null>;
}

/** A sidecar's own allow list (config `allow`, annotation `ztmesh.io/allow`): one more ALLOW policy, named `local`. */
export interface LocalPolicy {
  readonly name: typeof LOCAL_POLICY;
  /** Empty: it allows nobody (`defaultPolicy: deny` without a list). */
  readonly patterns: readonly SpiffePattern[];
}

const push = (m: Map<string, number[]>, k: string, v: number) => {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
};

function compileGroup(policies: readonly AuthorizationPolicy[]): PolicyGroup {
  const rules: CompiledRule[] = [];
  const exact = new Map<string, number[]>();
  const prefix = new Map<string, number[]>();
  const namespaces = new Map<string, number[]>();
  const anyPeer: number[] = [];
  const coverage: (Set<number> | undefined)[] = [];
  policies.forEach((p, i) => {
    let covered: Set<number> | undefined = p.rules.length === 0 ? undefined : new Set();
    for (const r of p.rules) {
      const ports = r.to ? new Set(r.to.flatMap((o) => o.ports)) : undefined;
      if (!ports) covered = undefined;
      else if (covered) for (const port of ports) covered.add(port);
      const id = rules.push({ policy: i, ports }) - 1;
      if (!r.from) {
        anyPeer.push(id);
        continue;
      }
      for (const s of r.from) {
        for (const text of s.principals ?? []) {
          const pat = parseSpiffePattern(text);
          push(pat.prefix ? prefix : exact, `${pat.trustDomain}\0${pat.path}`, id);
        }
        for (const ns of s.namespaces ?? []) push(namespaces, ns, id);
      }
    }
    coverage.push(covered);
  });
  const coversPort = new Map<number, number>();
  coverage.forEach((c, i) => { for (const port of c ?? []) if (!coversPort.has(port)) coversPort.set(port, i); });
  const index = (list: number[]): RuleIndex => {
    let anyPort = -1;
    const byPort = new Map<number, number>();
    // Ascending rule numbers are ascending policies: the first one seen is the first policy.
    for (const r of list) {
      const rule = rules[r]!;
      if (!rule.ports) {
        if (anyPort < 0) anyPort = rule.policy;
      } else for (const port of rule.ports) if (!byPort.has(port)) byPort.set(port, rule.policy);
    }
    return { rules: list, anyPort, byPort };
  };
  const indexAll = (m: Map<string, number[]>) => new Map([...m].map(([k, list]) => [k, index(list)]));
  return {
    names: policies.map(policyKey), rules, exact: indexAll(exact), prefix: indexAll(prefix), namespaces: indexAll(namespaces), anyPeer: index(anyPeer),
    coverage, coversAll: coverage.findIndex((c) => c === undefined), coversPort,
  };
}

/**
 * Compiles a set. With `workload`, only the policies that select it are kept (the CLI, over every policy); a sidecar
 * passes none, as the CA sent it only its own. Throws only on a policy that parse.ts would have refused.
 */
export function compilePolicies(set: PolicySet, opts: { trustDomain: string; workload?: string }): CompiledPolicies {
  const selected = sortPolicies(opts.workload === undefined ? set.policies : set.policies.filter((p) => selects(p, opts.workload!)));
  const of = (action: 'ALLOW' | 'DENY', dryRun: boolean) => compileGroup(selected.filter((p) => p.action === action && p.dryRun === dryRun));
  return Object.freeze({
    trustDomain: opts.trustDomain,
    defaultPolicy: set.defaultPolicy,
    policies: selected,
    deny: of('DENY', false),
    allow: of('ALLOW', false),
    dryRunDeny: of('DENY', true),
    dryRunAllow: of('ALLOW', true),
    peers: new Map(),
  });
}

/** The index keys of `peerId` under `c` (memoized); null for a string that is no SPIFFE ID. */
export function peerKeys(c: CompiledPolicies, peerId: string): PeerKeys | null {
  const known = c.peers.get(peerId);
  if (known !== undefined) return known;
  let keys: PeerKeys | null = null;
  try {
    const id = parseSpiffeId(peerId);
    const { path } = id;
    const prefixes: string[] = [];
    for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) prefixes.push(`${id.trustDomain}\0${path.slice(0, i + 1)}`);
    let ns: string | undefined;
    if (id.trustDomain === c.trustDomain && path.startsWith('/ns/')) {
      const end = path.indexOf('/', 4);
      ns = path.slice(4, end < 0 ? undefined : end);
    }
    keys = { id, exact: `${id.trustDomain}\0${path}`, prefixes, ns };
  } catch {
    keys = null;
  }
  if (c.peers.size >= MAX_PEER_MEMO) c.peers.clear();
  c.peers.set(peerId, keys);
  return keys;
}

/** The trust domain of a workload ID (the CLI's --to); throws PkiError on an invalid ID. */
export function trustDomainOf(workloadId: string): string {
  return parseSpiffeId(workloadId).trustDomain;
}

/**
 * A listener's own policy: its allow list is an ALLOW policy named `local` on its port; `defaultPolicy: deny` without
 * a list an ALLOW policy that allows nobody; neither (the open default) no policy at all. Throws PkiError
 * `invalid_spiffe_pattern` on a bad pattern.
 */
export function compileLocal(allow: readonly string[] | undefined, defaultPolicy: 'allow' | 'deny'): LocalPolicy | undefined {
  if (allow) return Object.freeze({ name: LOCAL_POLICY, patterns: Object.freeze(allow.map(parseSpiffePattern)) });
  return defaultPolicy === 'deny' ? Object.freeze({ name: LOCAL_POLICY, patterns: Object.freeze([]) }) : undefined;
}
