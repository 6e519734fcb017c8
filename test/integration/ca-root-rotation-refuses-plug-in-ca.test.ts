// With a plug-in CA (ca.pem an intermediate under the operator's root, chain.pem above it), ztmesh does not hold the
// root's key: `ca root prepare|activate|retire` refuse with `plugin_ca_root_rotation` and leave every file as it was,
// and `ca root status` says the root belongs to the operator's PKI.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { makeCa, makeIntermediate } from '../helpers/pki.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('ca root on a plug-in CA', () => {
  it('refuses every step, changes nothing, and status names the plug-in CA', async () => {
    const root = makeCa('corp.example');
    const mid = makeIntermediate(root);
    const issuing = makeIntermediate(mid);
    const dir = join(tempDir('ztmesh-plugin-root-'), 'ca');
    mkdirSync(dir);
    writeFileSync(join(dir, 'ca.pem'), issuing.certPem);
    writeFileSync(join(dir, 'ca.key'), issuing.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'chain.pem'), mid.certPem);
    writeFileSync(join(dir, 'bundle.pem'), root.certPem);
    const before = readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]);

    for (const step of [['prepare'], ['activate'], ['retire', '--force']]) {
      const r = await runCli(['ca', 'root', ...step, '--dir', dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^ztmesh ca root ${step[0]}: .*ca\\.pem is an intermediate under your own root \\(plug-in CA\\): ztmesh does not hold that root's key.*\\(plugin_ca_root_rotation\\)\\n$`));
    }
    expect(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')])).toEqual(before);

    const status = await runCli(['ca', 'root', 'status', '--dir', dir]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/Trust domain\s+corp\.example \(plug-in CA\)/);
    expect(status.stdout).toMatch(/active\s+sha256:[0-9a-f]{16}… O=ztmesh, CN=ztmesh root CA corp\.example/);
    expect(status.stdout).toContain('rotate that root with your PKI');
  });
});
