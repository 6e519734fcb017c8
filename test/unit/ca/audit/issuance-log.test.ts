// The issuance log writer: a chain that verifies, continued across restarts and size rotation, one process per file
// (flock), refusal floods throttled, and only whitelisted fields written.
import { mkdtempSync, readFileSync, writeFileSync, appendFileSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IssuanceLog } from '../../../../src/ca/audit/issuance-log.js';
import { lineHash, verifyAuditLog } from '../../../../src/ca/audit/audit-chain.js';
import { silentLogger } from '../../../../src/common/logger.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

const tmpFile = () => join(mkdtempSync(join(tmpdir(), 'ztmesh-audit-')), 'audit.log');
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

  it('continues the chain after a restart, and after a line cut short by a crash (which the check then names)', () => {
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
    log = IssuanceLog.open({ file, clock, log: silentLogger() });
    log.issued(issued(3));
    log.close();
    expect(check(file)).toMatchObject({ ok: false, line: 5, problem: 'altered' });
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
    const dir = mkdtempSync(join(tmpdir(), 'ztmesh-audit-'));
    writeFileSync(join(dir, 'f'), 'x');
    expect(() => IssuanceLog.open({ file: join(dir, 'f', 'audit.log'), clock: new FakeClock(), log: silentLogger() }))
      .toThrow(expect.objectContaining({ code: 'audit_log_unwritable', message: expect.stringContaining(join(dir, 'f', 'audit.log')) }));
  });
});
