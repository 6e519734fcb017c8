// The fleet view rebuilt at start from the replica's issuance log: FILE.1 then FILE replayed in order, only issuances
// within the window, the latest certificate of each ID and its issuances of the last hour; lines that do not parse
// and refusals are skipped; no log is an empty view.
import { appendFileSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../src/common/logger.js';
import { IssuanceLog } from '../../../../src/ca/audit/issuance-log.js';
import { IssuedIdentities } from '../../../../src/ca/audit/issued-ids.js';
import { rebuildFromIssuanceLog } from '../../../../src/ca/audit/fleet-rebuild.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

const HOUR = 3_600_000;
const dir = mkdtempSync(join(tmpdir(), 'ztmesh-fleet-rebuild-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const id = (n: number) => `spiffe://example.org/ns/a/sa/s${n}`;

describe('rebuildFromIssuanceLog', () => {
  it('replays what the replica issued within the window, across size rotation, as if it had never stopped', async () => {
    const file = join(dir, 'audit.log');
    const clock = new FakeClock();
    const log = IssuanceLog.open({ file, clock, log: silentLogger() });
    const live = new IssuedIdentities({ clock, windowMs: 24 * HOUR, replica: 'r' });
    const issue = (n: number, method: string, ttlMs = HOUR) => {
      const e = { spiffeId: id(n), serial: `0${n}${clock.now()}`, notAfterMs: clock.now() + ttlMs, root: undefined, method, peer: `10.0.0.${n}:1` };
      log.issued(e);
      live.record({ ...e, atMs: clock.now() });
    };
    issue(1, 'join_token', 2 * HOUR); // issued 26 h before the restart: outside the window
    await clock.advance(2 * HOUR);
    issue(2, 'join_token');
    log.refused({ peer: '10.0.0.9:1', code: 'token_reused', spiffeId: id(9) });
    log.close();
    renameSync(file, `${file}.1`); // as size rotation leaves it
    const log2 = IssuanceLog.open({ file, clock, log: silentLogger() });
    await clock.advance(HOUR);
    const e3 = { spiffeId: id(3), serial: '03', notAfterMs: clock.now() + HOUR, root: undefined, method: 'k8s_token', peer: '10.0.0.3:1' };
    log2.issued(e3);
    live.record({ ...e3, atMs: clock.now() });
    await clock.advance(20 * 60_000);
    const e2 = { spiffeId: id(2), serial: '02b', notAfterMs: clock.now() + HOUR, root: undefined, method: 'renewal', peer: '10.0.0.2:2' };
    log2.issued(e2);
    live.record({ ...e2, atMs: clock.now() });
    log2.close();
    appendFileSync(file, 'not json\n{"seq":99,"time":"x","event":"issued"}\n');

    await clock.advance(21 * HOUR);
    const rebuilt = new IssuedIdentities({ clock, windowMs: 24 * HOUR, replica: 'r' });
    const from = await rebuildFromIssuanceLog(file, rebuilt, clock.now(), 24 * HOUR);
    expect(from).toEqual({ auditLog: file, records: 3, identities: 2 });
    const { rebuiltFrom, ...report } = rebuilt.report();
    expect(rebuiltFrom).toEqual(from);
    expect(report).toEqual({ ...live.report(), rebuiltFrom: undefined });
    expect(report.identities.map((i) => [i.spiffeId, i.serial, i.method])).toEqual([[id(2), '02b', 'renewal'], [id(3), '03', 'k8s_token']]);
  });

  it('a replica without a log starts empty', async () => {
    const ids = new IssuedIdentities({ clock: new FakeClock(), windowMs: HOUR, replica: 'r' });
    expect(await rebuildFromIssuanceLog(join(dir, 'missing.log'), ids, Date.now(), HOUR)).toMatchObject({ records: 0, identities: 0 });
    expect(ids.report().identities).toEqual([]);
  });
});
