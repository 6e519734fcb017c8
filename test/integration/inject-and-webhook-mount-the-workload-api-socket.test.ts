// `ztmesh inject` and the webhook (a real AdmissionReview over HTTPS) give the app containers the Workload API: the
// socket's emptyDir mounted read-only and SPIFFE_ENDPOINT_SOCKET, the sidecar the socket path and any uid of the pod;
// the annotation ztmesh.io/workload-api: "false" leaves all of it out.
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { validateK8sObject } from '../helpers/k8s-schema.js';
import { admissionFixture, webhookForSuite } from '../helpers/webhook-client.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const deployment = (annotations = '') => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders
  namespace: shop
spec:
  selector:
    matchLabels: { app: orders }
  template:
    metadata:
      labels: { app: orders }${annotations}
    spec:
      containers:
      - name: orders
        image: orders:1
      - name: spiffe-helper
        image: spiffe-helper:1
`;
const MOUNT = { name: 'ztmesh-workload-api', mountPath: '/var/run/ztmesh/workload-api', readOnly: true };
const ENDPOINT = { name: 'SPIFFE_ENDPOINT_SOCKET', value: 'unix:///var/run/ztmesh/workload-api/socket' };

function checkWorkloadApi(spec: Obj, on: boolean): void {
  const sidecar = spec.initContainers.find((c: Obj) => c.name === 'ztmesh-sidecar');
  const env = Object.fromEntries(sidecar.env.map((e: Obj) => [e.name, e.value]));
  for (const app of spec.containers) {
    expect(app.env ?? []).toEqual(on ? [ENDPOINT] : []);
    expect(app.volumeMounts ?? []).toEqual(on ? [MOUNT] : []);
  }
  if (on) {
    expect(spec.volumes).toContainEqual({ name: 'ztmesh-workload-api', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } });
    expect(sidecar.volumeMounts).toContainEqual({ name: 'ztmesh-workload-api', mountPath: '/var/run/ztmesh/workload-api' });
    expect(env).toMatchObject({ ZTMESH_WORKLOAD_API_SOCKET: '/var/run/ztmesh/workload-api/socket', ZTMESH_WORKLOAD_API_ALLOW_UIDS: '*' });
  } else {
    expect(spec.volumes.map((v: Obj) => v.name)).not.toContain('ztmesh-workload-api');
    expect(env.ZTMESH_WORKLOAD_API_SOCKET).toBeUndefined();
  }
}

const webhook = webhookForSuite();

describe('the Workload API in injected pods', () => {
  it.each([
    ['by default', '', true],
    ['not with ztmesh.io/workload-api: "false"', '\n      annotations: { ztmesh.io/workload-api: "false" }', false],
  ])('`ztmesh inject` and the webhook mount the socket %s, alike', async (_, annotations, on) => {
    const r = await runCli(['inject', '-f', '-'], { input: deployment(annotations) });
    expect(r.code, r.stderr).toBe(0);
    const out = parse(r.stdout) as Obj;
    validateK8sObject(out);
    checkWorkloadApi(out.spec.template.spec, on);

    const review = admissionFixture();
    const template = (parse(deployment(annotations)) as Obj).spec.template;
    review.request.object = { kind: 'Pod', apiVersion: 'v1', ...template, metadata: { ...template.metadata, namespace: 'shop', generateName: 'orders-' } };
    const response = JSON.parse((await webhook.inject(review)).body).response;
    const patched = fastJsonPatch.applyPatch(structuredClone(review.request.object), JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')), true, false).newDocument;
    validateK8sObject(patched);
    expect(patched.spec).toEqual(out.spec.template.spec);
  });
});
