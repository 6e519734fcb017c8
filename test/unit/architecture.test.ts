// Checks the layer order of docs/design.md "Layers": dependencies point one way, nothing imports cli/, and no import
// cycle exists, between folders or within one, type-only imports included.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-dir.js';

const lint = fileURLToPath(new URL('../../scripts/lint.mjs', import.meta.url));
/** A throwaway checkout holding `files` (path → text). */
function plant(files: Record<string, string>): string {
  const root = tempDir('ztmesh-lint-');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}
const run = (root?: string) => spawnSync(process.execPath, [lint], { env: { ...process.env, ...(root ? { ZTMESH_LINT_ROOT: root } : {}) }, encoding: 'utf8' });

describe('architecture', () => {
  it('the project has no import against the layer order and no focused tests', () => {
    const r = run();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('refuses a lower layer importing a higher one, and a focused test', () => {
    const root = tempDir('ztmesh-lint-');
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

  it('refuses an import cycle within a folder (type-only imports too) and one between folders, and names its files', () => {
    const root = plant({
      // Within one folder, by types only: a.ts → b.ts → a.ts.
      'src/common/a.ts': "import type { B } from './b.js';\nexport interface A { b?: B }\n",
      'src/common/b.ts': "import type { A } from './a.js';\nexport interface B { a?: A }\n",
      // Across two folders of one part, through a re-export: inbound → tunnel → inbound.
      'src/sidecar/inbound/route.ts': "export { target } from '../tunnel/target.js';\nexport const route = 1;\n",
      'src/sidecar/tunnel/target.ts': "import { route } from '../inbound/route.js';\nexport const target = route;\n",
      // A chain without a cycle is fine.
      'src/common/c.ts': "import type { A } from './a.js';\nexport type C = A;\n",
    });
    const r = run(root);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('import cycle: src/common/a.ts ↔ src/common/b.ts');
    expect(r.stderr).toContain('import cycle: src/sidecar/inbound/route.ts ↔ src/sidecar/tunnel/target.ts');
    expect(r.stderr).not.toContain('c.ts');
  });

  it('refuses a citation of a document outside the repository, and a path that leads out of it', () => {
    const root = tempDir('ztmesh-lint-');
    for (const d of ['src/common', 'docs', 'test', 'bench']) mkdirSync(join(root, d), { recursive: true });
    const design = ['DESIGN', 'md'].join('.');
    const style = ['STYLE', 'md'].join('.');
    writeFileSync(join(root, 'src/common/a.ts'), `// The ports of ${design} "Ports".\nexport const a = 1;\n`);
    writeFileSync(join(root, 'docs/b.md'), `See [the style](${['..', 'shared', style].join('/')}).\n`);
    writeFileSync(join(root, 'docs/design.md'), `This page replaces ${design}.\n`);
    writeFileSync(join(root, 'test/c.test.ts'), `export const p = '${'../'.repeat(3)}etc/passwd';\nexport const inside = '../src/common/a.js';\n`);
    writeFileSync(join(root, 'bench/d.mjs'), `// notes in ${['', 'work', 'shared', 'notes.md'].join('/')}\n`);
    const r = run(root);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`src/common/a.ts:1: cites ${design}`);
    expect(r.stderr).toContain(`docs/b.md:1: cites ${style}`);
    expect(r.stderr).toContain(`docs/b.md:1: points to ${['..', 'shared'].join('/')}`);
    expect(r.stderr).toContain(`test/c.test.ts:1: ${'../'.repeat(3)}etc/passwd leads outside the repository`);
    expect(r.stderr).toContain(`bench/d.mjs:1: ${['', 'work', 'shared', 'notes.md'].join('/')} is a path outside the repository`);
    expect(r.stderr).not.toMatch(/^docs\/design\.md:/m);
    expect(r.stderr).not.toContain('test/c.test.ts:2');
  });

  it('refuses a runtime dependency src/ does not import, an import of an undeclared package and an unused devDependency', () => {
    const root = tempDir('ztmesh-lint-');
    mkdirSync(join(root, 'src/common'), { recursive: true });
    mkdirSync(join(root, 'test'), { recursive: true });
    writeFileSync(join(root, 'package.json'), JSON.stringify({
      dependencies: { 'used-at-runtime': '1', 'only-in-tests': '1' },
      devDependencies: { 'used-by-tests': '1', 'used-by-nothing': '1', '@types/node': '1' },
    }));
    writeFileSync(join(root, 'src/common/x.ts'), "import { a } from 'used-at-runtime';\nimport b from 'undeclared/sub';\nimport { readFile } from 'node:fs';\nexport const x = [a, b, readFile];\n");
    writeFileSync(join(root, 'test/y.test.ts'), "import 'only-in-tests';\nimport { z } from 'used-by-tests';\nexport const y = z;\n");
    const r = run(root);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('dependency only-in-tests is not imported by src/');
    expect(r.stderr).toContain('src/common/x.ts: imports undeclared, which is not in package.json "dependencies"');
    expect(r.stderr).toContain('devDependency used-by-nothing is used by no test');
    for (const fine of ['used-at-runtime', 'used-by-tests', '@types/node', 'node:fs']) expect(r.stderr).not.toContain(` ${fine}`);
  });
});
