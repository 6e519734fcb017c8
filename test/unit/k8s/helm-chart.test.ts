// The Helm chart deploy/helm/ztmesh: `helm lint` passes; `helm template` with the default values renders exactly the
// objects of deploy/kubernetes (namespace and base), valid against the Kubernetes schemas; one value sets every
// image; the namespace (and so the CA's root Secret) survives `helm uninstall`; every value is documented.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isMap, isPair, isScalar, parse, parseDocument, type Pair } from 'yaml';
import { DEFAULT_IMAGE, ZTMESH_VERSION } from '../../../src/common/version.js';
import { DEPLOY_BASE, DEPLOY_CRDS, DEPLOY_NAMESPACE, findTool, imagesOf, kustomize, objectKey, renderInstall, yamlDocs } from '../../helpers/deploy-manifests.js';
import { validateK8sObject } from '../../helpers/k8s-schema.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const CHART = fileURLToPath(new URL('../../../deploy/helm/ztmesh', import.meta.url));
const HELM = findTool('helm');
const KUBECTL = findTool('kubectl');
if (!HELM) console.warn('helm-chart.test: helm not found on PATH (.ci/run installs it from the Go module proxy); skipping helm lint and helm template, the values documentation check still runs');

const helm = (...args: string[]) => execFileSync(HELM!, args, { encoding: 'utf8', timeout: 60_000 });
const template = (...set: string[]) => yamlDocs(helm('template', 'ztmesh', CHART, '--include-crds', ...set.flatMap((s) => ['--set', s])));
const byKey = (objects: Obj[]) => new Map(objects.map((o) => [objectKey(o), o]));

describe('deploy/helm/ztmesh', () => {
  it.skipIf(!HELM)('passes helm lint', () => {
    expect(helm('lint', CHART)).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it.skipIf(!HELM)('with its defaults, renders every object of deploy/kubernetes, each equal and valid', () => {
    const chart = template();
    for (const o of chart) validateK8sObject(o);
    const kustomized = KUBECTL ? [...kustomize(KUBECTL, DEPLOY_NAMESPACE), ...kustomize(KUBECTL, DEPLOY_CRDS), ...kustomize(KUBECTL, DEPLOY_BASE)] : renderInstall();
    expect([...byKey(chart).keys()].sort()).toEqual([...byKey(kustomized).keys()].sort());
    const mine = byKey(chart);
    for (const o of kustomized) expect(mine.get(objectKey(o)), objectKey(o)).toEqual(o);
  });

  it.skipIf(!HELM)('one value sets every image it runs, and the webhook injects its own', () => {
    const chart = template('image.repository=registry.example/mesh/ztmesh', 'image.tag=9.9.9');
    const images = imagesOf(chart);
    expect(images.length).toBeGreaterThanOrEqual(2);
    for (const i of images) expect(i).toMatch(/=registry\.example\/mesh\/ztmesh:9\.9\.9$/);
    expect(JSON.stringify(chart)).not.toContain('ghcr.io/ztmesh/ztmesh');
  });

  it.skipIf(!HELM)('values change what they say: replicas, injection mode, trust domain, failure policy; the namespace can be left out', () => {
    const chart = byKey(template('ca.replicas=3', 'inject.mode=explicit', 'inject.legacySidecar=true', 'trustDomain=prod.example', 'webhook.failurePolicy=Ignore', 'createNamespace=false'));
    expect(chart.get('Deployment/ztmesh-system/ztmesh-ca')!.spec.replicas).toBe(3);
    const args = chart.get('Deployment/ztmesh-system/ztmesh-webhook')!.spec.template.spec.containers[0].args as string[];
    expect(args).toEqual(expect.arrayContaining(['--mode=explicit', '--legacy-sidecar', '--trust-domain=prod.example']));
    expect(chart.get('MutatingWebhookConfiguration//ztmesh-sidecar-injector')!.webhooks.map((w: Obj) => w.failurePolicy)).toEqual(['Ignore', 'Ignore']);
    expect(chart.has('Namespace//ztmesh-system')).toBe(false);
    for (const o of chart.values()) validateK8sObject(o);
  });

  it.skipIf(!HELM)('helm uninstall keeps the namespace (so the CA Secret in it), and the chart holds no Secret', () => {
    const chart = template();
    expect(chart.find((o) => o.kind === 'Namespace')!.metadata.annotations['helm.sh/resource-policy']).toBe('keep');
    expect(chart.filter((o) => o.kind === 'Secret')).toEqual([]);
  });

  it('one version everywhere: package.json, the chart, the kustomize images: entry and the default image', () => {
    const chart = parse(readFileSync(`${CHART}/Chart.yaml`, 'utf8')) as Obj;
    const kustomization = parse(readFileSync(`${DEPLOY_BASE}/kustomization.yaml`, 'utf8')) as Obj;
    expect([chart.version, chart.appVersion, kustomization.images[0].newTag]).toEqual([ZTMESH_VERSION, ZTMESH_VERSION, ZTMESH_VERSION]);
    for (const i of imagesOf(renderInstall())) expect(i.endsWith(`=${DEFAULT_IMAGE}`), i).toBe(true);
  });

  it('every value in values.yaml has a comment saying what it does', () => {
    const doc = parseDocument(readFileSync(`${CHART}/values.yaml`, 'utf8'));
    const undocumented: string[] = [];
    const walk = (node: unknown, path: string[]) => {
      if (!isMap(node)) return;
      (node.items as Pair[]).forEach((item, i) => {
        if (!isPair(item) || !isScalar(item.key)) return;
        const key = [...path, String(item.key.value)];
        // The yaml library gives the comment above a map's first key to the map itself (or to the document).
        const above = (item.key as { commentBefore?: string }).commentBefore ?? (i === 0 ? (node as { commentBefore?: string }).commentBefore ?? (path.length === 0 ? doc.commentBefore : undefined) : undefined);
        const documented = Boolean(above) || path.at(-1) === 'requests' || path.at(-1) === 'limits' || key.at(-2) === 'resources';
        if (!documented) undocumented.push(key.join('.'));
        walk(item.value, key);
      });
    };
    walk(doc.contents, []);
    expect(undocumented).toEqual([]);
  });
});
