// The stand-in API server's object store: resources (built-in kinds and custom resources by group/version/plural),
// objects with a global resourceVersion counter as etcd's revision, a bounded history of changes for watches, and
// paged lists (limit/continue) with label and field selectors, as the real API serves them.
// Unlike etcd, a continued list reads the objects as they are now, not as of its first page.
import { randomUUID } from 'node:crypto';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Where a kind lives in the API. */
export interface ResourceInfo {
  group: string;
  version: string;
  /** Plural resource name, as in the URL and RBAC. */
  resource: string;
  kind: string;
  namespaced: boolean;
}

/** One change, as a watch will send it; `old` is what was stored before (for selector transitions). */
export interface Change {
  rv: number;
  info: ResourceInfo;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Obj;
  old?: Obj;
}

const BUILT_IN: ResourceInfo[] = [
  { kind: 'Namespace', group: '', version: 'v1', resource: 'namespaces', namespaced: false },
  { kind: 'ConfigMap', group: '', version: 'v1', resource: 'configmaps', namespaced: true },
  { kind: 'Secret', group: '', version: 'v1', resource: 'secrets', namespaced: true },
  { kind: 'ServiceAccount', group: '', version: 'v1', resource: 'serviceaccounts', namespaced: true },
  { kind: 'Service', group: '', version: 'v1', resource: 'services', namespaced: true },
  { kind: 'Pod', group: '', version: 'v1', resource: 'pods', namespaced: true },
  { kind: 'Event', group: '', version: 'v1', resource: 'events', namespaced: true },
  { kind: 'EndpointSlice', group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices', namespaced: true },
  { kind: 'Deployment', group: 'apps', version: 'v1', resource: 'deployments', namespaced: true },
  { kind: 'PodDisruptionBudget', group: 'policy', version: 'v1', resource: 'poddisruptionbudgets', namespaced: true },
  { kind: 'ClusterRole', group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterroles', namespaced: false },
  { kind: 'ClusterRoleBinding', group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterrolebindings', namespaced: false },
  { kind: 'Role', group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'roles', namespaced: true },
  { kind: 'RoleBinding', group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'rolebindings', namespaced: true },
  { kind: 'MutatingWebhookConfiguration', group: 'admissionregistration.k8s.io', version: 'v1', resource: 'mutatingwebhookconfigurations', namespaced: false },
  { kind: 'CustomResourceDefinition', group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions', namespaced: false },
];

/** Changes kept for watches to resume from; older ones are compacted away, as etcd does. */
export const HISTORY_LIMIT = 50_000;

/** Equality-based label selectors: "a=b", "a==b", "a!=b", "a", "!a", comma-separated. */
export function matchesLabels(labels: Record<string, string> | undefined, selector: string | null | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const t = term.trim();
    const ne = /^([^!=]+)!=(.*)$/.exec(t);
    if (ne) return labels?.[ne[1]!] !== ne[2];
    const eq = /^([^!=]+)==?(.*)$/.exec(t);
    if (eq) return labels?.[eq[1]!] === eq[2];
    if (t.startsWith('!')) return labels?.[t.slice(1)] === undefined;
    return labels?.[t] !== undefined;
  });
}

/** Field selectors: "metadata.name=x", "status.phase!=Running", comma-separated, over any dotted path. */
export function matchesFields(obj: Obj, selector: string | null | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const m = /^([^!=]+)(!=|==?)(.*)$/.exec(term.trim());
    if (!m) return false;
    const value = m[1]!.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Obj)[k] : undefined), obj);
    const equal = String(value ?? '') === m[3];
    return m[2] === '!=' ? !equal : equal;
  });
}

/** A filter of one list or watch. */
export interface Selection {
  info: ResourceInfo;
  namespace?: string | undefined;
  labelSelector?: string | null | undefined;
  fieldSelector?: string | null | undefined;
}

export function selects(sel: Selection, obj: Obj): boolean {
  return (sel.namespace === undefined || obj.metadata?.namespace === sel.namespace)
    && matchesLabels(obj.metadata?.labels, sel.labelSelector) && matchesFields(obj, sel.fieldSelector);
}

/** Objects by resource, the revision counter and the history of changes. */
export class FakeStore {
  revision = 1;
  /** Watches and continue tokens from a revision below this get 410 Gone. */
  compactedRevision = 0;
  history: Change[] = [];
  private readonly byKind = new Map<string, ResourceInfo>();
  private readonly byPath = new Map<string, ResourceInfo>();
  private readonly objects = new Map<ResourceInfo, Map<string, Obj>>();
  private readonly listeners = new Set<(c: Change) => void>();

  constructor(private readonly now: () => number) {
    for (const info of BUILT_IN) this.define(info);
  }

  /** Makes a kind servable (a CRD being established); idempotent. */
  define(info: ResourceInfo): ResourceInfo {
    const existing = this.byKind.get(info.kind);
    if (existing) return existing;
    this.byKind.set(info.kind, info);
    this.byPath.set(`${info.group}/${info.version}/${info.resource}`, info);
    this.objects.set(info, new Map());
    return info;
  }

  infoOfKind(kind: string): ResourceInfo {
    const info = this.byKind.get(kind);
    if (!info) throw new Error(`the stand-in API server does not serve ${kind} (defineResource it first)`);
    return info;
  }

  infoAt(group: string, version: string, resource: string): ResourceInfo | undefined {
    return this.byPath.get(`${group}/${version}/${resource}`);
  }

  /** The live map of one resource's objects by key (mutating it bypasses watches). */
  map(info: ResourceInfo): Map<string, Obj> {
    return this.objects.get(info)!;
  }

  keyOf(info: ResourceInfo, name: string, namespace?: string): string {
    return info.namespaced ? `${namespace}/${name}` : name;
  }

  onChange(fn: (c: Change) => void): void {
    this.listeners.add(fn);
  }

  /** Creates or replaces an object of `info`, giving it the next resourceVersion; emits ADDED or MODIFIED. */
  put(info: ResourceInfo, obj: Obj): Obj {
    const stored = structuredClone(obj);
    stored.metadata = { ...stored.metadata };
    if (!info.namespaced) delete stored.metadata.namespace;
    const key = this.keyOf(info, stored.metadata.name, stored.metadata.namespace);
    const old = this.map(info).get(key);
    stored.metadata = {
      ...stored.metadata,
      uid: old?.metadata?.uid ?? stored.metadata.uid ?? randomUUID(),
      resourceVersion: String(++this.revision),
      creationTimestamp: old?.metadata?.creationTimestamp ?? new Date(this.now()).toISOString(),
    };
    this.map(info).set(key, stored);
    // A stored CRD is established at once: its resource is served from now on.
    if (info.kind === 'CustomResourceDefinition') {
      const spec = stored.spec ?? {};
      this.define({ kind: spec.names?.kind, group: spec.group, version: spec.versions?.[0]?.name, resource: spec.names?.plural, namespaced: spec.scope === 'Namespaced' });
    }
    this.record({ rv: this.revision, info, type: old ? 'MODIFIED' : 'ADDED', object: stored, ...(old ? { old } : {}) });
    return stored;
  }

  /** Deletes an object; emits DELETED with the object at its deletion revision. */
  remove(kind: string, name: string, namespace?: string): boolean {
    const info = this.infoOfKind(kind);
    const key = this.keyOf(info, name, namespace);
    const old = this.map(info).get(key);
    if (!old) return false;
    this.map(info).delete(key);
    const object = { ...old, metadata: { ...old.metadata, resourceVersion: String(++this.revision) } };
    this.record({ rv: this.revision, info, type: 'DELETED', object, old });
    // A deleted CRD takes its resource, and every object of it, away.
    const served = info.kind === 'CustomResourceDefinition' ? this.byKind.get(old.spec?.names?.kind) : undefined;
    if (served) {
      this.byKind.delete(served.kind);
      this.byPath.delete(`${served.group}/${served.version}/${served.resource}`);
      this.objects.delete(served);
    }
    return true;
  }

  /** Forgets all history: a watch or continue token from any revision before now gets 410 Gone. */
  compact(): void {
    this.history = [];
    this.compactedRevision = this.revision;
  }

  /** Changes to `sel` after revision `rv`, in order. */
  changesSince(rv: number): Change[] {
    let i = this.history.length;
    while (i > 0 && this.history[i - 1]!.rv > rv) i--;
    return this.history.slice(i);
  }

  /** One page of a list: sorted by key (etcd's order), `limit` at most, after the key in the continue token. */
  list(sel: Selection, limit: number | undefined, continueToken: string | null): { items: Obj[]; resourceVersion: string; continue?: string } | 'expired' {
    let after = '';
    let rv = this.revision;
    if (continueToken) {
      const t = JSON.parse(Buffer.from(continueToken, 'base64url').toString('utf8')) as { rv: number; after: string };
      if (t.rv < this.compactedRevision) return 'expired';
      after = t.after;
      rv = t.rv;
    }
    const keys = [...this.map(sel.info).keys()].filter((k) => k > after).sort();
    const items: Obj[] = [];
    let last = '';
    for (const k of keys) {
      const o = this.map(sel.info).get(k)!;
      if (!selects(sel, o)) continue;
      if (limit && items.length === limit) {
        return { items, resourceVersion: String(rv), continue: Buffer.from(JSON.stringify({ rv, after: last })).toString('base64url') };
      }
      items.push(o);
      last = k;
    }
    return { items, resourceVersion: String(rv) };
  }

  private record(c: Change): void {
    this.history.push(c);
    if (this.history.length > HISTORY_LIMIT) this.compactedRevision = this.history.shift()!.rv;
    for (const fn of this.listeners) fn(c);
  }
}
