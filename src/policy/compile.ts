// Compiles a policy set once per version into indexes the decision (decide.ts) reads per connection: nothing is
// parsed, and no list of patterns is walked, per connection. Pure.
// Invariants:
// - Four groups, each with its own index: enforced DENY, enforced ALLOW, dry-run DENY, dry-run ALLOW. A dry-run
//   policy is never in an enforced group, so it cannot change a decision.
// - A rule is found from a peer's ID by at most (path depth + 3) map lookups: its exact ID, each of its path prefixes
//   ("spiffe://td/ns/shop/*"), its namespace, and the rules that name no peer at all.
// - Policies are ordered by "namespace/name" within a group; the first one matching is the one a decision names.
import { parseSpiffePattern, parseSpiffeId, type SpiffePattern } from '../pki/spiffe-id.js';
import { LOCAL_POLICY, policyKey, type AuthorizationPolicy, type MeshDefault, type PolicySet } from './model.js';
import { selects, sortPolicies } from './policy-set.js';

/** One rule of one policy of a group: the policy's index in its group and the ports it covers (undefined: all). */
export interface CompiledRule {
  readonly policy: number;
  readonly ports: ReadonlySet<number> | undefined;
}

/** The rules of one group, indexed by what their `from` names. */
export interface PolicyGroup {
  /** "namespace/name" of each policy, in order. */
  readonly names: readonly string[];
  readonly rules: readonly CompiledRule[];
  /** `td\0path` of an exact principal → rules. */
  readonly exact: ReadonlyMap<string, readonly number[]>;
  /** `td\0prefix/` of a principal ending in /* → rules. */
  readonly prefix: ReadonlyMap<string, readonly number[]>;
  /** A namespace of the workload's trust domain → rules. */
  readonly namespaces: ReadonlyMap<string, readonly number[]>;
  /** Rules with no `from`: they match any peer, plaintext callers included. */
  readonly anyPeer: readonly number[];
  /** Per policy: the ports its rules cover, or undefined when some rule (or no rules at all) covers every port. */
  readonly coverage: readonly (ReadonlySet<number> | undefined)[];
  /** The first policy that covers every port (-1: none), and per port the first that names it. */
  readonly coversAll: number;
  readonly coversPort: ReadonlyMap<number, number>;
}

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
  return { names: policies.map(policyKey), rules, exact, prefix, namespaces, anyPeer, coverage, coversAll: coverage.findIndex((c) => c === undefined), coversPort };
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
  });
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
