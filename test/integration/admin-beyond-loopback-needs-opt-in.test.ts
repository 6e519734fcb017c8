// An admin bound beyond loopback is a decision, not an accident: without the opt-in (`--admin-allow-remote`,
// `adminAllowRemote`, `ZTMESH_ADMIN_ALLOW_REMOTE`) the sidecar and the CA refuse to start with the stable code
// admin_remote_not_allowed; with it they start, warn once, and answer a client that addresses them by their own IP.
import { networkInterfaces } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { initCa, startCa, type TestCaServer } from '../helpers/ca.js';
import { runCli } from '../helpers/cli.js';
import { makeCa } from '../helpers/pki.js';
import { startSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { adminRequest } from '../helpers/admin-http.js';

const running: { stop(): Promise<unknown> }[] = [];
afterAll(async () => { for (const r of running) await r.stop(); });

/** A non-loopback IPv4 address of this machine, if it has one. */
const externalIp = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
if (!externalIp) console.warn('admin-beyond-loopback-needs-opt-in: no non-loopback IPv4 address here; the own-address request is made over 127.0.0.1 only');

describe('sidecar admin beyond loopback', () => {
  it('fails startup without the opt-in, naming the address, its source and the key', async () => {
    for (const [args, env, source] of [[['--admin', '0.0.0.0:0'], {}, '--admin'], [[], { ZTMESH_ADMIN: '0.0.0.0:0' }, 'ZTMESH_ADMIN']] as const) {
      const r = await runCli(['sidecar', ...args], { env: { ...env } });
      expect(r.code).toBe(1);
      const fatal = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.level === 'fatal');
      expect(fatal).toMatchObject({ code: 'admin_remote_not_allowed', msg: 'sidecar failed to start' });
      expect(String(fatal!.err)).toContain(`admin (from ${source}) "0.0.0.0:0" is not a loopback address`);
      expect(String(fatal!.err)).toContain('adminAllowRemote: true (--admin-allow-remote, ZTMESH_ADMIN_ALLOW_REMOTE=true)');
    }
  });

  it('starts with --admin-allow-remote, warns once, and answers a request addressed to its own IP', async () => {
    const sc: TestSidecar = await startSidecar({ caAddress: '127.0.0.1:1', bundlePem: makeCa('example.org').certPem, args: ['--admin', '0.0.0.0:0', '--admin-allow-remote'] });
    running.push(sc);
    const warn = JSON.parse(await sc.proc.waitFor(/non-loopback/)) as Record<string, unknown>;
    expect(warn).toMatchObject({ level: 'warn', what: 'admin', address: expect.stringMatching(/^0\.0\.0\.0:\d+$/) });
    expect(sc.proc.lines.filter((l) => l.includes('non-loopback'))).toHaveLength(1);
    const port = Number(new URL(sc.admin).port);
    const ip = externalIp ?? '127.0.0.1';
    expect((await adminRequest(`http://${ip}:${port}`, { path: '/status' })).status).toBe(200);
    expect((await adminRequest(`http://${ip}:${port}`, { path: '/status', headers: { Host: `evil.example:${port}` } })).status).toBe(403);
    expect((await adminRequest(`http://${ip}:${port}`, { path: '/status', headers: { Host: `10.255.255.254:${port}` } })).status).toBe(403);
  });
});

describe('CA admin beyond loopback', () => {
  it('fails startup without --admin-allow-remote, with the stable code', async () => {
    const dir = await initCa();
    const r = await runCli(['ca', 'serve', '--dir', dir, '--listen', '127.0.0.1:0', '--admin', '0.0.0.0:0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--admin "0.0.0.0:0" is not a loopback address');
    expect(r.stderr).toContain('--admin-allow-remote');
    expect(r.stderr).toContain('(admin_remote_not_allowed)');
  });

  it('starts with --admin-allow-remote and warns once', async () => {
    const ca: TestCaServer = await startCa({ args: ['--admin', '0.0.0.0:0', '--admin-allow-remote'] });
    running.push(ca);
    const warn = JSON.parse(await ca.process.waitFor(/non-loopback/)) as Record<string, unknown>;
    expect(warn).toMatchObject({ level: 'warn', what: '--admin', address: expect.stringMatching(/^0\.0\.0\.0:\d+$/) });
    expect(ca.adminAddress).toMatch(/^0\.0\.0\.0:\d+$/);
    const port = ca.adminAddress.split(':')[1];
    expect((await adminRequest(`http://127.0.0.1:${port}`, { path: '/healthz' })).status).toBe(200);
  });
});
