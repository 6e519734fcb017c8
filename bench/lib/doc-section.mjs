// A section of docs/bench.md that one focused bench owns (between two HTML comment markers), built from the newest
// bench/results/<prefix>-*.json: written by that bench after a run, and kept by the data-path bench when it rewrites
// the page (report.mjs). The mesh stream's (mesh-report.mjs) and authorization's (authz-report.mjs) sections.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The newest result `<prefix>-*.json` in `resultsDir`, with its file name, or undefined. */
export function latestResult(resultsDir, prefix) {
  if (!existsSync(resultsDir)) return undefined;
  const file = readdirSync(resultsDir).filter((f) => f.startsWith(`${prefix}-`) && f.endsWith('.json')).sort().at(-1);
  return file ? { file, result: JSON.parse(readFileSync(join(resultsDir, file), 'utf8')) } : undefined;
}

/** Replaces the section between `start` and `end` in `docsFile` with `markdown` (which carries the markers), or appends it. */
export function writeSection(docsFile, start, end, markdown) {
  const text = existsSync(docsFile) ? readFileSync(docsFile, 'utf8') : '# Benchmark\n';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  const next = a >= 0 && b > a ? `${text.slice(0, a)}${markdown}${text.slice(b + end.length)}` : `${text.trimEnd()}\n\n${markdown}\n`;
  writeFileSync(docsFile, next);
}
