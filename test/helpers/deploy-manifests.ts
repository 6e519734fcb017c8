// The deploy/kubernetes kustomize base rendered without kubectl (the resources list, the namespace transformer and
// the common labels), for tests that check the manifests or load a whole install into the stand-in API server.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const DEPLOY_BASE = fileURLToPath(new URL('../../deploy/kubernetes', import.meta.url));

/** Every object of a multi-document YAML text. */
export function yamlDocs(text: string): Obj[] {
  return parseAllDocuments(text).map((d) => d.toJS() as Obj).filter((o) => o);
}

/** Renders a kustomize base by hand: what `kubectl kustomize` gives for ours (a test compares the two). */
export function renderByHand(dir = DEPLOY_BASE): Obj[] {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Obj;
  const labels = Object.assign({}, ...(k.labels ?? []).map((l: Obj) => l.pairs));
  const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration']);
  return (k.resources as string[]).flatMap((f) => yamlDocs(readFileSync(join(dir, f), 'utf8'))).map((o) => {
    const out = structuredClone(o);
    out.metadata.labels = { ...(out.metadata.labels ?? {}), ...labels };
    if (!clusterScoped.has(out.kind)) out.metadata.namespace = k.namespace;
    return out;
  });
}
