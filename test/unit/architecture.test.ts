// Checks the layer order of STYLE.md: dependencies point one way and nothing imports cli/.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const lint = fileURLToPath(new URL('../../scripts/lint.mjs', import.meta.url));
const run = (root?: string) => spawnSync(process.execPath, [lint], { env: { ...process.env, ...(root ? { ZTMESH_LINT_ROOT: root } : {}) }, encoding: 'utf8' });

describe('architecture', () => {
  it('the project has no import against the layer order and no focused tests', () => {
    const r = run();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('refuses a lower layer importing a higher one, and a focused test', () => {
    const root = mkdtempSync(join(tmpdir(), 'ztmesh-lint-'));
    mkdirSync(join(root, 'src/pki'), { recursive: true });
    mkdirSync(join(root, 'src/cli'), { recursive: true });
    mkdirSync(join(root, 'test'), { recursive: true });
    writeFileSync(join(root, 'src/cli/x.ts'), 'export const x = 1;\n');
    writeFileSync(join(root, 'src/pki/y.ts'), "import { x } from '../cli/x.js';\nexport const y = x;\n");
    writeFileSync(join(root, 'test/z.test.ts'), `${['it', 'only'].join('.')}('z', () => {});\n`);
    const r = run(root);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('pki/ must not import cli/');
    expect(r.stderr).toContain('focused test');
  });
});
