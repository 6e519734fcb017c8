// `ztmesh ca serve` exits non-zero naming ca.key when the key cannot be read or used.
// Tests run as root in CI, where chmod 000 does not stop reads; so "unreadable" is a directory, garbage and a wrong key.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateKeySync, privateKeyPem } from '../../src/pki/index.js';
import { runCli } from '../helpers/cli.js';
import { initCa } from '../helpers/ca.js';

const serve = (dir: string) => runCli(['ca', 'serve', '--dir', dir, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
let dir: string;
beforeAll(async () => { dir = await initCa(); });

describe('ca serve fails when the key is unreadable', () => {
  it('exits 1 naming ca.key when it is not a private key', async () => {
    writeFileSync(join(dir, 'ca.key'), 'garbage', { mode: 0o600 });
    const r = await serve(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(dir, 'ca.key')}: not a readable private key`);
  });

  it('exits 1 naming ca.key when it cannot be read', async () => {
    rmSync(join(dir, 'ca.key'));
    mkdirSync(join(dir, 'ca.key'));
    const r = await serve(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`${join(dir, 'ca.key')}: cannot read \\(EISDIR\\)`));
    rmSync(join(dir, 'ca.key'), { recursive: true });
  });

  it('exits 1 naming both files when ca.key does not match ca.pem', async () => {
    writeFileSync(join(dir, 'ca.key'), privateKeyPem(generateKeySync()), { mode: 0o600 });
    const r = await serve(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(dir, 'ca.key')} does not match the certificate in ${join(dir, 'ca.pem')}`);
  });
});
