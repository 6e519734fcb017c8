// Project lint: bans focused tests, silent skips, imports against the layer order (docs/design.md "Layers"), import cycles,
// references to documents or paths outside the repository, and dependencies that do not match their use.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative, dirname, resolve, sep } from 'node:path';

const root = process.env.ZTMESH_LINT_ROOT ?? resolve(dirname(new URL(import.meta.url).pathname), '..');
const problems = [];

function walk(dir, pattern = /\.(ts|mts|mjs|js)$/) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p, pattern));
    else if (pattern.test(name)) out.push(p);
  }
  return out;
}
const walkIfThere = (d, pattern) => { try { return walk(join(root, d), pattern); } catch { return []; } };

const testFiles = ['test', 'bench'].flatMap((d) => walkIfThere(d));
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
  policy: ['common', 'pki'],
  'front-door': ['common'],
  mesh: ['common', 'pki', 'gen', 'policy'],
  identity: ['common', 'pki', 'gen', 'mesh', 'policy'],
  ca: ['common', 'pki', 'gen', 'admin', 'mesh', 'front-door', 'policy'],
  admin: ['common'],
  k8s: ['common', 'pki', 'ca', 'identity', 'admin', 'mesh', 'policy'],
  'workload-api': ['common', 'pki', 'identity', 'admin', 'gen'],
  sidecar: ['common', 'pki', 'identity', 'admin', 'mesh', 'front-door', 'policy', 'workload-api'],
  cli: ['common', 'pki', 'identity', 'ca', 'admin', 'k8s', 'sidecar', 'workload-api', 'gen', 'mesh', 'policy'],
};
const srcRoot = join(root, 'src');
const srcFiles = walkIfThere('src');
/** Bare package names a file imports (import, dynamic import, require, createRequire(...)('name')), builtins left out. */
function packagesOf(text) {
  const out = [];
  for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*|\)\s*\(\s*)['"]([^'".][^'"]*)['"]/g)) {
    const name = m[1].startsWith('@') ? m[1].split('/').slice(0, 2).join('/') : m[1].split('/')[0];
    if (!name.startsWith('node:') && !builtinModules.includes(name)) out.push(name);
  }
  return out;
}
/** Every package src/ imports, with the first file that does. */
const srcPackages = new Map();
/** The files each src/ file imports (type-only imports and re-exports included), for the cycle check. */
const imports = new Map();
for (const f of srcFiles) {
  const part = relative(srcRoot, f).split('/')[0];
  const src = readFileSync(f, 'utf8');
  const edges = [];
  // Generated types mirror their protos, whose messages may be recursive (google.protobuf.Value ↔ Struct ↔ ListValue,
  // which the Workload API's proto uses): src/gen/ stays out of the cycle check.
  if (part !== 'gen') imports.set(f, edges);
  for (const m of src.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g)) {
    edges.push(resolve(dirname(f), m[1]).replace(/\.js$/, '.ts'));
    const target = relative(srcRoot, resolve(dirname(f), m[1])).split('/')[0];
    if (target === part || target.startsWith('..')) continue;
    if (!(ALLOWED[part] ?? []).includes(target)) problems.push(`${relative(root, f)}: ${part}/ must not import ${target}/ (${m[1]})`);
  }
  for (const name of packagesOf(src)) if (!srcPackages.has(name)) srcPackages.set(name, relative(root, f));
  if (/\b(it|describe)\.only\(/.test(src)) problems.push(`${relative(root, f)}: .only in source`);
}

// No import cycle, between folders or within one, type-only imports included: a cycle is two files that cannot be
// understood (or tested) apart. Tarjan's strongly connected components over the import graph; each component of more
// than one file (or a file importing itself) is reported with the files it joins.
{
  let next = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const strong = (v) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of imports.get(v) ?? []) {
      if (!imports.has(w)) continue;
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) !== index.get(v)) return;
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (imports.get(v) ?? []).includes(v)) {
      problems.push(`import cycle: ${component.map((c) => relative(root, c)).sort().join(' ↔ ')}`);
    }
  };
  for (const f of imports.keys()) if (!index.has(f)) strong(f);
}

// Dependencies match their use: each runtime dependency is imported by src/, src/ imports nothing that is not one
// (devDependencies are pruned from the image), and each devDependency serves the tests, the benchmarks, the scripts
// or an npm script (its command), or types a package that is used.
const pkgFile = join(root, 'package.json');
if (existsSync(pkgFile)) {
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
  const runtime = Object.keys(pkg.dependencies ?? {});
  for (const dep of runtime) {
    if (!srcPackages.has(dep)) problems.push(`package.json: dependency ${dep} is not imported by src/ (remove it, or make it a devDependency if only tests use it)`);
  }
  for (const [name, file] of srcPackages) {
    if (!runtime.includes(name)) problems.push(`${file}: imports ${name}, which is not in package.json "dependencies"`);
  }
  const devUsed = new Set(['test', 'bench', 'scripts'].flatMap((d) => walkIfThere(d)).flatMap((f) => packagesOf(readFileSync(f, 'utf8'))));
  const commands = Object.values(pkg.scripts ?? {}).join(' ');
  const binsOf = (name) => {
    try {
      const bin = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).bin;
      return typeof bin === 'string' ? [name.split('/').pop()] : Object.keys(bin ?? {});
    } catch { return []; }
  };
  for (const dep of Object.keys(pkg.devDependencies ?? {})) {
    const typed = dep.startsWith('@types/') ? dep.slice('@types/'.length) : undefined;
    const used = devUsed.has(dep) || binsOf(dep).some((b) => new RegExp(`(^|[\\s;&|])${b}(\\s|$)`).test(commands))
      || (typed !== undefined && (typed === 'node' || runtime.includes(typed) || devUsed.has(typed)));
    if (!used) problems.push(`package.json: devDependency ${dep} is used by no test, benchmark, script or npm script (remove it)`);
  }
}

// Nothing points outside the repository: not the design and style notes kept beside it (docs/design.md replaces
// them), not a relative path that climbs out of the checkout, not an absolute path into the directory around it.
const OUTSIDE_DOCS = new RegExp(`\\b(?:${['DESIGN', 'STYLE'].join('|')})\\.md\\b`);
const SHARED = ['..', 'shared'].join('/');
/** The notes folder beside the checkout, not a file whose name starts with "shared" (../shared-read.js). */
const SHARED_DIR = new RegExp(`${SHARED.replace(/\./g, '\\.')}(?![\\w-])`);
const CLIMB = /(?<![\w./~-])((?:\.\.\/)+)([\w.@-][\w./@-]*)/g;
// The directory the checkout sits in (unless it is a top-level one such as /tmp), and the development machines' /work.
const around = [dirname(root), ['', 'work'].join('/')].filter((d) => d.split('/').length > 2 || d === ['', 'work'].join('/')).map((d) => `${d}/`);
const TEXT = /\.(ts|mts|mjs|js|cjs|md|ya?ml|json|sh|lua|txt)$|^Dockerfile/;
const designDoc = join(root, 'docs', 'design.md');
const textFiles = [...['src', 'test', 'docs', 'scripts', 'bench', 'deploy', '.ci'].flatMap((d) => walkIfThere(d, TEXT)), join(root, 'README.md')].filter((f) => existsSync(f));
for (const f of textFiles) {
  const rel = relative(root, f);
  readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
    const at = `${rel}:${i + 1}`;
    if (f !== designDoc && OUTSIDE_DOCS.test(line)) problems.push(`${at}: cites ${OUTSIDE_DOCS.exec(line)[0]}, which is not in the repository: cite docs/design.md (or another docs/ file)`);
    if (SHARED_DIR.test(line)) problems.push(`${at}: points to ${SHARED}, outside the repository`);
    for (const m of line.matchAll(CLIMB)) {
      const target = resolve(dirname(f), m[1] + m[2]);
      if (target !== root && !target.startsWith(root + sep)) problems.push(`${at}: ${m[0]} leads outside the repository`);
    }
    for (const d of around) {
      const k = line.indexOf(d);
      if (k >= 0 && !line.startsWith(root + sep, k)) problems.push(`${at}: ${line.slice(k, k + 60).split(/[\s'"`)\]]/)[0]} is a path outside the repository`);
    }
  });
}

if (problems.length) {
  console.error(`lint: ${problems.length} problem(s)\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('lint: ok');
