// The CA's AuthorizationPolicies: what each source (a policy file, a watched Kubernetes object) holds, merged into the
// set in force, with the problems of every object refused. Pure state (no I/O, no clock); the policy kind serves it.
// Invariants:
// - A source is replaced whole (build the new state completely, then swap): a file read, or one object's event.
// - A refused object keeps its last valid version in force: an object that names itself keeps that object's; a source
//   that cannot be read at all (broken YAML) keeps everything it held. A removed source takes its objects with it.
// - One name ("namespace/name") is in force once: the first source (by id) holding it wins; the others are refused.
// - With `awaitFeed`, nothing is served until the feed's first complete state (a partial set could admit or refuse
//   wrongly); sidecars keep what they hold meanwhile.
import { POLICY_LIMITS, policyKey, type AuthorizationPolicy, type MeshDefault } from '../../policy/model.js';
import type { ParsedFile, PolicyProblem } from '../../policy/parse.js';
import { sortPolicies } from '../../policy/policy-set.js';
import { ChangeSignal } from '../mesh/kind-source.js';

/** A policy in force and where it came from. */
export interface StoredPolicy {
  policy: AuthorizationPolicy;
  /** The file, or "kubernetes". */
  source: string;
}

/** A refused object, and whether an earlier valid version of it stays in force. */
export interface StoredProblem extends PolicyProblem {
  lastValidInForce: boolean;
}

/** One source's whole state: what it is called (a file's path, "kubernetes") and what it holds. */
export interface SourceUpdate {
  source: string;
  parsed: ParsedFile;
}

/** What writes into the store: the --policy-dir loader, or the Kubernetes watch. */
export interface PolicyWriter {
  /** Replaces sources (by id) whole, or removes them (undefined), as one change. */
  replaceSources(updates: ReadonlyMap<string, SourceUpdate | undefined>): void;
  /** The feed has written its first complete state. */
  complete(): void;
}

/** A source of policies from outside the CA's own flags (the Kubernetes watch, k8s/policy-watch.ts). */
export interface PolicyFeed {
  /** Starts writing; calls writer.complete() once its first full state is written. */
  start(writer: PolicyWriter): void;
  close(): Promise<void> | void;
}

interface SourceState {
  source: string;
  policies: Map<string, AuthorizationPolicy>;
  problems: PolicyProblem[];
  /** Keys kept from an earlier version because the new one was refused. */
  kept: Set<string>;
}

/** The CA's policies; see the invariants above. */
export class PolicyStore implements PolicyWriter {
  private readonly sources = new Map<string, SourceState>();
  private readonly signal = new ChangeSignal();
  private serving: boolean;
  private inForce: StoredPolicy[] = [];
  private refused: StoredProblem[] = [];
  private gen = 0;

  /**
   * @param onProblems told when a source's problems change (the CA logs them), with whether each refused object's
   * last valid version stays in force.
   */
  constructor(
    readonly defaultPolicy: MeshDefault,
    private readonly opts: { awaitFeed?: boolean; onProblems?: (source: string, problems: readonly StoredProblem[]) => void } = {},
  ) {
    this.serving = !opts.awaitFeed;
  }

  /** Grows with every change of what is in force or refused. */
  get generation(): number {
    return this.gen;
  }

  get served(): boolean {
    return this.serving;
  }

  complete(): void {
    if (this.serving) return;
    this.serving = true;
    this.changed();
  }

  replaceSources(updates: ReadonlyMap<string, SourceUpdate | undefined>): void {
    for (const [id, update] of updates) {
      const prev = this.sources.get(id);
      if (!update) {
        this.sources.delete(id);
        continue;
      }
      const { parsed } = update;
      const next: SourceState = { source: update.source, policies: new Map(), problems: parsed.problems, kept: new Set() };
      if (parsed.unreadable) {
        for (const [k, p] of prev?.policies ?? []) {
          next.policies.set(k, p);
          next.kept.add(k);
        }
      } else {
        for (const p of parsed.policies) next.policies.set(policyKey(p), p);
        for (const k of parsed.refusedKeys) {
          const old = prev?.policies.get(k);
          if (old && !next.policies.has(k)) {
            next.policies.set(k, old);
            next.kept.add(k);
          }
        }
      }
      this.sources.set(id, next);
      const sameProblems = JSON.stringify(prev?.problems ?? []) === JSON.stringify(next.problems) && prev?.kept.size === next.kept.size;
      if (!sameProblems) this.opts.onProblems?.(update.source, next.problems.map((p) => ({ ...p, lastValidInForce: keptFor(next, p) })));
    }
    this.rebuild();
  }

  /** The policies in force, sorted by name, with their sources. */
  policies(): readonly StoredPolicy[] {
    return this.inForce;
  }

  /** Every object refused now. */
  problems(): readonly StoredProblem[] {
    return this.refused;
  }

  /** Objects in force, and objects refused (`ztmesh_ca_policies{state}`). */
  counts(): { valid: number; invalid: number } {
    return { valid: this.inForce.length, invalid: new Set(this.refused.map((p) => `${p.source}\0${p.object}`)).size };
  }

  subscribe(listener: () => void): () => void {
    return this.signal.subscribe(listener);
  }

  private rebuild(): void {
    const byKey = new Map<string, StoredPolicy>();
    const refused: StoredProblem[] = [];
    for (const id of [...this.sources.keys()].sort()) {
      const s = this.sources.get(id)!;
      for (const p of s.problems) refused.push({ ...p, lastValidInForce: keptFor(s, p) });
      for (const [k, policy] of s.policies) {
        const { source } = s;
        const other = byKey.get(k);
        if (other) {
          refused.push({ source, object: k, field: 'metadata.name', message: `also defined in ${other.source}, which is in force`, lastValidInForce: false });
        } else if (byKey.size >= POLICY_LIMITS.maxPolicies) {
          refused.push({ source, object: k, field: '(object)', message: `past the limit of ${POLICY_LIMITS.maxPolicies} policies in force`, lastValidInForce: false });
        } else byKey.set(k, { policy, source });
      }
    }
    const sorted = sortPolicies([...byKey.values()].map((s) => s.policy));
    this.inForce = sorted.map((p) => byKey.get(policyKey(p))!);
    this.refused = refused;
    this.changed();
  }

  private changed(): void {
    this.gen++;
    this.signal.changed();
  }
}

/** Whether a problem's object keeps an earlier version in force (a broken file keeps all it held). */
const keptFor = (s: SourceState, p: PolicyProblem) => s.kept.has(p.object) || (p.field === '(syntax)' && s.kept.size > 0);
