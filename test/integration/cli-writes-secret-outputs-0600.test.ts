// Files that hold a secret are 0600 whoever writes them: `ca init --k8s-secret FILE` (the CA key inside) and
// `ca token create --out FILE`, and stdout redirected by the shell to a file under umask 022. Neither replaces a file
// it did not write, and a refused file leaves nothing half done (no CA made, no token minted).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, runCli } from '../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'ztmesh-secret-out-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const mode = (f: string) => statSync(f).mode & 0o777;
const ID = 'spiffe://example.org/ns/default/sa/web';

/** Runs ztmesh through a shell under umask 022, as a person types it, with stdout redirected to `out`. */
function shell(args: string[], out: string): Promise<number | null> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ');
  return new Promise((resolve) => execFile('sh', ['-c', `umask 022; ${quoted} > '${out}'`], (err) => resolve(err ? (err as { code?: number }).code ?? 1 : 0)));
}

describe('secret outputs', () => {
  it('ca init --k8s-secret FILE writes the manifests 0600 and never over another file', async () => {
    const file = join(tmp, 'secret.yaml');
    const r = await runCli(['ca', 'init', '--dir', join(tmp, 'ca'), '--trust-domain', 'example.org', '--k8s-secret', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(mode(file)).toBe(0o600);
    const [secret] = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS());
    expect(Buffer.from(secret.data['ca.key'], 'base64').toString()).toBe(readFileSync(join(tmp, 'ca', 'ca.key'), 'utf8'));

    const other = join(tmp, 'notes.txt');
    writeFileSync(other, 'mine\n');
    const refused = await runCli(['ca', 'init', '--dir', join(tmp, 'ca2'), '--trust-domain', 'example.org', '--k8s-secret', other]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`--k8s-secret ${other}: the file exists; remove it or name another file (output_exists)`);
    expect(readFileSync(other, 'utf8')).toBe('mine\n');
    expect(existsSync(join(tmp, 'ca2'))).toBe(false);
  });

  it('stdout redirected to a file by the shell is made 0600 before the CA key is written into it', async () => {
    const file = join(tmp, 'redirected.yaml');
    expect(await shell(['ca', 'init', '--dir', join(tmp, 'ca3'), '--trust-domain', 'example.org', '--k8s-secret'], file)).toBe(0);
    expect(mode(file)).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toContain('name: ztmesh-ca-signing');
    const token = join(tmp, 'redirected.token');
    expect(await shell(['ca', 'token', 'create', '--dir', join(tmp, 'ca3'), '--spiffe-id', ID], token)).toBe(0);
    expect(mode(token)).toBe(0o600);
  });

  it('ca token create --out FILE writes the token 0600, replaces an earlier token, and nothing else', async () => {
    const dir = join(tmp, 'ca');
    const file = join(tmp, 'web.token');
    const first = await runCli(['ca', 'token', 'create', '--dir', dir, '--spiffe-id', ID, '--out', file]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe('');
    expect(first.stderr).toContain(`written to ${file} (mode 0600)`);
    expect(mode(file)).toBe(0o600);
    const token = readFileSync(file, 'utf8');
    expect(token).toMatch(/^ztjt_[A-Za-z0-9_-]{43}\n$/);
    expect(first.stderr).not.toContain(token.trim());

    expect((await runCli(['ca', 'token', 'create', '--dir', dir, '--spiffe-id', ID, '--out', file])).code).toBe(0);
    expect(readFileSync(file, 'utf8')).not.toBe(token);
    expect(mode(file)).toBe(0o600);

    const records = () => readdirSync(join(dir, 'tokens')).filter((n) => n.endsWith('.json')).length;
    const before = records();
    const other = join(tmp, 'config.yaml');
    writeFileSync(other, 'trustDomain: example.org\n');
    const refused = await runCli(['ca', 'token', 'create', '--dir', dir, '--spiffe-id', ID, '--out', other]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`--out ${other}: the file exists and does not hold a join token; remove it or name another file (output_exists)`);
    expect(readFileSync(other, 'utf8')).toBe('trustDomain: example.org\n');
    expect(records()).toBe(before);
  });
});
