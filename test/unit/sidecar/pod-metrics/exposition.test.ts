// The app's exposition, sanitized to follow the sidecar's: one HELP and one TYPE per family, families together, no
// series twice, names the sidecar uses renamed app_*, lines that do not parse left out; never a throw, for any input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exposedNames, parseLabels, parseSample, sanitizeExposition } from '../../../../src/sidecar/pod-metrics/exposition.js';

const none = new Set<string>();

/** Checks the shape the merged answer relies on, reading the output the way a scraper does. */
function expectWellFormed(text: string): void {
  const typed = new Set<string>();
  const helped = new Set<string>();
  const series = new Set<string>();
  for (const line of text.split('\n').slice(0, -1)) {
    const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
    if (meta) {
      if (meta[1] === 'HELP') expect(line.replace(/\\[\\n]/g, ''), line).not.toContain('\\');
      const seen = meta[1] === 'TYPE' ? typed : helped;
      expect(seen.has(meta[2]!), line).toBe(false);
      seen.add(meta[2]!);
      continue;
    }
    const s = parseSample(line);
    expect(s, line).toBeDefined();
    expect(series.has(`${s!.name}${s!.labels}`), line).toBe(false);
    series.add(`${s!.name}${s!.labels}`);
  }
  if (text !== '') expect(text.endsWith('\n')).toBe(true);
}

describe('parseLabels and parseSample', () => {
  it.each([
    ['a 1', { name: 'a', labels: '', value: '1' }],
    ['a{} 1', { name: 'a', labels: '', value: '1' }],
    ['a{x="1",y="two"} 2.5e3 1700000000000', { name: 'a', labels: '{x="1",y="two"}', value: '2.5e3', timestamp: '1700000000000' }],
    ['a{ x = "q\\"uote\\\\ \\n" , } +Inf', { name: 'a', labels: '{x="q\\"uote\\\\ \\n"}', value: '+Inf' }],
    ['ns:a_b{le="0.5"} NaN', { name: 'ns:a_b', labels: '{le="0.5"}', value: 'NaN' }],
  ])('reads %s', (line, want) => {
    expect(parseSample(line)).toEqual(want);
  });

  it.each([
    'a', 'a1', '1a 1', 'a{x="1"', 'a{x=1} 1', 'a{x="\\t"} 1', 'a{x="1",x="2"} 1', 'a{1x="1"} 1', 'a one', 'a 1 2 3', 'a 1 1.5', 'a{x="1"}} 1',
  ])('refuses %s', (line) => {
    expect(parseSample(line)).toBeUndefined();
  });

  it('labels end exactly at their brace', () => {
    expect(parseLabels('{a="}"} 1')).toEqual({ canonical: '{a="}"}', end: 7 });
  });
});

describe('sanitizeExposition', () => {
  it('passes a well-formed exposition through, family by family', () => {
    const text = '# HELP req Requests.\n# TYPE req counter\nreq{code="200"} 3\nreq{code="500"} 1\n# TYPE lat histogram\nlat_bucket{le="1"} 1\nlat_bucket{le="+Inf"} 2\nlat_sum 3\nlat_count 2\n';
    const r = sanitizeExposition(text, none);
    expect(r.text).toBe(text);
    expect(r).toMatchObject({ families: 2, samples: 6, droppedLines: 0, renamed: {} });
  });

  it('keeps one HELP and one TYPE per family and gathers its samples, dropping a TYPE after samples and series seen before', () => {
    const r = sanitizeExposition('# HELP a first\n# HELP a second\n# TYPE a gauge\na{x="1"} 1\n# TYPE b gauge\nb 2\na{x="2"} 3\na{x="1"} 9\n# TYPE a counter\n', none);
    expect(r.text).toBe('# HELP a first\n# TYPE a gauge\na{x="1"} 1\na{x="2"} 3\n# TYPE b gauge\nb 2\n');
    expect(r.droppedLines).toBe(3);
    expectWellFormed(r.text);
  });

  it('drops a HELP with an escape the format does not know', () => {
    expect(sanitizeExposition('# HELP a bad \\d escape\n# HELP a good \\\\ and \\n\na 1\n', none).text).toBe('# HELP a good \\\\ and \\n\n# TYPE a untyped\na 1\n');
  });

  it('leaves out lines that do not parse, comments and # EOF, and types unknown families as untyped', () => {
    const r = sanitizeExposition('# a comment\ngarbage here\nok 1\n# TYPE t unknown\nt 2\n# TYPE u info\nbad{ 1\n# EOF\n', none);
    expect(r.text).toBe('# TYPE ok untyped\nok 1\n# TYPE t untyped\nt 2\n');
    expect(r.droppedLines).toBe(3);
  });

  it('writes an OpenMetrics counter as the classic format does', () => {
    const r = sanitizeExposition('# TYPE jobs counter\n# HELP jobs Jobs done.\njobs_total 4\njobs_created 1.7e9\n# EOF\n', none);
    expect(r.text).toBe('# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total 4\n');
  });

  it('renames an app family the sidecar also exposes to app_<name>, every sample of it, and drops one that cannot be renamed', () => {
    const reserved = exposedNames('# HELP process_cpu_seconds_total x\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1\n'
      + '# TYPE ztmesh_d histogram\nztmesh_d_bucket{le="+Inf"} 1\nztmesh_d_sum 1\nztmesh_d_count 1\n');
    const app = '# HELP process_cpu_seconds_total The app\'s CPU.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 7\n'
      + 'ztmesh_d_count 5\n# TYPE mine gauge\nmine 1\n'
      + '# TYPE app_taken gauge\napp_taken 1\n# TYPE taken gauge\ntaken 2\n';
    const r = sanitizeExposition(app, new Set([...reserved, 'taken']));
    expect(r.renamed).toEqual({ process_cpu_seconds_total: 'app_process_cpu_seconds_total', ztmesh_d_count: 'app_ztmesh_d_count' });
    expect(r.text).toContain('# HELP app_process_cpu_seconds_total The app\'s CPU.\n# TYPE app_process_cpu_seconds_total counter\napp_process_cpu_seconds_total 7\n');
    expect(r.text).toContain('app_ztmesh_d_count 5\n');
    expect(r.text).toContain('# TYPE mine gauge\nmine 1\n');
    expect(r.text).toContain('app_taken 1\n');
    expect(r.text).not.toMatch(/^taken /m);
    expect(r.droppedLines).toBe(2);
    for (const name of reserved) expect(r.text).not.toMatch(new RegExp(`^${name}[ {]`, 'm'));
  });

  it('a histogram\'s sample names are reserved with it', () => {
    expect([...exposedNames('# TYPE h histogram\nh_bucket{le="1"} 0\n')].sort()).toEqual(['h', 'h_bucket', 'h_count', 'h_sum']);
  });

  it('never throws and always writes a well-formed, stable exposition, whatever the app sends', () => {
    const token = fc.constantFrom('# HELP ', '# TYPE ', 'a', 'a_total', 'a_bucket', 'b', 'process_x', ' ', '{', '}', '="', '"', ',', '\\', 'le', '1', '-2.5e3', 'NaN', '+Inf',
      ' counter', ' gauge', ' histogram', ' untyped', '\n', '\r\n', '#', 'é', '\u0000');
    fc.assert(fc.property(fc.array(token, { maxLength: 80 }), fc.string({ maxLength: 40 }), (tokens, noise) => {
      const input = tokens.join('') + noise;
      const r = sanitizeExposition(input, new Set(['process_x', 'b']));
      expectWellFormed(r.text);
      expect(r.text).not.toMatch(/^(process_x|b)[ {]/m);
      expect(sanitizeExposition(r.text, none).text).toBe(r.text);
    }), { numRuns: 600 });
  });
});
