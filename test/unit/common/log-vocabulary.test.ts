// One vocabulary in the logs: the field `reason` holds a stable refusal code and nothing else. A message goes in
// `detail` or `err`, what started an attempt in `trigger`. Read from the source, so a new log line cannot drift.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../../src', import.meta.url));
const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => {
  const p = join(dir, n);
  return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
});

/** Log calls (`log.warn({ … }, 'msg')`, also on child loggers and `this.opts.log`) with their field object. */
function logFields(text: string): string[] {
  return [...text.matchAll(/\blog(?:\(\))?\.(?:trace|debug|info|warn|error|fatal)\(\s*(\{[^;]*?\})\s*,/gs)].map((m) => m[1]!);
}

describe('the log field reason', () => {
  it('never carries a message, a detail or a trigger', () => {
    const offenders: string[] = [];
    let lines = 0;
    for (const f of files(SRC)) {
      for (const fields of logFields(readFileSync(f, 'utf8'))) {
        lines++;
        // A message (err.message, the gRPC details, a probe's outcome text) where a code belongs.
        if (/\breason: ([\w.?]*\.)?(message|details|detail|\w*Detail)\b|\breason: outcome\.reason\b/.test(fields)) offenders.push(`${f}: ${fields}`);
        // A rotation's trigger (initial, refresh, retry, forced, …) under the name of a refusal code.
        if (/\bevent: '[a-z_]+',\s*reason\b/.test(fields)) offenders.push(`${f}: ${fields}`);
      }
    }
    expect(lines).toBeGreaterThan(50);
    expect(offenders).toEqual([]);
  });
});
