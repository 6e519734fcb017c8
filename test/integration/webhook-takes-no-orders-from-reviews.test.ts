// A review is only a question: whoever can reach port 15443 gets an answer and nothing else. A real `ztmesh webhook`
// process with --distribute-bundle, running with deploy/'s RBAC against the stand-in API server, writes the trust
// bundle ConfigMap into the namespace the API server says is meshed, and nowhere else: a fake pod CREATE for
// kube-system causes no API request, and neither do 2,000 fake reviews for namespaces that do not exist, which
// leave no warning in its log either.
import { Agent, request } from 'node:https';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess } from '../helpers/cli.js';
import { renderByHand } from '../helpers/deploy-manifests.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { makeCa, makeLeaf } from '../helpers/pki.js';
import { admissionFixture } from '../helpers/webhook-client.js';
import { tempDir } from '../helpers/temp-dir.js';

const SERVER_NAME = 'ztmesh-webhook.ztmesh-system.svc';
let api: FakeApiServer;
let webhook: CliProcess;
let port: number;
const ca = makeCa('cluster.local');
const agent = new Agent({ keepAlive: true, maxSockets: 8, ca: ca.certPem, servername: SERVER_NAME });

function post(review: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/inject', method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(review));
  });
}

const reviewFor = (namespace: string, uid = `uid-${namespace}`) => {
  const r = admissionFixture();
  r.request.uid = uid;
  r.request.namespace = namespace;
  r.request.object.metadata.namespace = namespace;
  return r;
};

beforeAll(async () => {
  api = await startFakeApiServer();
  for (const o of renderByHand().filter((x) => (x.kind === 'ClusterRole' || x.kind === 'ClusterRoleBinding') && x.metadata.name === 'ztmesh-webhook')) api.apply(o);
  api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { 'ztmesh.io/inject': 'enabled' } } });
  api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system' } });
  const dir = tempDir('ztmesh-webhook-orders-');
  const leaf = makeLeaf(ca, 'spiffe://cluster.local/ns/ztmesh-system/sa/ztmesh-webhook', { dnsNames: [SERVER_NAME] });
  writeFileSync(join(dir, 'cert.pem'), leaf.certPem);
  writeFileSync(join(dir, 'key.pem'), leaf.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'roots.pem'), ca.certPem);
  writeFileSync(join(dir, 'sa-token'), api.addApiUser('system:serviceaccount:ztmesh-system:ztmesh-webhook', ['system:serviceaccounts', 'system:serviceaccounts:ztmesh-system']));
  webhook = new CliProcess(['webhook', '--listen', '127.0.0.1:0', '--health', '127.0.0.1:0', '--image', 'ghcr.io/ztmesh/ztmesh:test',
    '--cert-file', join(dir, 'cert.pem'), '--key-file', join(dir, 'key.pem'), '--bundle', join(dir, 'roots.pem'), '--distribute-bundle',
    '--k8s-api', api.url, '--k8s-token-file', join(dir, 'sa-token'), '--k8s-ca-file', api.caFile, '--k8s-server-name', api.serverName]);
  const line = await Promise.race([
    webhook.waitFor(/"msg":"webhook serving"/),
    webhook.exited.then((code) => { throw new Error(`webhook exited with ${code}:\n${webhook.output()}`); }),
  ]);
  port = Number(/:(\d+)$/.exec((JSON.parse(line) as { address: string }).address)![1]);
});
afterAll(async () => {
  agent.destroy();
  await webhook?.stop();
  await api?.close();
});

describe('the webhook takes no orders from reviews', () => {
  it('writes the trust bundle where the API server says pods are meshed, with no review at all', async () => {
    await expect.poll(() => api.configMaps.get('shop/ztmesh-trust-bundle')?.data?.['roots.pem'], { timeout: 10_000 }).toBe(ca.certPem);
  });

  it('answers a fake review for kube-system and 2,000 for namespaces that do not exist, with no API request and no warning', async () => {
    const before = api.requests.length;
    const linesBefore = webhook.lines.length;
    const kubeSystem = await post(reviewFor('kube-system'));
    expect(kubeSystem.status).toBe(200);
    expect(JSON.parse(kubeSystem.body).response).toMatchObject({ uid: 'uid-kube-system', allowed: true, patchType: 'JSONPatch' });
    for (let i = 0; i < 2_000; i += 8) {
      const batch = await Promise.all(Array.from({ length: 8 }, (_, j) => post(reviewFor(`ghost-${i + j}`))));
      for (const r of batch) expect(r.status).toBe(200);
    }
    // The old webhook wrote into kube-system and retried every ghost namespace at once; by now it would have.
    expect(api.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual([]);
    expect(api.configMaps.has('kube-system/ztmesh-trust-bundle')).toBe(false);
    expect(webhook.lines.slice(linesBefore).filter((l) => /"level":"(warn|error)"/.test(l))).toEqual([]);
  });
});
