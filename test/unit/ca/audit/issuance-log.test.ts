// The issuance log writer: a chain that verifies, continued across restarts and size rotation, one process per file
// (flock), refusal floods throttled, and only whitelisted fields written; and every row of issue 19's attacks on it:
// the stdout witness of every record, a log truncated or deleted between runs, moved or deleted while running, a
// path that cannot be written, a symbolic link, another user's file. A full disk: test/privileged/.
import { appendFileSync, chownSync, existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IssuanceLog, type IssuanceLogOptions, type Witnessed } from '../../../../src/ca/audit/issuance-log.js';
import { lineHash, verifyAuditLog } from '../../../../src/ca/audit/audit-chain.js';
import { silentLogger } from '../../../../src/common/logger.js';
import { captureLogger } from '../../../helpers/capture-logger.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { tempDir } from '../../../helpers/temp-dir.js';

const tmpFile = () => join(tempDir('ztmesh-audit-'), 'audit.log');
const issued = (i: number) => ({ spiffeId: `spiffe://example.org/ns/default/sa/w${i}`, serial: `0${i}`, notAfterMs: Date.UTC(2026, 10, 28), root: 'cd'.repeat(32), method: 'token', peer: `ipv4:10.0.0.1:${4000 + i}` });
const check = (...names: string[]) => verifyAuditLog(names.map((n) => ({ name: n, text: readFileSync(n, 'utf8') })));

describe('IssuanceLog', () => {
  it('writes an opened record, then one chained line per issuance and refusal; stdout gets each line\'s hash', () => {
    const file = tmpFile();
    const log = IssuanceLog.open({ file, clock: new FakeClock(), log: silentLogger() });
    const r = log.issued(issued(1));
    log.refused({ peer: 'ipv4:10.0.0.2:1', code: 'unknown_token' });
    log.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).event)).toEqual(['opened', 'issued', 'refused']);
    expect(r).toEqual({ auditSeq: 1, auditHash: lineHash(lines[1]!) });
    expect(JSON.parse(lines[1]!)).toMatchObject({ seq: 1, spiffeId: issued(1).spiffeId, serial: '01', method: 'token', code: 'ok', root: 'cd'.repeat(32), notAfter: '2026-11-28T00:00:00.000Z' });
    expect(check(file)).toMatchObject({ ok: true, lines: 3 });
    expect(statSync(file).mode & 0o777).toBe(0o640);
  });

  it('continues the chain after a restart, and cuts off a line left unfinished by a crash, saying so', () => {
    const file = tmpFile();
    const clock = new FakeClock();
    let log = IssuanceLog.open({ file, clock, log: silentLogger() });
    log.issued(issued(1));
    log.close();
    log = IssuanceLog.open({ file, clock, log: silentLogger() });
    log.issued(issued(2));
    log.close();
    expect(check(file)).toMatchObject({ ok: true, lines: 4 });
    appendFileSync(file, '{"seq":4,"time":"2026-');
    const cap = captureLogger();
    log = IssuanceLog.open({ file, clock, log: cap.logger });
    log.issued(issued(3));
    log.close();
    expect(check(file)).toMatchObject({ ok: true, lines: 6 });
    expect(cap.lines.find((l) => l.code === 'audit_log_unfinished_line')).toMatchObject({ file, bytes: 22 });
    expect(cap.lines.some((l) => l.code === 'audit_log_truncated')).toBe(false);
  });

  it('refuses a second writer of the same file (replicas write separate files)', () => {
    const file = tmpFile();
    const log = IssuanceLog.open({ file, clock: new FakeClock(), log: silentLogger() });
    expect(() => IssuanceLog.open({ file, clock: new FakeClock(), log: silentLogger() })).toThrow(expect.objectContaining({ code: 'audit_log_locked' }));
    log.close();
    IssuanceLog.open({ file, clock: new FakeClock(), log: silentLogger() }).close();
  });

  it('moves to FILE.1 at the size limit and continues the chain in FILE with a log_rotated record', () => {
    const file = tmpFile();
    const log = IssuanceLog.open({ file, maxBytes: 4096, clock: new FakeClock(), log: silentLogger() });
    for (let i = 0; i < 40; i++) log.issued(issued(i));
    log.close();
    expect(existsSync(`${file}.1`)).toBe(true);
    expect(statSync(file).size).toBeLessThanOrEqual(4096 + 400);
    expect(JSON.parse(readFileSync(file, 'utf8').split('\n')[0]!)).toMatchObject({ event: 'log_rotated', previousFile: 'audit.log.1' });
    expect(check(`${file}.1`, file).ok).toBe(true);
    expect(check(file)).toMatchObject({ ok: true, continues: true });
  });

  it('throttles a flood of refusals per code and says how many it left out', async () => {
    const file = tmpFile();
    const clock = new FakeClock();
    const log = IssuanceLog.open({ file, clock, log: silentLogger() });
    for (let i = 0; i < 100; i++) log.refused({ peer: `ipv4:10.0.0.1:${i}`, code: 'unknown_token' });
    log.refused({ peer: 'ipv4:10.0.0.1:1', code: 'malformed_csr' });
    await clock.advance(10_000);
    log.refused({ peer: 'ipv4:10.0.0.1:2', code: 'unknown_token' });
    log.close();
    const recs = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { code?: string; suppressed?: number });
    expect(recs.filter((r) => r.code === 'unknown_token')).toHaveLength(21);
    expect(recs.at(-1)).toMatchObject({ code: 'unknown_token', suppressed: 80 });
    expect(recs.filter((r) => r.code === 'malformed_csr')).toHaveLength(1);
  });

  it('fails to open a file it cannot write, naming it', () => {
    const dir = tempDir('ztmesh-audit-');
    writeFileSync(join(dir, 'f'), 'x');
    expect(() => IssuanceLog.open({ file: join(dir, 'f', 'audit.log'), clock: new FakeClock(), log: silentLogger() }))
      .toThrow(expect.objectContaining({ code: 'audit_log_unwritable', message: expect.stringContaining(join(dir, 'f', 'audit.log')) }));
  });
});

describe('IssuanceLog against a hostile or failing disk', () => {
  const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n');
  const open = (file: string, extra: Partial<IssuanceLogOptions> = {}) => {
    const witnessed: Witnessed[] = [];
    const lost: string[] = [];
    const cap = captureLogger();
    const log = IssuanceLog.open({ file, clock: extra.clock ?? new FakeClock(), log: cap.logger, witness: (w) => witnessed.push(w), onLost: (e) => lost.push(e), ...extra });
    return { log, witnessed, lost, cap };
  };

  it('witnesses every record on stdout, refusals and opened lines too: --head then protects a log that ends with a refusal', () => {
    const file = tmpFile();
    const { log, witnessed } = open(file);
    const r = log.issued(issued(1));
    log.refused({ peer: 'ipv4:10.0.0.2:1', code: 'unknown_token' });
    log.refused({ peer: 'ipv4:10.0.0.2:2', code: 'malformed_csr' });
    log.close();
    const l = lines(file);
    expect(witnessed.map((w) => [w.event, w.auditSeq])).toEqual([['opened', 0], ['refused', 2], ['refused', 3]]);
    expect(witnessed.map((w) => w.auditHash)).toEqual([l[0], l[2], l[3]].map((x) => lineHash(x!)));
    expect(r!.auditHash).toBe(lineHash(l[1]!));
    const head = witnessed.at(-1)!.auditHash;
    expect(verifyAuditLog([{ name: file, text: readFileSync(file, 'utf8') }], { head }).ok).toBe(true);
    // Deleting the trailing refusals no longer passes: the head witnessed is the last refusal's.
    expect(verifyAuditLog([{ name: file, text: `${l.slice(0, 2).join('\n')}\n` }], { head })).toMatchObject({ ok: false, line: 2 });
  });

  it('keeps FILE.head at the last record, and after a restart reports a log that lost its end, recording the gap in the chain', () => {
    const file = tmpFile();
    let { log } = open(file);
    for (let i = 0; i < 5; i++) log.issued(issued(i));
    log.close();
    expect(readFileSync(`${file}.head`, 'utf8')).toBe(`${lineHash(lines(file)[5]!)} ${'5'.padStart(16, '0')}\n`);
    expect(statSync(`${file}.head`).mode & 0o777).toBe(0o640);
    // Someone removes the last two lines while the CA is stopped.
    writeFileSync(file, `${lines(file).slice(0, 4).join('\n')}\n`);
    const again = open(file);
    log = again.log;
    log.issued(issued(9));
    log.close();
    expect(again.cap.lines.find((x) => x.code === 'audit_log_truncated')).toMatchObject({
      level: 'error', file, headSeq: 5, found: expect.stringMatching(/^seq 3 /),
    });
    const after = lines(file).map((x) => JSON.parse(x) as Record<string, unknown>);
    expect(after[4]).toMatchObject({ seq: 6, event: 'opened', code: 'audit_log_truncated', headSeq: 5, prev: lineHash(lines(file)[3]!) });
    expect(check(file)).toMatchObject({ ok: false, problem: 'removed', line: 5, message: expect.stringContaining('seq 4–5 should follow line 4 but is missing (the CA found them gone at its start: audit_log_truncated)') });
  });

  it('reports a log deleted while the CA was stopped, and takes a head that lags by one record (stopped between the writes)', () => {
    const file = tmpFile();
    let { log } = open(file);
    log.issued(issued(1));
    log.close();
    const l = lines(file);
    writeFileSync(`${file}.head`, `${lineHash(l[0]!)} ${'0'.padStart(16, '0')}\n`);
    let again = open(file);
    again.log.close();
    expect(again.cap.lines.some((x) => x.code === 'audit_log_truncated')).toBe(false);
    expect(check(file)).toMatchObject({ ok: true, lines: 3 });
    unlinkSync(file);
    again = open(file);
    log = again.log;
    log.close();
    expect(again.cap.lines.find((x) => x.code === 'audit_log_truncated')).toMatchObject({ headSeq: 2, found: 'no record' });
    expect(JSON.parse(lines(file)[0]!)).toMatchObject({ seq: 3, event: 'opened', code: 'audit_log_truncated' });
    expect(check(file)).toMatchObject({ ok: false, problem: 'removed', line: 1, message: expect.stringContaining('seq 0–2 should start the log but is missing (the CA found them gone') });
  });

  it('follows a log moved away under it (FILE plus FILE.1 keep the chain) and rotates by size afterwards', () => {
    const file = tmpFile();
    const { log, cap, lost } = open(file, { maxBytes: 4096 });
    log.issued(issued(1));
    renameSync(file, `${file}.1`); // an outside logrotate
    log.issued(issued(2));
    expect(JSON.parse(lines(file)[0]!)).toMatchObject({ event: 'log_reopened', code: 'audit_log_moved', seq: 2 });
    expect(check(`${file}.1`, file)).toMatchObject({ ok: true, lines: 4 });
    for (let i = 0; i < 30; i++) log.issued(issued(i));
    log.close();
    expect(lost).toEqual([]);
    expect(check(`${file}.1`, file)).toMatchObject({ ok: true });
    expect(cap.lines.filter((x) => x.code === 'audit_log_moved')).toHaveLength(1);
  });

  it('follows a log deleted under it: no issuance is lost, and size rotation still works', () => {
    const file = tmpFile();
    const { log, cap, lost } = open(file, { maxBytes: 6000 });
    log.issued(issued(1));
    unlinkSync(file);
    const recorded = Array.from({ length: 30 }, (_, i) => log.issued(issued(i)));
    log.close();
    expect(recorded.every((r) => r !== undefined)).toBe(true);
    expect(lost).toEqual([]);
    expect(existsSync(`${file}.1`)).toBe(true);
    expect(check(`${file}.1`, file)).toMatchObject({ ok: true });
    expect(JSON.parse(readFileSync(`${file}.1`, 'utf8').split('\n')[0]!)).toMatchObject({ event: 'log_reopened', code: 'audit_log_deleted', seq: 2 });
    expect(cap.lines.filter((x) => x.code === 'audit_log_deleted')).toHaveLength(1);
  });

  it('while it cannot write, loses records without using their seq, and says so once per 10 s', async () => {
    const file = tmpFile();
    const clock = new FakeClock();
    const { log, cap, lost } = open(file, { clock });
    log.issued(issued(1));
    unlinkSync(file);
    mkdirSync(file); // nothing can be opened at the path now
    for (let i = 0; i < 20; i++) {
      expect(log.issued(issued(i))).toBeUndefined();
      await clock.advance(100);
    }
    expect(lost).toHaveLength(20);
    const errors = () => cap.lines.filter((x) => x.level === 'error');
    expect(errors()).toHaveLength(1);
    expect(errors()[0]).toMatchObject({ code: 'audit_log_unwritable', file, event: 'issued', seq: 2 });
    await clock.advance(10_000);
    log.refused({ peer: 'p', code: 'unknown_token' });
    expect(errors()).toHaveLength(2);
    expect(errors()[1]).toMatchObject({ suppressed: 19, seq: 2 });
    rmdirSync(file);
    expect(log.issued(issued(99))).toEqual({ auditSeq: 3, auditHash: expect.any(String) });
    log.close();
    expect(lines(file).map((x) => JSON.parse(x) as { seq: number; event: string }).map((x) => [x.seq, x.event])).toEqual([[2, 'log_reopened'], [3, 'issued']]);
  });

  it('never follows a symbolic link, and refuses a log another user owns', () => {
    const dir = tempDir('ztmesh-audit-');
    const target = join(dir, 'elsewhere');
    writeFileSync(target, '');
    symlinkSync(target, join(dir, 'audit.log'));
    expect(() => IssuanceLog.open({ file: join(dir, 'audit.log'), clock: new FakeClock(), log: silentLogger() }))
      .toThrow(expect.objectContaining({ code: 'audit_log_symlink', message: expect.stringContaining(join(dir, 'audit.log')) }));
    expect(readFileSync(target, 'utf8')).toBe('');
    symlinkSync(target, join(dir, 'x.log.head'));
    expect(() => IssuanceLog.open({ file: join(dir, 'x.log'), clock: new FakeClock(), log: silentLogger() })).toThrow(expect.objectContaining({ code: 'audit_log_symlink' }));
    if (process.getuid?.() !== 0) {
      console.warn('[issuance-log] the owner check needs root to chown a file to another user; CI runs as root');
      return;
    }
    const other = join(dir, 'other.log');
    writeFileSync(other, '');
    chownSync(other, 1337, 1337);
    expect(() => IssuanceLog.open({ file: other, clock: new FakeClock(), log: silentLogger() }))
      .toThrow(expect.objectContaining({ code: 'audit_log_not_owned', message: expect.stringContaining('owned by uid 1337') }));
  });
});
