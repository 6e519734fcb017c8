// The authorization policy a sidecar holds (docs/design.md "Authorization policy"): the consumer of the policy kind,
// compiled once per version for the inbound's decision, the readiness part "mesh-policy", and the copy kept in
// identity.stateDir. Invariants:
// - Until the first set (from the CA, or kept from a previous run) the state is `awaiting`: the sidecar cannot know the
//   mesh default, so every inbound connection is refused (`no_policy`, fail closed) and it is not ready.
// - An update is decoded and compiled whole before it replaces the set in force (one reference swap); a refused one is
//   NACKed and the set stays. A CA outage changes nothing: the last set stays in force, and across a restart too.
// - A CA without the mesh stream makes the state `unsupported`: no central policy, the mesh default `allow` (as before
//   policies existed); the listeners' own allow lists still apply.
import path from 'node:path';
import type { Clock } from '../../common/clock.js';
import { describe } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { Readiness } from '../../common/readiness.js';
import type { MeshUpdate, Refusal } from '../../mesh/codec.js';
import { MESH_KINDS } from '../../mesh/kinds.js';
import { compilePolicies, type CompiledPolicies } from '../../policy/compile.js';
import { policyKey, type PolicySet } from '../../policy/model.js';
import type { MeshConsumer } from '../../identity/mesh-client.js';
import { readKeptUpdate, writeKeptUpdate } from './kept-update.js';

/** The file in identity.stateDir. */
export const POLICY_FILE = 'policy.json';
/** The readiness part held until the first set. */
export const POLICY_READINESS = 'mesh-policy';

/** What the inbound's decision reads per connection. */
export type PolicyView =
  | { state: 'awaiting' }
  | { state: 'known' | 'unsupported'; compiled: CompiledPolicies; version: string };

/** Where the set in force came from. */
export type PolicySource = 'ca' | 'state-dir';

/** /status `authz`. */
export interface PolicyStatus {
  state: PolicyView['state'];
  source: PolicySource | null;
  version: string | null;
  receivedAtMs: number | null;
  defaultPolicy: string | null;
  /** "namespace/name" of every policy in force, dry-run ones included. */
  policies: string[];
  dryRun: string[];
  lastRefusal: (Refusal & { version: string; atMs: number }) | null;
}

export interface SidecarPolicyOptions {
  trustDomain: string;
  clock: Clock;
  log: Logger;
  /** Registers "mesh-policy" when the sidecar serves inbound connections (one without inbound waits for nothing). */
  readiness?: Readiness;
  /** identity.stateDir: the set is kept there across restarts. */
  stateDir?: string;
}

/** The mesh default of a CA that sends no policy: everything as before policies existed. */
const UNSUPPORTED: PolicySet = { defaultPolicy: 'allow', policies: [] };

/** The sidecar's policy; see the invariants above. */
export class SidecarPolicy implements MeshConsumer {
  readonly kind = MESH_KINDS.policy;
  private current: PolicyView = { state: 'awaiting' };
  private source: PolicySource | null = null;
  private receivedAtMs: number | null = null;
  private lastRefusal: PolicyStatus['lastRefusal'] = null;
  private readonly task: { ready(): void; notReady(): void } | undefined;
  private readonly listeners = new Set<(view: PolicyView) => void>();
  private saving = Promise.resolve();
  private readonly log: Logger;

  constructor(private readonly opts: SidecarPolicyOptions) {
    this.log = opts.log.child({ component: 'authz' });
    this.task = opts.readiness?.register(POLICY_READINESS);
  }

  /** The set in force now (one reference: read it once per decision). */
  view(): PolicyView {
    return this.current;
  }

  /** Calls `listener` after every change of the set in force (live revocation re-checks the open connections). */
  subscribe(listener: (view: PolicyView) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Loads the set kept in the state directory, if any: in force until the CA sends one. */
  async restore(): Promise<void> {
    if (!this.opts.stateDir) return;
    const kept = await readKeptUpdate(path.join(this.opts.stateDir, POLICY_FILE), MESH_KINDS.policy, this.log, 'authorization policy');
    // The CA may have been faster than the disk.
    if (kept?.kind !== MESH_KINDS.policy || this.current.state !== 'awaiting') return;
    this.swap(kept.policy, kept.version, 'state-dir');
  }

  apply(u: MeshUpdate): Refusal | undefined {
    if (u.kind !== MESH_KINDS.policy) return { code: 'unknown_kind', detail: u.kind };
    try {
      this.swap(u.policy, u.version, 'ca');
    } catch (e) {
      // parse.ts accepted every pattern already; a compile failure is a bug, and refusing keeps the set in force.
      const refusal = { code: 'malformed_policy', detail: describe(e).message };
      this.lastRefusal = { ...refusal, version: u.version, atMs: this.opts.clock.now() };
      return refusal;
    }
    this.save(u);
    return undefined;
  }

  unsupported(yes: boolean): void {
    if (yes && this.current.state === 'awaiting') {
      this.current = { state: 'unsupported', compiled: compilePolicies(UNSUPPORTED, { trustDomain: this.opts.trustDomain }), version: '' };
      this.task?.ready();
      this.log.warn('the CA serves no authorization policy (an older CA): the listeners\' own allow lists and the open default apply');
      this.notify();
    } else if (!yes && this.current.state === 'unsupported') {
      this.current = { state: 'awaiting' };
      this.task?.notReady();
      this.notify();
    }
  }

  status(): PolicyStatus {
    const c = this.current.state === 'awaiting' ? undefined : this.current.compiled;
    return {
      state: this.current.state, source: this.source, version: this.current.state === 'known' ? this.current.version : null, receivedAtMs: this.receivedAtMs,
      defaultPolicy: c?.defaultPolicy ?? null, policies: c?.policies.map(policyKey) ?? [], dryRun: c?.policies.filter((p) => p.dryRun).map(policyKey) ?? [],
      lastRefusal: this.lastRefusal,
    };
  }

  /** Waits for the writes in progress. */
  async close(): Promise<void> {
    await this.saving;
  }

  private swap(set: PolicySet, version: string, source: PolicySource): void {
    const compiled = compilePolicies(set, { trustDomain: this.opts.trustDomain });
    const before = this.current;
    this.current = { state: 'known', compiled, version };
    this.source = source;
    this.receivedAtMs = this.opts.clock.now();
    this.task?.ready();
    const names = compiled.policies.map(policyKey);
    if (before.state !== 'known' || before.version !== version) {
      this.log.info({ version, source, defaultPolicy: set.defaultPolicy, policies: names.slice(0, 50), count: names.length },
        source === 'ca' ? 'authorization policy applied: it decides from the next connection or tunnel stream' : 'authorization policy restored from the state directory; in force until the CA sends one');
    }
    this.notify();
  }

  private notify(): void {
    for (const l of [...this.listeners]) l(this.current);
  }

  private save(u: MeshUpdate): void {
    if (this.opts.stateDir) this.saving = writeKeptUpdate(path.join(this.opts.stateDir, POLICY_FILE), u, this.saving, this.log, 'authorization policy');
  }
}
