// Inbound authorization in the sidecar: every raw connection, tunnel connection and tunnel stream (and every live one
// when the policy changes) is decided by the one decision of policy/decide.ts, over the set the CA sent this sidecar
// (sidecar/mesh/sidecar-policy.ts) and the listener's own allow list (the ALLOW policy named `local`). Also the
// outbound's check of the server's ID. Pure functions plus the one authorizer that counts and logs decisions. Rules
// are OR'ed and anything not allowed ends in an explicit deny.
import type { Clock } from '../common/clock.js';
import { KeyedLogThrottle } from '../common/log-throttle.js';
import type { Logger } from '../common/logger.js';
import { matchesPattern, parseSpiffeId, type SpiffeId, type SpiffePattern } from '../pki/spiffe-id.js';
import { compileLocal, compilePolicies, type LocalPolicy } from '../policy/compile.js';
import { decide, dryRunDifferences, type Decision } from '../policy/decide.js';
import { LOCAL_POLICY, MESH_DEFAULT_POLICY } from '../policy/model.js';
import type { DataPathMetrics } from './datapath-metrics.js';
import type { PolicyView } from './mesh/sidecar-policy.js';
import { REASONS } from './reasons.js';

/** One inbound listener's own policy, compiled from its config (`allow`, `defaultPolicy`). */
export interface AuthzPolicy {
  readonly trustDomain: string;
  /** The ALLOW policy `local`, or undefined when the listener sets neither an allow list nor `defaultPolicy: deny`. */
  readonly local: LocalPolicy | undefined;
}

/** Why a peer was admitted or refused; `reason` of a refusal is the data path's stable code. */
export type AuthzDecision =
  | { allow: true; policy: string; decision: Decision }
  | { allow: false; reason: typeof REASONS.spiffeIdDenied | typeof REASONS.noPolicy; policy: string; detail: string; decision?: Decision };

/** Compiles a listener's config into its policy; throws PkiError `invalid_spiffe_pattern` on a bad pattern. */
export function compilePolicy(trustDomain: string, allow: readonly string[] | undefined, defaultPolicy: 'allow' | 'deny'): AuthzPolicy {
  return Object.freeze({ trustDomain, local: compileLocal(allow, defaultPolicy) });
}

/** True when the listener adds nothing of its own: the CA's policies and the mesh default decide (logged at startup). */
export function isOpenPolicy(policy: AuthzPolicy): boolean {
  return policy.local === undefined;
}

/** The view of a sidecar that has no policy stream (the data path alone, in tests): the open mesh default. */
export function openPolicyView(trustDomain: string): PolicyView {
  return { state: 'unsupported', compiled: compilePolicies({ defaultPolicy: 'allow', policies: [] }, { trustDomain }), version: '' };
}

/**
 * Decides whether `peerId` (the verified URI SAN; undefined for a plaintext caller) may reach the workload's `port`
 * through a listener with `policy`, under the sidecar's policy `view`. Pure. Before the first policy set, nothing is
 * admitted (`no_policy`: the mesh default is not known yet).
 */
export function authorize(peerId: string | undefined, policy: AuthzPolicy, view: PolicyView, port: number | undefined): AuthzDecision {
  if (view.state === 'awaiting') {
    return { allow: false, reason: REASONS.noPolicy, policy: MESH_DEFAULT_POLICY, detail: 'no authorization policy from the CA yet: refusing every inbound connection (fail closed)' };
  }
  const decision = decide(view.compiled, { peerId, port }, policy.local);
  if (decision.allow) return { allow: true, policy: decision.policy, decision };
  const why = `${decision.reason} (policy ${decision.policy})`;
  // A plaintext caller of permissive mode has no identity: say so, or the line reads like an ID that matched nothing.
  const detail = peerId === undefined ? `a plaintext client (permissive mode) has no identity: ${why}` : why;
  return { allow: false, reason: REASONS.spiffeIdDenied, policy: decision.policy, detail, decision };
}

/** Distinct policy names a sidecar's metrics label before the rest count as `other` (names of past sets stay). */
export const MAX_POLICY_LABELS = 256;

/** The label of every policy name past the bound. */
export const OTHER_POLICY_LABEL = 'other';

/** The metrics of inbound authorization, two of the data path's families (datapath-metrics.ts). */
export type AuthzMetrics = Pick<DataPathMetrics, 'authzDecisions' | 'authzDryRun'>;

/** Who asks: the peer's address (for logs), its ID, the workload port and the listener's own policy. */
export interface AuthzRequest {
  peer: string;
  peerId: string | undefined;
  port: number | undefined;
  policy: AuthzPolicy;
}

/**
 * The one inbound authorization step of a sidecar: reads the policy in force, decides, counts the decision and every
 * dry-run outcome, and logs (20 lines per 10 s per policy) what a dry-run policy would have decided differently. The
 * refusal line itself is the data path's (it names the deciding policy, the workload and the port).
 */
export class InboundAuthorizer {
  private readonly labels = new Set<string>();
  private readonly dryRunLines: KeyedLogThrottle;
  private readonly maxPolicyLabels: number;

  /** `maxPolicyLabels` (default MAX_POLICY_LABELS): distinct policy names labelled before the rest count as `other`. */
  constructor(private readonly deps: { view: () => PolicyView; metrics: AuthzMetrics; clock: Clock; log: Logger; workload: () => string | undefined; maxPolicyLabels?: number }) {
    this.dryRunLines = new KeyedLogThrottle(deps.clock);
    this.maxPolicyLabels = deps.maxPolicyLabels ?? MAX_POLICY_LABELS;
  }

  /** The policy view in force. */
  view(): PolicyView {
    return this.deps.view();
  }

  /** This sidecar's own SPIFFE ID (the workload), for log lines. */
  workload(): string | undefined {
    return this.deps.workload();
  }

  check(req: AuthzRequest): AuthzDecision {
    const d = authorize(req.peerId, req.policy, this.deps.view(), req.port);
    this.deps.metrics.authzDecisions.inc({ result: d.allow ? 'allow' : 'deny', policy: this.label(d.policy) });
    const dryRun = d.decision?.dryRun ?? [];
    if (dryRun.length) {
      for (const o of dryRun) this.deps.metrics.authzDryRun.inc({ policy: this.label(o.policy), would: o.would });
      for (const o of dryRunDifferences(d.decision!)) {
        const suppressed = this.dryRunLines.admit(o.policy);
        if (suppressed === undefined) continue;
        this.deps.log.info({
          peer: req.peer, peerId: req.peerId ?? null, workload: this.deps.workload() ?? null, port: req.port ?? null, policy: o.policy, would: o.would,
          decision: d.allow ? 'allow' : 'deny', decidedBy: d.policy, ...(suppressed ? { suppressed } : {}),
        }, `authz dry run: ${o.policy} would ${o.would} this connection (not enforced)`);
      }
    }
    return d;
  }

  /** Decides an established connection or stream again, under the policy in force now; counts nothing. */
  recheck(peerId: string | undefined, policy: AuthzPolicy, port: number | undefined): AuthzDecision {
    return authorize(peerId, policy, this.deps.view(), port);
  }

  /** What a refusal's (or a revocation's) line says beyond the reason: the detail, the deciding policy, the workload and port. */
  fields(d: AuthzDecision & { allow: false }, port: number | undefined): { detail: string; policy: string; workload: string | undefined; port: number | undefined } {
    return { detail: d.detail, policy: d.policy, workload: this.deps.workload(), port };
  }

  /** Counts a connection or stream closed because a change no longer allows it. */
  revoked(policy: string): void {
    this.deps.metrics.authzDecisions.inc({ result: 'revoked', policy: this.label(policy) });
  }

  /** The policy name as a label: the first maxPolicyLabels names seen, `local` and `mesh-default` always, else `other`. */
  private label(policy: string): string {
    if (policy === LOCAL_POLICY || policy === MESH_DEFAULT_POLICY || this.labels.has(policy)) return policy;
    if (this.labels.size >= this.maxPolicyLabels) return OTHER_POLICY_LABEL;
    this.labels.add(policy);
    return policy;
  }
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
