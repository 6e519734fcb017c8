// The handoff protocol and decision (tunnel/handoff.ts): the join request round-trips and any other bytes are refused
// without a throw (fuzzed); the decision table; and the outbound's HandoffClient on a manual clock with a fake dial:
// it moves a stream whose traffic calls for it, once, never for the first bytes of a short connection, and counts
// and survives every way an attempt can fail.
import { Duplex } from 'node:stream';
import type net from 'node:net';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createDataPathMetrics } from '../../../../src/sidecar/datapath-metrics.js';
import type { DialedSocket } from '../../../../src/sidecar/outbound/transport.js';
import type { SocketLeg } from '../../../../src/sidecar/pipe.js';
import {
  decodeJoin, DEFAULT_HANDOFF_POLICY, encodeJoin, handoffReason, HANDOFF_ALPN, JOIN_ACCEPTED, JOIN_BYTES, JOIN_REFUSED, parseHandoffKey,
} from '../../../../src/sidecar/tunnel/handoff.js';
import { HandoffClient, type HandoffCandidate } from '../../../../src/sidecar/tunnel/handoff-client.js';
import { LogCapture } from '../../../helpers/datapath.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

const KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

describe('join request', () => {
  it('round-trips a key and a client stream id', () => {
    expect(decodeJoin(encodeJoin(KEY, 7))).toEqual({ ok: true, key: KEY.toString('hex'), streamId: 7 });
    expect(encodeJoin(KEY, 7).length).toBe(JOIN_BYTES);
  });

  it.each([
    ['too short', encodeJoin(KEY, 7).subarray(0, JOIN_BYTES - 1), `a join request is ${JOIN_BYTES} bytes`],
    ['another magic', Buffer.concat([Buffer.from('HTTP'), encodeJoin(KEY, 7).subarray(4)]), 'not a join request'],
    ['another version', (() => { const b = encodeJoin(KEY, 7); b[4] = 2; return b; })(), 'version 2'],
    ['a server stream id', encodeJoin(KEY, 8), 'not a client stream'],
  ])('refuses %s', (_, bytes, detail) => {
    const j = decodeJoin(bytes);
    expect(j.ok).toBe(false);
    expect(j.ok ? '' : j.detail).toContain(detail);
  });

  it('never throws on any bytes, and takes only well-formed requests', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), (bytes) => {
      const j = decodeJoin(bytes);
      if (j.ok) expect(Buffer.from(encodeJoin(Buffer.from(j.key, 'hex'), j.streamId)).equals(Buffer.from(bytes))).toBe(true);
    }));
  });

  it('parses the handoff header only as 32 hex digits', () => {
    expect(parseHandoffKey(KEY.toString('hex'))).toEqual(KEY);
    for (const v of [undefined, '', 'xyz', KEY.toString('hex').toUpperCase(), `${KEY.toString('hex')}00`, ['a']]) expect(parseHandoffKey(v)).toBeUndefined();
  });
});

describe('handoffReason', () => {
  const p = DEFAULT_HANDOFF_POLICY;
  const MB = 1024 * 1024;
  it.each([
    ['bulk: 8 MiB/s on a busy connection', { bytes: 0.8 * MB, intervalMs: 100, connectionStreams: 50 }, 'bulk'],
    ['a busy stream alone on its connection', { bytes: 16 * 1024, intervalMs: 100, connectionStreams: 1 }, 'lone'],
    ['a busy stream beside one other', { bytes: 16 * 1024, intervalMs: 200, connectionStreams: 2 }, 'lone'],
    ['a busy stream among many (multiplexing pays)', { bytes: 16 * 1024, intervalMs: 100, connectionStreams: 3 }, undefined],
    ['a quiet stream alone', { bytes: 1024, intervalMs: 100, connectionStreams: 1 }, undefined],
    ['an idle stream', { bytes: 0, intervalMs: 5000, connectionStreams: 1 }, undefined],
    ['less than one interval: a short connection\'s first bytes', { bytes: 1 * MB, intervalMs: 20, connectionStreams: 1 }, undefined],
  ] as const)('%s', (_, activity, want) => {
    expect(handoffReason(activity, p)).toBe(want);
  });
});

/** A leg whose peer sends `answer` (or nothing) after the join request. */
function answeringLeg(answer: number | undefined): { leg: SocketLeg; written: Buffer[] } {
  const written: Buffer[] = [];
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _e, cb) {
      written.push(chunk);
      if (answer !== undefined) setImmediate(() => this.push(Buffer.from([answer])));
      cb();
    },
  }) as unknown as net.Socket;
  return { leg: { stream, tcp: stream }, written };
}

describe('HandoffClient', () => {
  const setup = (answer: number | undefined, alpn: string = HANDOFF_ALPN) => {
    const clock = new FakeClock(Date.now());
    const registry = new Registry();
    const metrics = createDataPathMetrics(registry);
    const dialed = answeringLeg(answer);
    const dials: string[][] = [];
    const client = new HandoffClient({
      dial: async (_t, _ms, _s, protocols) => {
        dials.push(protocols);
        return { leg: dialed.leg, peerId: 'spiffe://x/y', resumed: true, handshakeMs: 1, alpnProtocol: alpn } as DialedSocket;
      },
      clock, policy: DEFAULT_HANDOFF_POLICY, metrics, log: new LogCapture().log,
    });
    let bytes = 0;
    const moved: SocketLeg[] = [];
    const candidate: HandoffCandidate = {
      target: { upstream: { host: '127.0.0.1', port: 1 } }, upstream: '127.0.0.1:1', key: KEY, streamId: 3,
      connectionStreams: () => 1, bytes: () => bytes, timeoutMs: 1000,
      handoff: (next) => { moved.push(next); return true; }, moved: () => {},
    };
    const count = async (result: string) => (await registry.getSingleMetric('ztmesh_tunnel_handoffs_total')!.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
    const settle = () => new Promise((r) => setTimeout(r, 10));
    return { clock, client, candidate, dialed, dials, moved, count, settle, add: (n: number) => { bytes += n; } };
  };

  it('moves a stream that turned bulk, once, after sending the join request on a handoff connection', async () => {
    const t = setup(JOIN_ACCEPTED);
    const unwatch = t.client.watch(t.candidate);
    t.add(1024);
    await t.clock.advance(100); // below both rates: stays
    expect(t.dials).toEqual([]);
    t.add(2 * 1024 * 1024);
    await t.clock.advance(100);
    await t.settle();
    expect(t.dials).toEqual([[HANDOFF_ALPN]]);
    expect(Buffer.concat(t.dialed.written)).toEqual(encodeJoin(KEY, 3));
    expect(t.moved).toHaveLength(1);
    expect(await t.count('moved')).toBe(1);
    t.add(100 * 1024 * 1024);
    await t.clock.advance(1000);
    await t.settle();
    expect(t.dials).toHaveLength(1); // once moved, no longer watched
    expect(t.client.size).toBe(0);
    unwatch();
    expect(t.clock.pendingTimers()).toEqual([]);
  });

  it('never judges a stream before one whole interval, and stops watching when told', async () => {
    const t = setup(JOIN_ACCEPTED);
    const unwatch = t.client.watch(t.candidate);
    await t.clock.advance(50);
    t.add(10 * 1024 * 1024);
    unwatch(); // the connection ended within its first interval
    await t.clock.advance(1000);
    expect(t.dials).toEqual([]);
    expect(t.clock.pendingTimers()).toEqual([]);
  });

  it.each([
    ['the inbound refuses', JOIN_REFUSED, HANDOFF_ALPN, 'refused'],
    ['the inbound says nothing', undefined, HANDOFF_ALPN, 'failed'],
    ['the upstream does not speak the handoff ALPN', JOIN_ACCEPTED, 'h2', 'failed'],
  ] as const)('leaves the stream on the tunnel when %s, and counts it', async (_, answer, alpn, result) => {
    const t = setup(answer, alpn);
    t.client.watch(t.candidate);
    t.add(2 * 1024 * 1024);
    await t.clock.advance(100);
    await t.settle();
    if (answer === undefined) await t.clock.advance(1000); // the answer's deadline
    await t.settle();
    expect(t.moved).toEqual([]);
    expect(await t.count(result)).toBe(1);
    expect(t.dialed.leg.stream.destroyed).toBe(true);
  });
});
