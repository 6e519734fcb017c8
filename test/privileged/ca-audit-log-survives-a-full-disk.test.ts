// The issuance log on a disk that fills up (a 64 KiB tmpfs mounted here, removed afterwards even on failure): a
// write cut short at the page boundary is cut back to the last whole line, the record is reported lost and its seq
// is not used, the warning comes once per 10 s, and once space is freed the chain goes on intact, FILE.head included.
import { openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineHash, verifyAuditLog } from '../../src/ca/audit/audit-chain.js';
import { IssuanceLog, type Recorded } from '../../src/ca/audit/issuance-log.js';
import { captureLogger } from '../helpers/capture-logger.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { mountTmpfs, tmpfsSkipReason } from '../helpers/tmpfs.js';

const reason = tmpfsSkipReason();
if (reason) console.warn(`[privileged] skipping ca-audit-log-survives-a-full-disk: ${reason}`);
let disk: ReturnType<typeof mountTmpfs> | undefined;
beforeAll(() => { if (!reason) disk = mountTmpfs(64 * 1024); });
afterAll(() => disk?.remove());

const issued = (i: number) => ({ spiffeId: `spiffe://example.org/ns/default/sa/w${i}`, serial: `0${i}`, notAfterMs: Date.UTC(2026, 10, 28), root: 'cd'.repeat(32), method: 'token', peer: `ipv4:10.0.0.1:${4000 + i}` });

/** Fills the disk: a file grown until the kernel refuses another byte. */
function fill(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(4096, 0x78);
  try {
    for (;;) {
      const n = writeSync(fd, chunk);
      if (n < chunk.length) break;
    }
  } catch {
    // ENOSPC: full
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(reason !== undefined)('the issuance log on a full disk', () => {
  it('loses whole records only, never their seq, says so once per 10 s, and goes on intact once space is back', async () => {
    const file = join(disk!.dir, 'audit.log');
    const filler = join(disk!.dir, 'filler');
    const clock = new FakeClock();
    const cap = captureLogger();
    const lost: string[] = [];
    const log = IssuanceLog.open({ file, clock, log: cap.logger, onLost: (e) => lost.push(e) });
    fill(filler);

    const recorded: Recorded[] = [];
    for (let i = 0; i < 40; i++) {
      const r = log.issued(issued(i));
      if (r) recorded.push(r);
      await clock.advance(50);
    }
    expect(recorded.length).toBeGreaterThan(0); // the log's last page still had room
    expect(lost.length).toBeGreaterThan(0);
    expect(recorded.map((r) => r.auditSeq)).toEqual(recorded.map((_, i) => i + 1));
    const text = readFileSync(file, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(verifyAuditLog([{ name: file, text }], { head: recorded.at(-1)!.auditHash })).toMatchObject({ ok: true });
    const errors = cap.lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1); // 2 s of failures: one line
    expect(errors[0]).toMatchObject({ code: 'audit_log_short_write', file, event: 'issued', seq: recorded.length + 1 });

    unlinkSync(filler);
    await clock.advance(10_000);
    const after = log.issued(issued(99));
    log.close();
    expect(after).toEqual({ auditSeq: recorded.length + 1, auditHash: expect.any(String) });
    const final = readFileSync(file, 'utf8');
    expect(verifyAuditLog([{ name: file, text: final }], { head: after!.auditHash })).toMatchObject({ ok: true, lines: recorded.length + 2 });
    expect(readFileSync(`${file}.head`, 'utf8')).toBe(`${after!.auditHash} ${String(after!.auditSeq).padStart(16, '0')}\n`);
    expect(lineHash(final.trim().split('\n').at(-1)!)).toBe(after!.auditHash);
  });
});
