// What the README and docs/ tell a user to run must exist and agree with the code: no `nc` (not on a fresh Debian)
// and no `kustomize edit` (a tool that is not installed; kubectl has kustomize built in), every kind `ztmesh inject`
// handles is listed in the README and in `inject --help`, and docs/ca.md describes start-up as it is.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { register as registerInject } from '../../../src/cli/inject.js';
import { INJECTABLE_KINDS } from '../../../src/k8s/inject-manifest.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const DOCS = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => ({ f: `docs/${f}`, text: readFileSync(join(ROOT, 'docs', f), 'utf8') }));
const ALL = [{ f: 'README.md', text: README }, ...DOCS];

describe('docs stay true', () => {
  it.each(ALL.map((d) => [d.f, d.text]))('%s names no tool a fresh machine lacks (nc, kustomize edit)', (_f, text) => {
    expect(text).not.toMatch(/\|\s*nc\s|`nc\s/);
    expect(text).not.toMatch(/kustomize edit/);
  });

  it('every injectable kind is in the README and in `ztmesh inject --help`', () => {
    const program = new Command();
    registerInject(program);
    const help = program.commands.find((c) => c.name() === 'inject')!.description();
    const readmeList = /does the same rewrite \(([^)]*)\)/.exec(README.replace(/\s+/g, ' '))?.[1] ?? '';
    for (const kind of INJECTABLE_KINDS) {
      expect(help).toContain(kind);
      expect(readmeList).toContain(kind);
    }
  });

  it('docs/ca.md does not claim that `ca serve` logs a single line', () => {
    const ca = DOCS.find((d) => d.f === 'docs/ca.md')!.text;
    expect(ca).not.toMatch(/logs one JSON line/);
    expect(ca).toContain('"ztmesh ca serving"');
  });
});
