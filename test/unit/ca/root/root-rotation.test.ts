// Root rotation on the state directory: prepare, activate, retire and status as files, their refusals, and the
// retire bound from the issuance logs or from the time activate recorded.
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { activateRoot, prepareRoot, readRootDir, retireRoot } from '../../../../src/ca/root/root-rotation.js';
import { rootStatus } from '../../../../src/ca/root/root-status.js';
import { retireBound } from '../../../../src/ca/root/retire-check.js';
import { readSequence, rootId } from '../../../../src/ca/root/bundle-file.js';
import { initCaDir } from '../../../../src/ca/state-dir.js';
import { formatRecord, GENESIS, lineHash, type VerifiedEntry } from '../../../../src/ca/audit/audit-chain.js';
import { fromPemAll, vouchesFor } from '../../../../src/pki/index.js';
import { makeCa, makeIntermediate } from '../../../helpers/pki.js';
import { tempDir } from '../../../helpers/temp-dir.js';

const T0 = Date.now();
const H = 3_600_000;
const tmp = () => join(tempDir('ztmesh-root-'), 'ca');
const certs = (dir: string, name: string) => fromPemAll(readFileSync(join(dir, name), 'utf8')).map((d) => new X509Certificate(d));

describe('ca root steps on files', () => {
  it('prepare → activate → retire, each step leaving complete files and the next step named', async () => {
    const dir = tmp();
    await initCaDir(dir, 'example.org', T0);
    const [r1] = certs(dir, 'ca.pem');
    expect(rootStatus(await readRootDir(dir), T0)).toMatchObject({ step: 'idle', sequence: 1, roots: [{ state: 'active' }] });

    const p = await prepareRoot(dir, T0);
    expect(p.sequence).toBe(2);
    expect(statSync(join(dir, 'next.key')).mode & 0o777).toBe(0o600);
    const [r2] = certs(dir, 'next.pem');
    expect(certs(dir, 'bundle.pem').map(rootId)).toEqual([rootId(r1!), rootId(r2!)]);
    expect(readSequence(readFileSync(join(dir, 'bundle.pem'), 'utf8'))).toBe(2);
    const [cross] = certs(dir, 'cross.pem');
    expect(vouchesFor(cross!, r2!, r1!, T0)).toBe(true);
    expect(r2!.subject).not.toBe(r1!.subject);
    expect(certs(dir, 'ca.pem')[0]!.raw).toEqual(r1!.raw); // still signing with the old root
    expect(rootStatus(await readRootDir(dir), T0)).toMatchObject({ step: 'prepared', roots: [{ state: 'active' }, { state: 'prepared' }], next: expect.stringContaining('ca root activate') });
    await expect(prepareRoot(dir, T0)).rejects.toMatchObject({ code: 'root_already_prepared' });

    const a = await activateRoot(dir, T0, 2 * H);
    expect(a).toEqual({ newRoot: rootId(r2!), previousRoot: rootId(r1!), previousSvidsValidUntilMs: T0 + 2 * H });
    expect(certs(dir, 'ca.pem')[0]!.raw).toEqual(r2!.raw);
    expect(statSync(join(dir, 'ca.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'previous.key')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dir, 'next.pem')) || existsSync(join(dir, 'next.key'))).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, 'rotation.json'), 'utf8'))).toMatchObject({ previousRoot: rootId(r1!), maxTtlSeconds: 7200 });
    const st = rootStatus(await readRootDir(dir), T0);
    expect(st).toMatchObject({ step: 'activated', roots: [{ state: 'retiring' }, { state: 'active' }], previousSvidsValidUntil: new Date(T0 + 2 * H).toISOString() });
    await expect(activateRoot(dir, T0, H)).rejects.toMatchObject({ code: 'no_prepared_root' });
    await expect(prepareRoot(dir, T0)).rejects.toMatchObject({ code: 'rotation_in_progress' });

    // Without a log, activate's bound decides: refused until then, unless forced.
    await expect(retireRoot(dir, T0 + H, { auditLogs: [], force: false, defaultMaxTtlMs: 24 * H })).rejects.toMatchObject({ code: 'old_root_svids_valid', message: expect.stringContaining(new Date(T0 + 2 * H).toISOString()) });
    const r = await retireRoot(dir, T0 + 2 * H + 1, { auditLogs: [], force: false, defaultMaxTtlMs: 24 * H });
    expect(r).toMatchObject({ removed: [rootId(r1!)], sequence: 3, forced: false });
    expect(certs(dir, 'bundle.pem').map(rootId)).toEqual([rootId(r2!)]);
    for (const f of ['cross.pem', 'previous.pem', 'previous.key', 'rotation.json']) expect(existsSync(join(dir, f))).toBe(false);
    expect(rootStatus(await readRootDir(dir), T0)).toMatchObject({ step: 'idle', sequence: 3 });
    await expect(retireRoot(dir, T0, { auditLogs: [], force: true, defaultMaxTtlMs: H })).rejects.toMatchObject({ code: 'nothing_to_retire' });
  });

  it('retire --force goes ahead while old-root SVIDs may be valid, and says so', async () => {
    const dir = tmp();
    await initCaDir(dir, 'example.org', T0);
    await prepareRoot(dir, T0);
    await activateRoot(dir, T0, H);
    expect(await retireRoot(dir, T0 + 1000, { auditLogs: [], force: true, defaultMaxTtlMs: H })).toMatchObject({ forced: true, sequence: 3 });
  });

  it('retire reads the issuance log: refused while a logged old-root SVID is valid, and when the log is broken', async () => {
    const dir = tmp();
    await initCaDir(dir, 'example.org', T0 - 3 * H);
    const old = rootId(certs(dir, 'ca.pem')[0]!);
    await prepareRoot(dir, T0);
    const log = join(dir, '..', 'audit.log');
    const lines = [
      formatRecord(0, T0 - 3 * H, { event: 'opened' }, GENESIS),
      formatRecord(1, T0 - 10_000, { event: 'issued', spiffeId: 'spiffe://example.org/w', serial: '01', notAfter: new Date(T0 + 60_000).toISOString(), root: old, method: 'token', peer: 'p', code: 'ok' }, ''),
    ];
    lines[1] = formatRecord(1, T0 - 10_000, JSON.parse(lines[1]!), lineHash(lines[0]!));
    writeFileSync(log, `${lines.join('\n')}\n`);
    await activateRoot(dir, T0, 2 * H);
    // The log, which began more than max-ttl ago, knows better than activate's bound: the only old-root SVID
    // expires a minute from T0.
    await expect(retireRoot(dir, T0 + 30_000, { auditLogs: [log], force: false, defaultMaxTtlMs: 24 * H })).rejects.toMatchObject({ code: 'old_root_svids_valid', message: expect.stringContaining('1 SVID(s)') });
    writeFileSync(log, `${lines.reverse().join('\n')}\n`);
    await expect(retireRoot(dir, T0 + 61_000, { auditLogs: [log], force: false, defaultMaxTtlMs: 24 * H })).rejects.toMatchObject({ code: 'audit_log_broken', message: expect.stringContaining('line 1') });
    writeFileSync(log, `${lines.reverse().join('\n')}\n`);
    expect(await retireRoot(dir, T0 + 61_000, { auditLogs: [log], force: false, defaultMaxTtlMs: 24 * H })).toMatchObject({ removed: [old], forced: false });
  });

  it('refuses every step on a plug-in CA (an intermediate under the operator\'s root), and status says why', async () => {
    const dir = tmp();
    await initCaDir(dir, 'corp.example', T0);
    const root = makeCa('corp.example');
    const mid = makeIntermediate(root);
    writeFileSync(join(dir, 'ca.pem'), mid.certPem);
    writeFileSync(join(dir, 'ca.key'), mid.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'bundle.pem'), root.certPem);
    for (const step of [() => prepareRoot(dir, T0), () => activateRoot(dir, T0, H), () => retireRoot(dir, T0, { auditLogs: [], force: true, defaultMaxTtlMs: H })]) {
      await expect(step()).rejects.toMatchObject({ code: 'plugin_ca_root_rotation', message: expect.stringContaining('plug-in CA') });
    }
    expect(existsSync(join(dir, 'next.key'))).toBe(false);
    expect(rootStatus(await readRootDir(dir), T0)).toMatchObject({ plugin: true, step: 'plugin', roots: [{ state: 'active' }] });
  });
});

describe('retireBound', () => {
  const entry = (time: number, fields: Partial<VerifiedEntry['record']>): VerifiedEntry => ({
    file: 'a.log', line: 1, record: { seq: 0, prev: GENESIS, time: new Date(time).toISOString(), event: 'issued', ...fields },
  });
  const activation = { previousRoot: 'old', activatedAtMs: T0, maxTtlMs: H, previousSvidsValidUntilMs: T0 + H };
  it.each([
    ['no log: the activation bound', [], activation, T0 + H],
    ['no log and no activation record: unknown', [], undefined, Infinity],
    ['a log that began long ago, an old-root SVID valid 5 more minutes', [{ name: 'a', entries: [entry(T0 - 9 * H, { event: 'opened' }), entry(T0 - 60_000, { root: 'old', notAfter: new Date(T0 + 300_000).toISOString() })] }], activation, T0 + 300_000],
    ['SVIDs of the new root do not count', [{ name: 'a', entries: [entry(T0 - 9 * H, { event: 'opened' }), entry(T0, { root: 'new', notAfter: new Date(T0 + H).toISOString() })] }], activation, T0 - 8 * H],
    ['a log that began after activation cannot see before it', [{ name: 'a', entries: [entry(T0 + 1000, { event: 'opened' })] }], activation, T0 + 1000 + H],
    ['an empty log covers nothing', [{ name: 'a', entries: [] }], activation, T0 + 5 + H],
    ['the latest of several replicas', [
      { name: 'a', entries: [entry(T0 - 9 * H, { event: 'opened' }), entry(T0, { root: 'old', notAfter: new Date(T0 + 10).toISOString() })] },
      { name: 'b', entries: [entry(T0 - 9 * H, { event: 'opened' }), entry(T0, { root: 'old', notAfter: new Date(T0 + 20).toISOString() })] },
    ], activation, T0 + 20],
  ])('%s', (_what, logs, act, until) => {
    expect(retireBound({ retiringRoots: ['old'], logs, activation: act, defaultMaxTtlMs: 24 * H, nowMs: T0 + 5 }).untilMs).toBe(until);
  });
});
