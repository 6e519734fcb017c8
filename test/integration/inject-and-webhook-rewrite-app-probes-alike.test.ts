// A Deployment whose app has an httpGet probe (named port, custom header), a tcpSocket and a grpc probe: `ztmesh inject`
// and the webhook (a real AdmissionReview over HTTPS) point all three at the sidecar's /app-health/... paths alike,
// hand the originals to the sidecar, leave exec and excluded-port probes alone, and a second injection changes nothing.
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { validateK8sObject } from '../helpers/k8s-schema.js';
import { admissionFixture, webhookForSuite } from '../helpers/webhook-client.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: shop
spec:
  selector:
    matchLabels: { app: shop }
  template:
    metadata:
      labels: { app: shop }
      annotations:
        ztmesh.io/exclude-inbound-ports: "9901"
    spec:
      containers:
      - name: web
        image: shop:1
        ports:
        - { name: http, containerPort: 8080 }
        - { name: grpc, containerPort: 9090 }
        - { containerPort: 9000 }
        - { name: admin, containerPort: 9901 }
        livenessProbe:
          httpGet: { path: /healthz, port: http, httpHeaders: [{ name: X-Probe, value: live }] }
          periodSeconds: 7
          timeoutSeconds: 2
          failureThreshold: 4
        readinessProbe:
          tcpSocket: { port: 9000 }
          initialDelaySeconds: 3
        startupProbe:
          grpc: { port: 9090, service: shop.v1.Shop }
          periodSeconds: 2
          failureThreshold: 30
      - name: worker
        image: worker:1
        livenessProbe:
          exec: { command: [cat, /tmp/ok] }
        readinessProbe:
          httpGet: { path: /ready, port: admin }
`;

const REWRITTEN_WEB = {
  livenessProbe: { httpGet: { path: '/app-health/web/livez', port: 15021 }, periodSeconds: 7, timeoutSeconds: 2, failureThreshold: 4 },
  readinessProbe: { httpGet: { path: '/app-health/web/readyz', port: 15021 }, initialDelaySeconds: 3 },
  startupProbe: { httpGet: { path: '/app-health/web/startupz', port: 15021 }, periodSeconds: 2, failureThreshold: 30 },
};
const UNCHANGED_WORKER = {
  livenessProbe: { exec: { command: ['cat', '/tmp/ok'] } },
  readinessProbe: { httpGet: { path: '/ready', port: 'admin' } },
};
const APP_PROBES = {
  '/app-health/web/livez': { httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP', httpHeaders: [{ name: 'X-Probe', value: 'live' }] }, timeoutSeconds: 2 },
  '/app-health/web/readyz': { tcpSocket: { port: 9000 }, timeoutSeconds: 1 },
  '/app-health/web/startupz': { grpc: { port: 9090, service: 'shop.v1.Shop' }, timeoutSeconds: 1 },
};

function checkRewrites(pod: Obj): void {
  const web = pod.spec.containers.find((c: Obj) => c.name === 'web');
  const worker = pod.spec.containers.find((c: Obj) => c.name === 'worker');
  expect({ livenessProbe: web.livenessProbe, readinessProbe: web.readinessProbe, startupProbe: web.startupProbe }).toEqual(REWRITTEN_WEB);
  expect({ livenessProbe: worker.livenessProbe, readinessProbe: worker.readinessProbe }).toEqual(UNCHANGED_WORKER);
  const sidecar = pod.spec.initContainers.find((c: Obj) => c.name === 'ztmesh-sidecar');
  expect(JSON.parse(sidecar.env.find((e: Obj) => e.name === 'ZTMESH_APP_PROBES').value)).toEqual(APP_PROBES);
}

const webhook = webhookForSuite();

describe('app probes through inject and the webhook', () => {
  it('`ztmesh inject` rewrites the httpGet (named port, header), tcpSocket and grpc probes, and nothing else', async () => {
    const r = await runCli(['inject', '-f', '-'], { input: DEPLOYMENT });
    expect(r.code, r.stderr).toBe(0);
    const out = parse(r.stdout) as Obj;
    validateK8sObject(out);
    checkRewrites(out.spec.template);
  });

  it('the webhook answers the same pod with a patch that gives exactly the same probes and appProbes', async () => {
    const review = admissionFixture();
    const template = (parse(DEPLOYMENT) as Obj).spec.template;
    review.request.object = { kind: 'Pod', apiVersion: 'v1', ...template, metadata: { ...template.metadata, namespace: 'shop', generateName: 'shop-' } };
    const reply = await webhook.inject(review);
    expect(reply.status).toBe(200);
    const response = JSON.parse(reply.body).response;
    expect(response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
    const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'));
    const patched = fastJsonPatch.applyPatch(structuredClone(review.request.object), patch, true, false).newDocument;
    validateK8sObject(patched);
    checkRewrites(patched);

    const cli = parse((await runCli(['inject', '-f', '-'], { input: DEPLOYMENT })).stdout) as Obj;
    expect(patched.spec).toEqual(cli.spec.template.spec);
  });

  it('injecting twice changes nothing, with the CLI and the webhook', async () => {
    const once = await runCli(['inject', '-f', '-'], { input: DEPLOYMENT });
    const twice = await runCli(['inject', '-f', '-'], { input: once.stdout });
    expect(twice.code).toBe(0);
    expect(twice.stdout).toBe(once.stdout);
    expect(twice.stderr).toContain('Deployment/shop: unchanged: up_to_date');

    const review = admissionFixture();
    const injected = (parse(once.stdout) as Obj).spec.template;
    review.request.object = { kind: 'Pod', apiVersion: 'v1', ...injected, metadata: { ...injected.metadata, namespace: 'shop' } };
    const out = JSON.parse((await webhook.inject(review)).body);
    expect(out.response).toEqual({ uid: review.request.uid, allowed: true });
  });
});
