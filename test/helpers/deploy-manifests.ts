// The deploy/kubernetes kustomize base rendered without kubectl (the resources list, the namespace transformer and
// the common labels), for tests that check the manifests or load a whole install into the stand-in API server.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const DEPLOY_BASE = fileURLToPath(new URL('../../deploy/kubernetes', import.meta.url));
/** The ztmesh-system namespace, a kustomization of its own so that uninstalling the base keeps the CA's root. */
export const DEPLOY_NAMESPACE = fileURLToPath(new URL('../../deploy/kubernetes/namespace', import.meta.url));
/** The AuthorizationPolicy CRD, a kustomization of its own so that uninstalling the base keeps the users' policies. */
export const DEPLOY_CRDS = fileURLToPath(new URL('../../deploy/kubernetes/crds', import.meta.url));

/** Every object of a multi-document YAML text. */
export function yamlDocs(text: string): Obj[] {
  return parseAllDocuments(text).map((d) => d.toJS() as Obj).filter((o) => o);
}

/** Renders a kustomize base by hand: what `kubectl kustomize` gives for ours (a test compares the two). */
export function renderByHand(dir = DEPLOY_BASE): Obj[] {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Obj;
  const labels = Object.assign({}, ...(k.labels ?? []).map((l: Obj) => l.pairs));
  const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'CustomResourceDefinition']);
  return (k.resources as string[]).flatMap((f) => yamlDocs(readFileSync(join(dir, f), 'utf8'))).map((o) => {
    const out = structuredClone(o);
    out.metadata.labels = { ...(out.metadata.labels ?? {}), ...labels };
    if (!clusterScoped.has(out.kind) && k.namespace) out.metadata.namespace = k.namespace;
    return out;
  });
}

/** Everything an install applies: the namespace, the CRDs, then the control plane. */
export function renderInstall(): Obj[] {
  return [...renderByHand(DEPLOY_NAMESPACE), ...renderByHand(DEPLOY_CRDS), ...renderByHand(DEPLOY_BASE)];
}

/**
 * A tool on PATH (or /usr/bin, /usr/local/bin), or undefined; `ZTMESH_<NAME>` overrides the lookup (empty: behave as
 * on a machine without it). .ci/run installs kubectl's peers: helm (Go module proxy) and promtool (Debian prometheus).
 */
export function findTool(name: string): string | undefined {
  const override = process.env[`ZTMESH_${name.toUpperCase()}`];
  if (override !== undefined) return override || undefined;
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/local/bin']) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The objects `kubectl kustomize DIR` renders. */
export function kustomize(kubectl: string, dir: string): Obj[] {
  return yamlDocs(execFileSync(kubectl, ['kustomize', dir], { encoding: 'utf8', timeout: 30_000 }));
}

/** A stable key for an object: kind/namespace/name. */
export const objectKey = (o: Obj) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;

/** Every container image of every pod (template), as "Kind/name/container=image". */
export function imagesOf(objects: Obj[]): string[] {
  return objects.flatMap((o) => {
    const spec = o.kind === 'Pod' ? o.spec : o.spec?.template?.spec;
    return [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])].map((c: Obj) => `${o.kind}/${o.metadata.name}/${c.name}=${c.image}`);
  });
}
