// One issuance event: the issuance log records it first, and the audit line and the fleet view get the same event,
// with its record; one place accounts for a refused signature (the metric, the issuance log, a throttled line), JWT-SVIDs included.
import { describe, expect, it } from 'vitest';
import { auditLine, IssuanceEvents, type Issuance } from '../../../../src/ca/audit/issuance-events.js';
import type { IssuanceRecorder } from '../../../../src/ca/audit/issuance-log.js';
import { DEFAULT_LOG_THROTTLE } from '../../../../src/common/log-throttle.js';
import { captureLogger } from '../../../helpers/capture-logger.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

const issuance: Issuance = {
  spiffeId: 'spiffe://example.org/ns/default/sa/web', serial: '0a1b', method: 'renewal', peer: '10.0.0.1:5000', atMs: Date.UTC(2026, 0, 1),
  notAfterMs: Date.UTC(2026, 0, 1, 1), root: 'ab'.repeat(32), keyType: 'ec-p256',
};

function setup(withLog = true) {
  const steps: string[] = [];
  const recorder: IssuanceRecorder = {
    issued: (e) => { steps.push(`log issued ${e.serial}`); return { auditSeq: 7, auditHash: 'h7' }; },
    refused: (e) => { steps.push(`log refused ${e.code} ${e.spiffeId ?? '-'}`); },
  };
  const counted: Record<string, number> = {};
  const jwtCounted: Record<string, number> = {};
  const log = captureLogger();
  const events = new IssuanceEvents({
    ...(withLog ? { recorder } : {}), log: log.logger, clock: new FakeClock(),
    signTotal: { inc: ({ result }) => { counted[result] = (counted[result] ?? 0) + 1; } },
    jwtSignTotal: { inc: ({ result }) => { jwtCounted[result] = (jwtCounted[result] ?? 0) + 1; } },
  });
  return { events, steps, counted, jwtCounted, log };
}

describe('IssuanceEvents', () => {
  it('records an issuance in the log first, then gives every subscriber the same event with its record', () => {
    const { events, steps, log } = setup();
    const seen: Issuance[] = [];
    events.subscribe(auditLine(log.logger));
    events.subscribe((i) => { steps.push('fleet view'); seen.push(i); });
    events.issued(issuance);
    expect(steps).toEqual(['log issued 0a1b', 'fleet view']);
    expect(seen[0]).toEqual({ ...issuance, recorded: { auditSeq: 7, auditHash: 'h7' } });
    expect(log.lines.find((l) => l.msg === 'issued')).toMatchObject({
      spiffeId: issuance.spiffeId, serial: '0a1b', method: 'renewal', peer: '10.0.0.1:5000', keyType: 'ec-p256', notAfter: '2026-01-01T01:00:00.000Z', auditSeq: 7, auditHash: 'h7',
    });
  });

  it('without an issuance log, the event carries no record; an unsubscribed view gets nothing', () => {
    const { events } = setup(false);
    const seen: Issuance[] = [];
    const off = events.subscribe((i) => seen.push(i));
    events.issued(issuance);
    off();
    events.issued(issuance);
    expect(seen).toEqual([issuance]);
  });

  it('accounts for a refusal once: the metric, the issuance log and one line; a failure of ours is an error line with its stack', () => {
    const { events, steps, counted, log } = setup();
    events.refused({ peer: '10.0.0.2:1', code: 'rate_limited', grpcCode: 8, detail: 'too many', spiffeId: issuance.spiffeId, method: 'renewal' });
    events.refused({ peer: '10.0.0.2:2', code: 'internal', grpcCode: 13, detail: 'boom', err: new Error('boom') });
    expect(counted).toEqual({ rate_limited: 1, internal: 1 });
    expect(steps).toEqual([`log refused rate_limited ${issuance.spiffeId}`, 'log refused internal -']);
    expect(log.lines.filter((l) => l.msg === 'SignCertificate refused')).toEqual([expect.objectContaining({
      level: 'warn', peer: '10.0.0.2:1', code: 'rate_limited', grpcCode: 8, spiffeId: issuance.spiffeId, detail: 'too many',
    })]);
    expect(log.lines.find((l) => l.msg === 'SignCertificate failed')).toMatchObject({ level: 'error', code: 'internal', err: expect.stringContaining('Error: boom') });
  });

  it('counts every refusal but writes at most DEFAULT_LOG_THROTTLE lines per code and window', () => {
    const { events, counted, log } = setup();
    for (let i = 0; i < DEFAULT_LOG_THROTTLE.max + 5; i++) events.refused({ peer: `10.0.0.3:${i}`, code: 'token_unknown', grpcCode: 16, detail: 'no such token' });
    events.refused({ peer: '10.0.0.4:1', code: 'weak_key', grpcCode: 3, detail: 'rsa 1024' });
    expect(counted.token_unknown).toBe(DEFAULT_LOG_THROTTLE.max + 5);
    const lines = log.lines.filter((l) => l.msg === 'SignCertificate refused');
    expect(lines.filter((l) => l.code === 'token_unknown')).toHaveLength(DEFAULT_LOG_THROTTLE.max);
    expect(lines.filter((l) => l.code === 'weak_key')).toHaveLength(1);
  });

  it('accounts for a refused SignJwtSvid in the same place: its own metric and line, a budget of its own, nothing in the issuance log', () => {
    const { events, steps, counted, jwtCounted, log } = setup();
    for (let i = 0; i < DEFAULT_LOG_THROTTLE.max + 2; i++) events.refused({ rpc: 'SignJwtSvid', peer: `10.0.0.5:${i}`, code: 'rate_limited', grpcCode: 8, detail: 'too many', spiffeId: issuance.spiffeId });
    events.refused({ peer: '10.0.0.6:1', code: 'rate_limited', grpcCode: 8, detail: 'too many' });
    expect(jwtCounted).toEqual({ rate_limited: DEFAULT_LOG_THROTTLE.max + 2 });
    expect(counted).toEqual({ rate_limited: 1 });
    expect(steps).toEqual(['log refused rate_limited -']);
    expect(log.lines.filter((l) => l.msg === 'SignJwtSvid refused')).toHaveLength(DEFAULT_LOG_THROTTLE.max);
    expect(log.lines.find((l) => l.msg === 'SignJwtSvid refused')).toMatchObject({ level: 'warn', peer: '10.0.0.5:0', code: 'rate_limited', spiffeId: issuance.spiffeId });
    expect(log.lines.filter((l) => l.msg === 'SignCertificate refused')).toHaveLength(1);
  });
});
