// The issuance log's hash chain: an intact log passes; one byte changed, a line removed and two lines swapped each
// fail naming the line; the last line is protected by the head hash; arbitrary text never throws.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatRecord, GENESIS, lineHash, readTail, verifyAuditLog, type AuditFields } from '../../../../src/ca/audit/audit-chain.js';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);

/** A log of `n` lines as the writer makes them. */
function makeLog(n: number, first: { seq: number; prev: string; rotated?: boolean } = { seq: 0, prev: GENESIS }): string[] {
  const lines: string[] = [];
  let prev = first.prev;
  for (let i = 0; i < n; i++) {
    const fields: AuditFields = i === 0 && first.rotated ? { event: 'log_rotated', previousFile: 'audit.log.1' }
      : i % 3 === 2 ? { event: 'refused', peer: `ipv4:10.0.0.${i}:5000`, code: 'unknown_token' }
      : { event: 'issued', spiffeId: `spiffe://example.org/ns/default/sa/w${i}`, serial: `0a${i}`, notAfter: new Date(T0 + 3_600_000).toISOString(), root: 'ab'.repeat(32), method: 'token', peer: `ipv4:10.0.0.${i}:5000`, code: 'ok' };
    const line = formatRecord(first.seq + i, T0 + i * 1000, fields, prev);
    lines.push(line);
    prev = lineHash(line);
  }
  return lines;
}
const text = (lines: string[]) => `${lines.join('\n')}\n`;
const verify = (lines: string[], opts: { head?: string } = {}) => verifyAuditLog([{ name: 'audit.log', text: text(lines) }], opts);

describe('audit chain', () => {
  it('passes an intact log and reports its head', () => {
    const lines = makeLog(8);
    const v = verify(lines);
    expect(v).toMatchObject({ ok: true, lines: 8, head: lineHash(lines[7]!), continues: false });
    expect(verify(lines, { head: lineHash(lines[7]!) }).ok).toBe(true);
    expect(verifyAuditLog([{ name: 'empty.log', text: '' }])).toMatchObject({ ok: true, lines: 0 });
  });

  it('writes only the whitelisted fields, in a fixed order, prev last', () => {
    const line = formatRecord(3, T0, { event: 'issued', spiffeId: 's', ...({ token: 'ztjt_secret', csr: 'MIIB' } as object) } as AuditFields, GENESIS);
    expect(Object.keys(JSON.parse(line))).toEqual(['seq', 'time', 'event', 'spiffeId', 'prev']);
  });

  it.each([1, 2, 4, 7])('names line %i when one byte of it changed', (n) => {
    const lines = makeLog(8);
    const l = lines[n - 1]!;
    const i = l.indexOf('"time":"') + 20; // a digit of the time
    lines[n - 1] = l.slice(0, i) + (l[i] === '1' ? '2' : '1') + l.slice(i + 1);
    expect(verify(lines)).toMatchObject({ ok: false, line: n, problem: 'altered' });
  });

  it('names a line whose own prev was changed, and one that no longer parses', () => {
    const lines = makeLog(6);
    lines[3] = lines[3]!.replace(/"prev":"(.)/, (_m, c: string) => `"prev":"${c === 'a' ? 'b' : 'a'}`);
    expect(verify(lines)).toMatchObject({ ok: false, line: 4, problem: 'altered' });
    const broken = makeLog(6);
    broken[2] = broken[2]!.slice(0, -3);
    expect(verify(broken)).toMatchObject({ ok: false, line: 3, problem: 'altered', message: expect.stringContaining('not valid JSON') });
  });

  it.each([1, 3, 7])('names line %i when it was removed', (n) => {
    const lines = makeLog(8);
    lines.splice(n - 1, 1);
    const v = verify(lines);
    expect(v).toMatchObject({ ok: false, line: n, problem: 'removed' });
    expect(!v.ok && v.message).toContain(`seq ${n - 1}`);
  });

  it('names the first of two removed lines', () => {
    const lines = makeLog(8);
    lines.splice(2, 2);
    expect(verify(lines)).toMatchObject({ ok: false, line: 3, problem: 'removed', message: expect.stringContaining('seq 2–3') });
  });

  it.each([1, 4, 7])('names line %i when it and the next were swapped', (n) => {
    const lines = makeLog(8);
    [lines[n - 1], lines[n]] = [lines[n]!, lines[n - 1]!];
    expect(verify(lines)).toMatchObject({ ok: false, line: n, problem: 'reordered' });
  });

  it('protects the last line only with the head hash (the CA writes each line\'s hash to stdout)', () => {
    const lines = makeLog(5);
    const head = lineHash(lines[4]!);
    lines[4] = lines[4]!.replace('"event":"issued"', '"event":"issuef"');
    expect(verify(lines).ok).toBe(true);
    expect(verify(lines, { head })).toMatchObject({ ok: false, line: 5, problem: 'altered' });
    expect(verify(makeLog(5).slice(0, 4), { head })).toMatchObject({ ok: false, line: 4 });
  });

  it('follows the chain across a rotated file, and accepts a log that starts with log_rotated', () => {
    const older = makeLog(4);
    const newer = makeLog(3, { seq: 4, prev: lineHash(older[3]!), rotated: true });
    expect(verifyAuditLog([{ name: 'audit.log.1', text: text(older) }, { name: 'audit.log', text: text(newer) }])).toMatchObject({ ok: true, lines: 7, continues: false });
    expect(verifyAuditLog([{ name: 'audit.log', text: text(newer) }])).toMatchObject({ ok: true, lines: 3, continues: true });
    // Without its log_rotated line, a continuation is a log whose first lines were removed.
    expect(verifyAuditLog([{ name: 'audit.log', text: text(newer.slice(1)) }])).toMatchObject({ ok: false, line: 1, problem: 'removed' });
    // A rotated file given after the newer one is out of order.
    expect(verifyAuditLog([{ name: 'audit.log', text: text(newer) }, { name: 'audit.log.1', text: text(older) }])).toMatchObject({ ok: false, file: 'audit.log.1', line: 1 });
  });

  it('never throws on arbitrary text, and a fuzzed copy of a real log is either identical or refused', () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), (t) => {
      expect(() => verifyAuditLog([{ name: 'x', text: t }])).not.toThrow();
    }), { numRuns: 200 });
    const good = text(makeLog(6));
    fc.assert(fc.property(fc.nat({ max: good.length - 2 }), fc.integer({ min: 33, max: 126 }), (at, code) => {
      const c = String.fromCharCode(code);
      fc.pre(good[at] !== c && good[at] !== '\n' && at < good.lastIndexOf('\n', good.length - 2));
      const changed = good.slice(0, at) + c + good.slice(at + 1);
      expect(verifyAuditLog([{ name: 'x', text: changed }]).ok).toBe(false);
    }), { numRuns: 300 });
  });
});

describe('readTail (what the writer reads before continuing a file)', () => {
  const ids = fc.array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 });
  /** A log whose records name SPIFFE IDs with any characters (multi-byte ones included). */
  const logOf = (names: string[]) => {
    let prev = GENESIS;
    return names.map((n, i) => {
      const line = formatRecord(i, T0, { event: 'issued', spiffeId: `spiffe://example.org/${n}`, code: 'ok' }, prev);
      prev = lineHash(line);
      return line;
    });
  };

  it('finds the last whole line before any cut, and how many bytes after it to cut off', () => {
    fc.assert(fc.property(ids, fc.double({ min: 0, max: 1, noNaN: true }), (names, at) => {
      const lines = logOf(names);
      const file = Buffer.from(text(lines), 'utf8');
      const size = Math.floor(at * file.length);
      const t = readTail(file.subarray(0, size), true);
      // Byte offsets where each line ends (its newline).
      const ends = lines.reduce<number[]>((acc, l) => [...acc, (acc.at(-1) ?? -1) + Buffer.byteLength(l, 'utf8') + 1], []);
      const whole = ends.filter((e) => e < size).length;
      const cutShortBeforeNewline = whole < lines.length && ends[whole] === size;
      if (cutShortBeforeNewline) {
        expect(t).toEqual({ lastLine: lines[whole], cut: 0, needsNewline: true });
      } else {
        expect(t.lastLine).toBe(whole ? lines[whole - 1] : undefined);
        expect(t.cut).toBe(size - (whole ? ends[whole - 1]! + 1 : 0));
        expect(t.needsNewline).toBe(false);
      }
    }));
  });

  it('in a window of the end of a file, never takes a line it cannot see whole', () => {
    fc.assert(fc.property(ids, fc.nat({ max: 2000 }), (names, window) => {
      const file = Buffer.from(text(logOf(names)), 'utf8');
      const tail = file.subarray(Math.max(0, file.length - window));
      const t = readTail(tail, tail.length === file.length);
      if (t.lastLine !== undefined) expect(logOf(names)).toContain(t.lastLine);
      expect(t.cut).toBe(0);
    }));
  });

  it('a file that starts with a bare newline has an empty line before nothing', () => {
    expect(readTail(Buffer.from('\n'), true)).toEqual({ lastLine: '', cut: 0, needsNewline: false });
    expect(readTail(Buffer.from('{"seq":0'), true)).toEqual({ lastLine: undefined, cut: 8, needsNewline: false });
  });
});
