// What a newcomer reads says one thing: every install command in README.md and docs/ is `npm ci`, and the README's
// CA speed claim is one number, the one the run it names measured (docs/ca.md "Speed", the quiet run's table).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((n) => n.endsWith('.md')).map((n) => `docs/${n}`)];
const num = (s: string) => Number(s.replace(/,/g, ''));

describe('the docs say one thing', () => {
  it('installs with npm ci everywhere', () => {
    for (const f of DOCS) {
      expect(read(f), f).not.toMatch(/\bnpm (install|i|add)\b|\byarn (add|install)\b|\bpnpm (add|install)\b/);
    }
    expect(read('README.md')).toMatch(/^npm ci && npm start/m);
  });

  it('the README\'s CA speed claim is one number, the quiet run\'s in docs/ca.md', () => {
    const claim = /\*\*CA signing:\*\*([\s\S]*?)\n\n/.exec(read('README.md'))?.[1];
    expect(claim).toBeDefined();
    const rates = [...claim!.matchAll(/([\d,]+) (?:certificates|signatures)\/s/g)].map((m) => num(m[1]!));
    expect(rates).toHaveLength(1);
    expect(claim).not.toMatch(/\d[\d,]*\/s/);
    const at = /at (\d+) concurrent clients, ([\d.]+)× cfssl/.exec(claim!);
    expect(at).not.toBeNull();
    expect(claim).toContain('docs/ca.md');

    const ca = read('docs/ca.md');
    expect(ca).toContain(`**The number to quote: ${claim!.match(/[\d,]+ certificates\/s/)![0]!.replace('certificates', 'signatures')} at ${at![1]} concurrent clients, ${at![2]}× cfssl**`);
    const quiet = ca.slice(ca.indexOf('The quiet run, the one to quote'));
    const row = new RegExp(`^\\| ${at![1]} \\| (\\d+) \\|[^\\n]*\\| ([\\d.]+)× \\|`, 'm').exec(quiet);
    expect(row).not.toBeNull();
    expect(num(row![1]!)).toBe(rates[0]);
    expect(row![2]).toBe(at![2]);
  });
});
