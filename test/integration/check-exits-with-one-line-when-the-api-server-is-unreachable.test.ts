// `ztmesh check` against an API server that does not answer (or a kubeconfig it cannot use) prints one plain line
// naming the server or the file, not a stack trace, and exits 1; with -o json, stdout holds the same as JSON.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { writeKubeconfig } from '../helpers/k8s-install.js';

let api: FakeApiServer;
let deadPort: number;
beforeAll(async () => {
  api = await startFakeApiServer();
  const s = net.createServer();
  deadPort = await new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as net.AddressInfo).port)));
  await new Promise((r) => s.close(r));
});
afterAll(async () => { await api?.close(); });

describe('ztmesh check without an API server', () => {
  it('one line naming the context and the server, exit 1; stdout empty, or the JSON of it with -o json', async () => {
    const kubeconfig = writeKubeconfig(api, { gone: { user: { token: api.adminToken }, server: `https://127.0.0.1:${deadPort}` } });
    const line = `cannot reach the Kubernetes API server of context gone: GET https://127.0.0.1:${deadPort}/version: ECONNREFUSED connect ECONNREFUSED 127.0.0.1:${deadPort}`;
    for (const args of [[], ['--pre'], ['-o', 'json']]) {
      const r = await runCli(['check', '--kubeconfig', kubeconfig, ...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`ztmesh check: ${line} (k8s_unreachable)\n`);
      if (args[0] !== '-o') expect(r.stdout).toBe('');
      else expect(JSON.parse(r.stdout)).toEqual({ ok: false, context: 'gone', server: `https://127.0.0.1:${deadPort}`, namespace: 'ztmesh-system', pre: false, error: { code: 'k8s_unreachable', message: line } });
    }
  });

  it('one line for credentials the API server refuses, a missing kubeconfig and an unknown context', async () => {
    const refused = await runCli(['check', '--kubeconfig', writeKubeconfig(api, { stale: { user: { token: 'expired-token' } } })]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^ztmesh check: the Kubernetes API server https:\/\/127\.0\.0\.1:\d+ refused the credentials of context stale \(HTTP 401\) \(k8s_unauthorized\)\n$/);
    const missing = await runCli(['check', '--kubeconfig', '/nonexistent/kubeconfig']);
    expect(missing.stderr).toBe('ztmesh check: --kubeconfig /nonexistent/kubeconfig: no such file (kubeconfig_invalid)\n');
    const ctx = await runCli(['check', '--kubeconfig', writeKubeconfig(api, { a: { user: { token: 'x' } } }), '--context', 'b']);
    expect(ctx.stderr).toMatch(/^ztmesh check: --context b: not in --kubeconfig .* \(contexts: a\) \(unknown_context\)\n$/);
  });
});
