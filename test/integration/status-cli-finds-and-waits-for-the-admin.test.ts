// `ztmesh status` finds the admin however it is written (a port, host:port or a URL; a bare port is local, never a
// host named "15000"), says clearly when what answers is not a ztmesh sidecar, and `--wait` rides out the start-up
// race of `ztmesh sidecar … & ztmesh status` that otherwise fails with ECONNREFUSED.
import http from 'node:http';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { freePort } from '../helpers/datapath.js';
import { startSidecar } from '../helpers/sidecar.js';

describe('ztmesh status --admin and --wait', () => {
  let ca: TestCaServer;
  let web: http.Server;
  let webPort: number;
  beforeAll(async () => {
    ca = await startCa();
    web = http.createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<html>hello</html>'); });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
    webPort = (web.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    web?.close();
    await ca?.stop();
  });

  it('a web server that is not a ztmesh sidecar: a clear message, exit 2, reached through a bare port', async () => {
    const r = await runCli(['status', '--admin', String(webPort)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`ztmesh status: http://127.0.0.1:${webPort} answered, but not as a ztmesh sidecar admin (HTTP 200, text/html, not JSON); is --admin the sidecar's admin address (default 127.0.0.1:15000)?\n`);
    expect(r.stderr).not.toMatch(/Unexpected token|not valid JSON/);
  });

  it('--wait waits for a sidecar that is still starting, then exits 0 once it is available', async () => {
    const port = await freePort();
    const waiting = runCli(['status', '--admin', `127.0.0.1:${port}`, '--wait', '20s'], { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 300)); // status starts first, as after `ztmesh sidecar … &`
    const sc = await startSidecar({ ca, args: ['--admin', `127.0.0.1:${port}`] });
    try {
      const r = await waiting;
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^State\s+available$/m);
      // Every form of --admin reaches the same sidecar.
      for (const form of [String(port), `:${port}`, `127.0.0.1:${port}`, `http://127.0.0.1:${port}/`]) {
        expect((await runCli(['status', '--admin', form])).code).toBe(0);
      }
    } finally {
      await sc.stop();
    }
  });

  it('--wait gives up after its duration with the last reason', async () => {
    const port = await freePort();
    const started = Date.now();
    const r = await runCli(['status', '--admin', String(port), '--wait', '1s']);
    expect(r.code).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(r.stderr).toBe(`ztmesh status: cannot reach the sidecar admin at http://127.0.0.1:${port}: ECONNREFUSED\n`);
  });

  it('a malformed --admin or --wait is named', async () => {
    expect((await runCli(['status', '--admin', 'not an address'])).stderr).toContain('ztmesh status: --admin "not an address": give a port');
    expect((await runCli(['status', '--wait', 'soon'])).stderr).toBe('ztmesh status: --wait "soon": not a duration (e.g. 30s, 2m) (invalid_flag)\n');
  });
});
