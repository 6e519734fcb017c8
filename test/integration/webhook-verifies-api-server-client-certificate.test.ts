// With --client-ca (the CA of the client certificate kube-apiserver presents, from its admission-control config), a
// real `ztmesh webhook` answers POST /inject only to a client whose certificate chains to it: no certificate, or one
// from another CA, gets 401 before its body is read, and one warn line names the peer, the code and why. A bad
// --client-ca file stops start-up naming the flag.
import { request } from 'node:https';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess, runCli } from '../helpers/cli.js';
import { makeCa, makeLeaf, type TestLeaf } from '../helpers/pki.js';
import { admissionFixture } from '../helpers/webhook-client.js';
import { tempDir } from '../helpers/temp-dir.js';

const SERVER_NAME = 'ztmesh-webhook.ztmesh-system.svc';
const servingCa = makeCa('cluster.local');
const apiServerCa = makeCa('apiserver.test');
const apiServer = makeLeaf(apiServerCa, 'spiffe://apiserver.test/kube-apiserver');
const stranger = makeLeaf(makeCa('apiserver.test'), 'spiffe://apiserver.test/kube-apiserver');
const dir = tempDir('ztmesh-webhook-client-ca-');
let webhook: CliProcess;
let port: number;

function post(client?: TestLeaf): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, path: '/inject', method: 'POST', ca: servingCa.certPem, servername: SERVER_NAME, agent: false,
      ...(client ? { cert: client.certPem, key: client.keyPem } : {}), headers: { 'content-type': 'application/json' },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(admissionFixture()));
  });
}

const args = (clientCa: string) => ['webhook', '--listen', '127.0.0.1:0', '--health', '127.0.0.1:0', '--image', 'ghcr.io/ztmesh/ztmesh:test',
  '--cert-file', join(dir, 'cert.pem'), '--key-file', join(dir, 'key.pem'), '--bundle', join(dir, 'roots.pem'), '--client-ca', clientCa];

beforeAll(async () => {
  const leaf = makeLeaf(servingCa, 'spiffe://cluster.local/ns/ztmesh-system/sa/ztmesh-webhook', { dnsNames: [SERVER_NAME] });
  writeFileSync(join(dir, 'cert.pem'), leaf.certPem);
  writeFileSync(join(dir, 'key.pem'), leaf.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'roots.pem'), servingCa.certPem);
  writeFileSync(join(dir, 'client-ca.pem'), apiServerCa.certPem);
  webhook = new CliProcess(args(join(dir, 'client-ca.pem')));
  const line = await Promise.race([
    webhook.waitFor(/"msg":"webhook serving"/),
    webhook.exited.then((code) => { throw new Error(`webhook exited with ${code}:\n${webhook.output()}`); }),
  ]);
  port = Number(/:(\d+)$/.exec((JSON.parse(line) as { address: string }).address)![1]);
});
afterAll(async () => {
  await webhook?.stop();
});

describe('--client-ca', () => {
  it('answers the API server\'s client certificate', async () => {
    const r = await post(apiServer);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
  });

  it('refuses a client without a certificate, and one from another CA, naming peer and reason', async () => {
    expect(await post()).toMatchObject({ status: 401, body: expect.stringContaining('(client_cert_refused)') });
    expect(await post(stranger)).toMatchObject({ status: 401, body: expect.stringContaining('(client_cert_refused)') });
    await expect.poll(() => webhook.json().filter((l) => l.code === 'client_cert_refused')).toHaveLength(2);
    const [none, other] = webhook.json().filter((l) => l.code === 'client_cert_refused');
    expect(none).toMatchObject({ level: 'warn', peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/), msg: expect.stringContaining('no client certificate') });
    expect(String(other!.msg)).toMatch(/the certificate does not verify: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT)/);
  });

  it('a --client-ca file that holds no certificate stops start-up, naming the flag', async () => {
    writeFileSync(join(dir, 'empty.pem'), 'nothing here\n');
    const r = await runCli(args(join(dir, 'empty.pem')));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ztmesh webhook: --client-ca .*empty\.pem: no PEM certificate found \(invalid_flag\)/);
  });
});
