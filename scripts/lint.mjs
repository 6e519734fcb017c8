// Project lint: bans focused tests, silent skips and imports against the layer order.
// Layer order (DESIGN.md/STYLE.md): common → pki → {identity, ca} → sidecar → cli; admin and k8s sit beside.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';

const root = process.env.ZTMESH_LINT_ROOT ?? resolve(dirname(new URL(import.meta.url).pathname), '..');
const problems = [];

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.(ts|mts|mjs|js)$/.test(name)) out.push(p);
  }
  return out;
}

const testFiles = ['test', 'bench'].flatMap((d) => { try { return walk(join(root, d)); } catch { return []; } });
for (const f of testFiles) {
  const lines = readFileSync(f, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (/\b(it|test|describe)\.only\s*\(|\bfit\(|\bfdescribe\(/.test(line)) problems.push(`${relative(root, f)}:${i + 1}: focused test (.only)`);
    if (/\b(it|test|describe)\.(skip|todo)\s*\(/.test(line)) problems.push(`${relative(root, f)}:${i + 1}: skipped test without a printed reason (use skipIf with a logged reason)`);
  });
}

// Which parts each part may import (besides itself and gen/).
const ALLOWED = {
  gen: [],
  common: ['gen'],
  pki: ['common'],
  identity: ['common', 'pki', 'gen'],
  ca: ['common', 'pki', 'gen', 'admin'],
  admin: ['common'],
  k8s: ['common', 'pki', 'ca', 'identity', 'admin'],
  sidecar: ['common', 'pki', 'identity', 'admin'],
  cli: ['common', 'pki', 'identity', 'ca', 'admin', 'k8s', 'sidecar', 'gen'],
};
const srcRoot = join(root, 'src');
for (const f of walk(srcRoot)) {
  const part = relative(srcRoot, f).split('/')[0];
  const src = readFileSync(f, 'utf8');
  for (const m of src.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g)) {
    const target = relative(srcRoot, resolve(dirname(f), m[1])).split('/')[0];
    if (target === part || target.startsWith('..')) continue;
    if (!(ALLOWED[part] ?? []).includes(target)) problems.push(`${relative(root, f)}: ${part}/ must not import ${target}/ (${m[1]})`);
  }
  if (/\b(it|describe)\.only\(/.test(src)) problems.push(`${relative(root, f)}: .only in source`);
}

if (problems.length) {
  console.error(`lint: ${problems.length} problem(s)\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('lint: ok');
