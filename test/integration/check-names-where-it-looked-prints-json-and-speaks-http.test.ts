// Three things a newcomer met with `ztmesh check`: with no kubeconfig at all it says so and names every place it
// looked (not a phantom context on http://localhost:8080); `-o json` prints JSON on that path too; and a kubeconfig
// whose server is plain http:// (`kubectl proxy`) works. The proxy here forwards to the stand-in API server with the
// admin's token, as `kubectl proxy` forwards with the user's credentials.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { writeFileSync } from 'node:fs';
import { runCli } from '../helpers/cli.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { installHealthy } from '../helpers/k8s-install.js';

let api: FakeApiServer;
let proxy: Server;
let proxyUrl: string;
const home = mkdtempSync(join(tmpdir(), 'ztmesh-check-home-'));

beforeAll(async () => {
  api = await startFakeApiServer();
  await installHealthy(api);
  // `kubectl proxy`: plain HTTP on loopback, every request forwarded with the user's credentials.
  proxy = createServer((req, res) => {
    const { host: _host, ...headers } = req.headers;
    const up = request(`${api.url}${req.url}`, { method: req.method, ca: api.caPem, servername: api.serverName, headers: { ...headers, authorization: `Bearer ${api.adminToken}` } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => proxy?.close(r));
  await api?.close();
  rmSync(home, { recursive: true, force: true });
});

/** The environment of a machine with no kubeconfig: HOME without .kube, no KUBECONFIG, not in a pod. */
const bare = () => ({ HOME: home, KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' });

describe('ztmesh check', () => {
  it('with no kubeconfig anywhere says so, naming where it looked; -o json says it as JSON', async () => {
    const r = await runCli(['check'], { env: bare() });
    expect(r.code).toBe(1);
    const message = `no kubeconfig: looked at $KUBECONFIG (unset), ${home}/.kube/config (no such file) and the in-cluster ServiceAccount (KUBERNETES_SERVICE_HOST unset); pass --kubeconfig FILE or set KUBECONFIG`;
    expect(r.stderr).toBe(`ztmesh check: ${message} (no_kubeconfig)\n`);
    expect(r.stderr).not.toMatch(/localhost:8080|loaded-context/);
    const json = await runCli(['check', '-o', 'json'], { env: bare() });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({ ok: false, namespace: 'ztmesh-system', pre: false, error: { code: 'no_kubeconfig', message } });
  });

  it('a $KUBECONFIG naming missing files names them', async () => {
    const r = await runCli(['check', '-o', 'json'], { env: { ...bare(), KUBECONFIG: '/nonexistent/a:/nonexistent/b' } });
    expect(JSON.parse(r.stdout).error.message).toBe('no kubeconfig: looked at $KUBECONFIG (/nonexistent/a: no such file, /nonexistent/b: no such file); pass --kubeconfig FILE or set KUBECONFIG');
  });

  it('a plain-HTTP server (kubectl proxy) works, without credentials of its own', async () => {
    const file = join(home, 'proxy-kubeconfig');
    writeFileSync(file, stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'proxy',
      clusters: [{ name: 'proxy', cluster: { server: proxyUrl } }], users: [{ name: 'proxy', user: {} }], contexts: [{ name: 'proxy', context: { cluster: 'proxy', user: 'proxy' } }],
    }), { mode: 0o600 });
    const r = await runCli(['check', '--kubeconfig', file, '-o', 'json']);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ ok: true, context: 'proxy', server: proxyUrl });
    expect(report.checks.find((c: { id: string }) => c.id === 'ca-secret').status).toBe('ok');
    expect(r.code).toBe(0);
  });
});
