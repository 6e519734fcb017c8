// The one place that chooses between a tunnel stream and raw mTLS: the pool's stream when it has one, a raw
// connection of its own when the pool is full, and raw for noTunnelCacheMs once the upstream did not choose the tunnel
// (using the connection that found out), after which the tunnel is offered again.
import { describe, expect, it } from 'vitest';
import { TransportChooser } from '../../../../src/sidecar/outbound/transport-chooser.js';
import { upstreamKey, type DialedSocket, type DialedUpstream, type NoStream, type UpstreamTarget } from '../../../../src/sidecar/outbound/transport.js';
import { silentLogger } from '../../../../src/common/logger.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

const target: UpstreamTarget = { upstream: { host: 'fd00::7', port: 8443 } };
const stream = { peerId: 'spiffe://td/stream' } as DialedUpstream;
const raw = { peerId: 'spiffe://td/raw', alpnProtocol: false } as DialedSocket;
const found = { peerId: 'spiffe://td/found-out', alpnProtocol: 'http/1.1' } as DialedSocket;

function chooser(answers: (DialedUpstream | NoStream)[]) {
  const clock = new FakeClock();
  const calls: string[] = [];
  const c = new TransportChooser({
    pool: { open: async () => { calls.push('pool'); return answers.shift()!; } },
    dialer: { dial: async () => { calls.push('raw'); return raw; } },
    clock, log: silentLogger(), noTunnelCacheMs: 60_000,
  });
  return { c, clock, calls };
}

describe('TransportChooser', () => {
  it('takes the pool\'s stream when it has one', async () => {
    const { c, calls } = chooser([stream]);
    expect(await c.dial(target, 1_000)).toBe(stream);
    expect(calls).toEqual(['pool']);
    expect(c.modeOf(upstreamKey(target))).toBe('tunnel');
  });

  it('dials raw for a connection the full pool cannot carry, and asks the pool again next time', async () => {
    const { c, calls } = chooser([{ noStream: 'full' }, stream]);
    expect(await c.dial(target, 1_000)).toBe(raw);
    expect(await c.dial(target, 1_000)).toBe(stream);
    expect(calls).toEqual(['pool', 'raw', 'pool']);
  });

  it('uses the connection that found no tunnel, dials raw until noTunnelCacheMs has passed, then offers the tunnel again', async () => {
    const { c, clock, calls } = chooser([{ noStream: 'no_tunnel', dialed: found }, stream]);
    expect(await c.dial(target, 1_000)).toBe(found);
    expect(c.modeOf(upstreamKey(target))).toBe('raw');
    expect(await c.dial(target, 1_000)).toBe(raw);
    expect(calls).toEqual(['pool', 'raw']);
    await clock.advance(60_000);
    expect(c.modeOf(upstreamKey(target))).toBe('tunnel');
    expect(await c.dial(target, 1_000)).toBe(stream);
    expect(calls).toEqual(['pool', 'raw', 'pool']);
  });

  it('a stream that waited on the connection that found no tunnel dials raw itself', async () => {
    const { c, calls } = chooser([{ noStream: 'no_tunnel', dialed: undefined }]);
    expect(await c.dial(target, 1_000)).toBe(raw);
    expect(calls).toEqual(['pool', 'raw']);
    expect(c.modeOf(upstreamKey(target))).toBe('raw');
  });

  it('keeps one choice per upstream and expected server ID', async () => {
    expect(upstreamKey(target)).toBe('[fd00::7]:8443 ');
    expect(upstreamKey({ ...target, expect: { text: 'spiffe://td/api' } as UpstreamTarget['expect'] & object })).toBe('[fd00::7]:8443 spiffe://td/api');
  });
});
