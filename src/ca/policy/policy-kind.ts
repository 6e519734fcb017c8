// The policy kind of the mesh stream: each sidecar gets its own view of the CA's policies, only those that select its
// authenticated SPIFFE ID plus the mesh-wide ones (least disclosure), always as a snapshot, versioned by a hash of
// exactly that view. Also what GET /policies shows: the policies in force and refused, and which identity runs which
// version. Invariants:
// - A view is computed from the authenticated ID alone (never from anything the sidecar sent), once per ID per change
//   of the store; the memo holds at most MAX_VIEWS views and is dropped at every change.
// - Nothing is served while the store waits for its feed (the Kubernetes watch's first list).
import { MESH_KINDS } from '../../mesh/kinds.js';
import type { MeshUpdate } from '../../mesh/codec.js';
import { policyKey, type AuthorizationPolicy, type MeshDefault, type PolicySet } from '../../policy/model.js';
import { policiesFor, policySetVersion } from '../../policy/policy-set.js';
import type { KindSource, MeshPeer } from '../mesh/kind-source.js';
import type { MeshReport } from '../mesh/stream-registry.js';
import type { PolicyStore, StoredProblem } from './policy-store.js';

/** Views remembered between two changes of the store (one per SPIFFE ID that streamed). */
export const MAX_VIEWS = 10_000;

interface View {
  version: string;
  update: MeshUpdate;
}

/** GET /policies. */
export interface PoliciesReport {
  replica: string;
  /** Where policies come from: `dir` (--policy-dir), `kubernetes` (--k8s-policy-watch) or `none`. */
  source: 'dir' | 'kubernetes' | 'none';
  /** False while the Kubernetes watch has not listed once: nothing is served. */
  served: boolean;
  defaultPolicy: MeshDefault;
  counts: { valid: number; invalid: number };
  policies: (AuthorizationPolicy & { source: string })[];
  invalid: StoredProblem[];
  /** How many live streams acknowledged each policy version. */
  versions: Record<string, number>;
  sidecars: { spiffeId: string; peer: string; version: string; acked: string | null; ackedAt: string | null; upToDate: boolean; policies: string[]; lastNack: { code: string; detail: string } | null }[];
}

/** The policy kind over a store. */
export class PolicyKind implements KindSource {
  readonly kind = MESH_KINDS.policy;
  private views = new Map<string, View>();
  private viewsGen = -1;

  constructor(private readonly store: PolicyStore) {}

  /** The set `spiffeId` receives: the mesh default and the policies that select it. */
  setFor(spiffeId: string): PolicySet {
    return { defaultPolicy: this.store.defaultPolicy, policies: policiesFor(this.store.policies().map((s) => s.policy), spiffeId) };
  }

  version(peer: MeshPeer): string {
    return this.store.served ? this.view(peer.spiffeId).version : '';
  }

  next(peer: MeshPeer, held: string | undefined): MeshUpdate | undefined {
    if (!this.store.served) return undefined;
    const v = this.view(peer.spiffeId);
    return held === v.version ? undefined : v.update;
  }

  subscribe(listener: () => void): () => void {
    return this.store.subscribe(listener);
  }

  /** GET /policies, from the registry's report of the live streams. */
  report(mesh: MeshReport, source: PoliciesReport['source']): PoliciesReport {
    const versions: Record<string, number> = {};
    const sidecars = mesh.sidecars.map((s) => {
      const k = s.kinds[MESH_KINDS.policy];
      const acked = k?.acked ?? null;
      if (acked !== null) versions[acked] = (versions[acked] ?? 0) + 1;
      const view = this.store.served ? this.view(s.spiffeId) : undefined;
      const u = view?.update;
      return {
        spiffeId: s.spiffeId, peer: s.peer, version: view?.version ?? '', acked, ackedAt: k?.ackedAt ?? null, upToDate: !!view && acked === view.version,
        policies: u?.kind === MESH_KINDS.policy ? u.policy.policies.map(policyKey) : [],
        lastNack: k?.lastNack ? { code: k.lastNack.code, detail: k.lastNack.detail } : null,
      };
    });
    return {
      replica: mesh.replica, source, served: this.store.served, defaultPolicy: this.store.defaultPolicy, counts: this.store.counts(),
      policies: this.store.policies().map((s) => ({ ...s.policy, source: s.source })), invalid: [...this.store.problems()], versions, sidecars,
    };
  }

  private view(spiffeId: string): View {
    if (this.viewsGen !== this.store.generation || this.views.size >= MAX_VIEWS) {
      this.views = new Map();
      this.viewsGen = this.store.generation;
    }
    let v = this.views.get(spiffeId);
    if (!v) {
      const set = this.setFor(spiffeId);
      const version = policySetVersion(set);
      v = { version, update: { kind: MESH_KINDS.policy, version, base: '', policy: set } };
      this.views.set(spiffeId, v);
    }
    return v;
  }
}
