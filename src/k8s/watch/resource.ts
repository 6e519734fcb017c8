// Which collection a watch follows (core, grouped or custom; one namespace or all; label and field selectors), and the
// API paths and cache keys that follow from it. Pure.
import type { KubernetesObject, V1ObjectMeta } from '@kubernetes/client-node';

/** A collection of the Kubernetes API, named as RBAC and the URL name it. */
export interface ResourceRef {
  /** API group: '' for the core group (Pods, Services, Namespaces), 'discovery.k8s.io', 'ztmesh.io', ... */
  group: string;
  version: string;
  /** The plural resource name of the URL and of RBAC rules: 'pods', 'endpointslices', 'authorizationpolicies'. */
  plural: string;
  /** Watch one namespace; omitted: every namespace (or a cluster-scoped resource). */
  namespace?: string;
  /** Server-side filters, in the API's own syntax ('ztmesh.io/sidecar=true', 'status.phase=Running'). */
  labelSelector?: string;
  fieldSelector?: string;
}

/** An object as a list or a watch event delivers it, checked to carry what the cache keys on. */
export type WatchedObject = KubernetesObject & { metadata: V1ObjectMeta & { name: string } };

/** "pods", "endpointslices.discovery.k8s.io": how RBAC and kubectl name the resource. */
export function resourceName(ref: ResourceRef): string {
  return ref.group ? `${ref.plural}.${ref.group}` : ref.plural;
}

/** Where a watch runs, for errors and logs: "pods in namespace shop", "namespaces at the cluster scope". */
export function resourceScope(ref: ResourceRef): string {
  return `${resourceName(ref)} ${ref.namespace ? `in namespace ${ref.namespace}` : 'at the cluster scope'}`;
}

/** The collection's path, e.g. /api/v1/namespaces/shop/pods or /apis/discovery.k8s.io/v1/endpointslices. */
export function collectionPath(ref: ResourceRef): string {
  const base = ref.group ? `/apis/${encodeURIComponent(ref.group)}/${encodeURIComponent(ref.version)}` : `/api/${encodeURIComponent(ref.version)}`;
  const ns = ref.namespace ? `/namespaces/${encodeURIComponent(ref.namespace)}` : '';
  return `${base}${ns}/${encodeURIComponent(ref.plural)}`;
}

/** A list page request: `limit` objects, after `continueToken` when given. */
export function listPath(ref: ResourceRef, limit: number, continueToken?: string): string {
  return withQuery(ref, { limit: String(limit), ...(continueToken ? { continue: continueToken } : {}) });
}

/** A watch from `resourceVersion`, with bookmarks, ended by the server after `timeoutSeconds`. */
export function watchPath(ref: ResourceRef, resourceVersion: string, timeoutSeconds: number): string {
  return withQuery(ref, { watch: '1', allowWatchBookmarks: 'true', resourceVersion, timeoutSeconds: String(timeoutSeconds) });
}

function withQuery(ref: ResourceRef, params: Record<string, string>): string {
  const q = new URLSearchParams(params);
  if (ref.labelSelector) q.set('labelSelector', ref.labelSelector);
  if (ref.fieldSelector) q.set('fieldSelector', ref.fieldSelector);
  return `${collectionPath(ref)}?${q.toString()}`;
}

/** The cache key client-go uses (MetaNamespaceKeyFunc): "namespace/name", or "name" for cluster-scoped objects. */
export function objectKey(meta: { name: string; namespace?: string | undefined }): string {
  return meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
}
