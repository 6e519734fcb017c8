// Two install properties, checked on the rendered objects: one `images:` entry of an overlay sets every image ztmesh
// runs and injects (the webhook injects the image of its own container, so no copy of the image hides in an
// argument); and uninstalling the control plane (`kubectl delete -k deploy/kubernetes`) cannot delete the CA's
// root, because the namespace that holds its Secret lives in a kustomization of its own.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WEBHOOK_CONTAINER } from '../../../src/k8s/own-image.js';
import { DEPLOY_BASE, DEPLOY_NAMESPACE, findTool, imagesOf, kustomize, renderByHand } from '../../helpers/deploy-manifests.js';
import { validateK8sObject } from '../../helpers/k8s-schema.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const KUBECTL = findTool('kubectl');
if (!KUBECTL) console.warn('deploy-one-image-and-uninstall.test: kubectl not found; the overlay render test is skipped (the rendering-by-hand checks still run)');
const OVERLAY = fileURLToPath(new URL('../../fixtures/k8s/overlay-image', import.meta.url));
const NEW_IMAGE = 'registry.example/mesh/ztmesh:9.9.9';

describe('one image setting changes every image', () => {
  it.skipIf(!KUBECTL)('an overlay with one images: entry leaves no other ztmesh image anywhere in the install', () => {
    const rendered = kustomize(KUBECTL!, OVERLAY);
    for (const o of rendered) validateK8sObject(o);
    const images = imagesOf(rendered);
    expect(images.length).toBeGreaterThanOrEqual(2);
    for (const i of images) expect(i).toMatch(new RegExp(`=${NEW_IMAGE.replace(/[.]/g, '\\.')}$`));
    // No argument, env value or annotation still names the default image (the webhook used to pass --image=…:0.1.0).
    expect(JSON.stringify(rendered)).not.toContain('ghcr.io/ztmesh/ztmesh');
  });

  it('the webhook names no image to inject: it reads its own container\'s, from its pod named by the downward API', () => {
    const webhook = renderByHand(DEPLOY_BASE).find((o) => o.kind === 'Deployment' && o.metadata.name === 'ztmesh-webhook')!;
    const c = webhook.spec.template.spec.containers.find((x: Obj) => x.name === WEBHOOK_CONTAINER);
    expect(c, `the webhook's container is named ${WEBHOOK_CONTAINER}`).toBeDefined();
    expect((c.args as string[]).filter((a) => a.startsWith('--image'))).toEqual([]);
    expect(c.env).toEqual(expect.arrayContaining([
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ]));
  });
});

describe('uninstalling the control plane keeps the CA\'s root', () => {
  it('the base holds no Namespace and no Secret: `kubectl delete -k deploy/kubernetes` deletes neither', () => {
    const base = renderByHand(DEPLOY_BASE);
    expect(base.filter((o) => o.kind === 'Namespace' || o.kind === 'Secret')).toEqual([]);
    // Everything namespaced in it lives in ztmesh-system, which it does not own.
    for (const o of base) if (!['ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration'].includes(o.kind)) expect(o.metadata.namespace).toBe('ztmesh-system');
  });

  it('the namespace is its own kustomization, marked for Helm to keep', () => {
    const ns = renderByHand(DEPLOY_NAMESPACE);
    expect(ns.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['Namespace/ztmesh-system']);
    expect(ns[0]!.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
  });

  it.skipIf(!KUBECTL)('kubectl renders the two kustomizations as the hand rendering does', () => {
    expect(kustomize(KUBECTL!, DEPLOY_NAMESPACE)).toEqual(renderByHand(DEPLOY_NAMESPACE));
  });
});
