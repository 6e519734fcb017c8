// `ztmesh ca init --k8s-secret` writes the CA files and prints the Secret and ConfigMap that deploy/ mounts.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('ca init --k8s-secret', () => {
  it('prints Secret ztmesh-ca-signing and ConfigMap ztmesh-trust-bundle matching the files, and refuses to run twice', async () => {
    const dir = join(tempDir('ztmesh-init-'), 'ca');
    const r = await runCli(['ca', 'init', '--dir', dir, '--trust-domain', 'example.org', '--k8s-secret']);
    expect(r.code).toBe(0);
    expect(statSync(join(dir, 'ca.key')).mode & 0o777).toBe(0o600);
    const [secret, cm] = parseAllDocuments(r.stdout).map((d) => d.toJS());
    expect(secret.metadata).toMatchObject({ name: 'ztmesh-ca-signing', namespace: 'ztmesh-system' });
    for (const f of ['ca.pem', 'ca.key', 'bundle.pem']) expect(Buffer.from(secret.data[f], 'base64').toString()).toBe(readFileSync(join(dir, f), 'utf8'));
    expect(cm.metadata).toMatchObject({ name: 'ztmesh-trust-bundle', namespace: 'ztmesh-system' });
    expect(cm.data['roots.pem']).toBe(readFileSync(join(dir, 'bundle.pem'), 'utf8'));
    expect(r.stderr).not.toContain('PRIVATE KEY');

    const again = await runCli(['ca', 'init', '--dir', dir, '--trust-domain', 'example.org']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('refusing to overwrite');
  });
});
