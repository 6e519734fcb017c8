// The metrics src/ registers with prom-client, read from the source without starting anything: the name, type and
// label names of every `new Counter|Gauge|Histogram|Summary({ … })`. A registration whose name is not a literal fails.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';
export interface MetricRegistration { name: string; type: MetricType; labelNames: string[]; where: string }

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The object literal that starts at `text[open]` ('{'), up to its matching '}', skipping string literals. */
function objectLiteral(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\'' || c === '"' || c === '`') {
      for (i++; i < text.length && text[i] !== c; i++) if (text[i] === '\\') i++;
    } else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return text.slice(open, i + 1);
  }
  throw new Error(`unbalanced object literal at offset ${open}`);
}

/** Every prom-client metric constructed under `root/src`, in file order. */
export function metricRegistrations(root: string): MetricRegistration[] {
  return sources(join(root, 'src')).flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    return [...text.matchAll(/\bnew (Counter|Gauge|Histogram|Summary)(?:<[^>]*>)?\(\s*(\{)?/g)].map((m) => {
      const where = `${relative(root, file)}:${text.slice(0, m.index).split('\n').length}`;
      if (!m[2]) throw new Error(`${where}: new ${m[1]}(…) without an object literal; the metric's name cannot be read from source`);
      const obj = objectLiteral(text, m.index + m[0].length - 1);
      const name = /\bname:\s*'([^']+)'/.exec(obj)?.[1];
      if (!name) throw new Error(`${where}: new ${m[1]}({ … }) has no literal name`);
      const labels = /\blabelNames:\s*\[([^\]]*)\]/.exec(obj)?.[1] ?? '';
      return { name, type: m[1]!.toLowerCase() as MetricType, labelNames: [...labels.matchAll(/'([^']+)'/g)].map((l) => l[1]!), where };
    });
  });
}

