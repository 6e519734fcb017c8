// The Kubernetes flow without Kubernetes: a real `ztmesh ca serve --k8s-token-review` (API server = the stand-in)
// and a real `ztmesh sidecar` started with exactly the environment `ztmesh inject` gives it, a projected-style
// token in the token file, get an SVID for spiffe://cluster.local/ns/<ns>/sa/<sa>.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_PATH, TOKEN_PATH } from '../../src/common/mesh.js';
import { DEFAULT_INJECT_OPTIONS, injectPod, SIDECAR_NAME } from '../../src/k8s/inject.js';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { CliProcess } from '../helpers/cli.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { tempDir } from '../helpers/temp-dir.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const NS = 'shop';
const SA = 'web';
let api: FakeApiServer;
let ca: TestCaServer;
let sidecar: CliProcess;
let admin: string;
let token: string;

/** The kubelet's side: downward API values, $(VAR) expansion, and the volume mounts mapped to temp files. */
function podEnv(container: Obj, mounts: Record<string, string>): NodeJS.ProcessEnv {
  const fields: Record<string, string> = { 'metadata.name': 'web-7d9f8b6c5d-x2x9q', 'metadata.namespace': NS, 'spec.serviceAccountName': SA };
  const env: Record<string, string> = {};
  for (const e of container.env as Obj[]) {
    const value = e.valueFrom ? fields[e.valueFrom.fieldRef.fieldPath]! : String(e.value).replace(/\$\((\w+)\)/g, (_, n: string) => env[n] ?? '');
    env[e.name] = mounts[value] ?? value;
  }
  return env;
}

beforeAll(async () => {
  api = await startFakeApiServer();
  ca = await startCa({
    trustDomain: 'cluster.local',
    args: ['--k8s-token-review', '--k8s-api', api.url, '--k8s-ca-file', api.caFile, '--k8s-token-file', api.tokenFile, '--k8s-server-name', api.serverName],
  });
  // What the injector puts in the pod, pointed at this CA.
  const pod = { metadata: { name: 'web' }, spec: { serviceAccountName: SA, containers: [{ name: 'app', image: 'nginx' }] } };
  const injected = injectPod(pod, { ...DEFAULT_INJECT_OPTIONS, mode: 'explicit', caAddress: ca.address }).pod;
  const container = injected.spec!.initContainers!.find((c) => c.name === SIDECAR_NAME) as Obj;
  // The projected token volume and the trust-bundle ConfigMap volume, as files.
  const dir = tempDir('ztmesh-k8s-e2e-');
  token = await api.mintToken({ namespace: NS, serviceAccount: SA, pod: 'web-7d9f8b6c5d-x2x9q' });
  writeFileSync(join(dir, 'token'), token);
  writeFileSync(join(dir, 'roots.pem'), ca.bundlePem);
  const env = podEnv(container, { [TOKEN_PATH]: join(dir, 'token'), [BUNDLE_PATH]: join(dir, 'roots.pem') });
  expect(env.ZTMESH_CA_TOKEN_FILE).toBe(join(dir, 'token'));
  // Ports: the pod's fixed health port would collide on a shared test machine.
  env.ZTMESH_HEALTH = '127.0.0.1:0';
  env.ZTMESH_ADMIN = '127.0.0.1:0';
  sidecar = new CliProcess(container.args as string[], env);
  const line = await Promise.race([
    sidecar.waitFor(/"msg":"admin listening"/),
    sidecar.exited.then((code) => { throw new Error(`sidecar exited with ${code}:\n${sidecar.output()}`); }),
  ]);
  admin = `http://${(JSON.parse(line) as { admin: string }).admin}`;
});
afterAll(async () => {
  await sidecar?.stop();
  await ca?.stop();
  await api?.close();
});

describe('Kubernetes flow without Kubernetes', () => {
  it('the injected sidecar gets spiffe://cluster.local/ns/shop/sa/web from the CA via TokenReview', async () => {
    let status: Obj = {};
    await expect.poll(async () => {
      status = await (await fetch(`${admin}/status`)).json() as Obj;
      return status.identity?.state;
    }, { timeout: 20_000, interval: 100 }).toBe('available');
    expect(status.identity.spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/web');
    expect((await fetch(`${admin}/readyz`)).status).toBe(200);
    const certs = await (await fetch(`${admin}/certs`)).text();
    expect(certs).toContain('BEGIN CERTIFICATE');
  });

  it('the CA reviewed the token with the API server, with audience ztmesh-ca', () => {
    const reviews = api.requests.filter((r) => r.path === '/apis/authentication.k8s.io/v1/tokenreviews');
    expect(reviews.length).toBeGreaterThanOrEqual(1);
    expect(reviews[0]!.body.spec).toEqual({ token, audiences: ['ztmesh-ca'] });
  });

  it('the token appears in no log', () => {
    expect(sidecar.output()).not.toContain(token);
    expect(ca.process.output()).not.toContain(token);
  });
});
