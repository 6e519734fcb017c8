// Every command that cannot start prints exactly one plain line on stderr, in one style
// ("ztmesh <command>: <what> (<code>)"), and exits 1; the commands that log also log it (JSON, or text when asked).
import { ZTMESH_VERSION } from '../../src/common/version.js';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCa } from '../helpers/ca.js';
import { BIN, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('fatal errors, one plain line for every command', () => {
  let busy: net.Server;
  let busyPort: number;
  let bundle: string;
  let notEmpty: string;
  beforeAll(async () => {
    busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    busyPort = (busy.address() as net.AddressInfo).port;
    bundle = join(await initCa(), 'bundle.pem');
    notEmpty = tempDir('ztmesh-fatal-');
    writeFileSync(join(notEmpty, 'notes.txt'), 'x');
  });
  afterAll(() => busy?.close());

  const cases: [string, () => string[]][] = [
    ['ca init', () => ['ca', 'init', '--dir', '/etc/passwd']],
    ['ca serve', () => ['ca', 'serve', '--dir', '/nonexistent', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0']],
    ['ca token create', () => ['ca', 'token', 'create', '--dir', '/nonexistent', '--spiffe-id', 'spiffe://example.org/a']],
    ['sidecar', () => ['sidecar', '--trust-domain', 'example.org', '--ca-bundle', bundle, '--admin', `127.0.0.1:${busyPort}`, '--health', '127.0.0.1:0']],
    ['webhook', () => ['webhook', '--listen', 'nonsense']],
    ['inject', () => ['inject', '-f', '/nonexistent.yaml']],
    ['status', () => ['status', '--admin', 'not an address']],
    ['iptables', () => ['iptables', '--dry-run', '--proxy-uid', 'root']],
    ['demo', () => ['demo', '--once', '--dir', notEmpty]],
  ];

  it.each(cases)('%s', async (command, args) => {
    const r = await runCli(args());
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^ztmesh ${command}: \\S.* \\([a-z_]+\\)$`));
  });

  it('ca init on a path that is a file says so, not a bare EEXIST', async () => {
    const r = await runCli(['ca', 'init', '--dir', '/etc/passwd']);
    expect(r.stderr).toBe('ztmesh ca init: cannot create the CA directory /etc/passwd: a file is in the way (it exists and is not a directory) (ca_dir_unusable)\n');
  });

  it('the sidecar also logs it: JSON when piped, text with --log-format text or ZTMESH_LOG_FORMAT=text', async () => {
    const args = ['sidecar', '--trust-domain', 'example.org', '--ca-bundle', bundle, '--admin', `127.0.0.1:${busyPort}`, '--health', '127.0.0.1:0'];
    const json = await runCli(args);
    // The first line says which ztmesh this is (docs/design.md "Versions and the image"), the last why it stopped.
    const lines = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ level: 'info', version: ZTMESH_VERSION, msg: `ztmesh sidecar ${ZTMESH_VERSION} starting` });
    expect(lines.at(-1)).toMatchObject({ level: 'fatal', code: 'port_in_use', msg: 'sidecar failed to start', version: ZTMESH_VERSION });
    for (const r of [await runCli([...args, '--log-format', 'text']), await runCli(args, { env: { ZTMESH_LOG_FORMAT: 'text' } })]) {
      expect(r.stdout).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] FATAL: sidecar failed to start \{"code":"port_in_use",/m);
      expect(r.stderr).toMatch(/^ztmesh sidecar: admin: 127\.0\.0\.1:\d+ is already in use \(port_in_use\)\n$/);
    }
    const bad = await runCli([...args, '--log-format', 'xml']);
    expect(bad.stderr).toMatch(/^ztmesh sidecar: invalid sidecar configuration: logFormat = "xml" \(from --log-format\)/);
  });

  it('the CA logs in the same formats, text by default on a terminal', async () => {
    const args = ['ca', 'serve', '--dir', '/nonexistent', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0'];
    const lines = (await runCli(args)).stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ version: ZTMESH_VERSION, msg: `ztmesh ca ${ZTMESH_VERSION} starting` });
    expect(lines.at(-1)).toMatchObject({ level: 'fatal', code: 'ca_dir_missing' });
    expect((await runCli([...args, '--log-format', 'text'])).stdout).toMatch(/^\[[\d:.]+\] FATAL: ztmesh ca failed to start \{"code":"ca_dir_missing"/m);
    // A terminal (script(1) gives the CLI a pty): text, without being asked.
    const tty = spawnSync('script', ['-qec', [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' '), '/dev/null'], { encoding: 'utf8', env: { ...process.env, ZTMESH_LOG_FORMAT: '' } });
    expect(tty.stdout).toMatch(/FATAL.*ztmesh ca failed to start/);
    expect(tty.stdout).not.toContain('"level":');
  });
});
