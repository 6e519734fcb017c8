// The liveness sweep (sidecar/liveness-sweep.ts) on a manual clock with a stand-in poll(2): it ticks only while it
// watches something, reports `gone` and `ended` once and drops the watch, `fin` once and keeps it, prefers a protocol
// that ended over the FIN that follows it, and without poll(2) says so once and keeps checking the protocols.
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { PeerState } from '../../../src/common/socket-poll.js';
import { LivenessSweep, SWEEP_INTERVAL_MS, type Departure } from '../../../src/sidecar/liveness-sweep.js';
import { LogCapture } from '../../helpers/datapath.js';
import { FakeClock } from '../../helpers/fake-clock.js';

/** A stand-in socket whose descriptor is `fd` (what socketFd reads). */
const socketWithFd = (fd: number) => ({ _handle: { fd } }) as unknown as net.Socket;

describe('LivenessSweep', () => {
  const setup = (kernel: Map<number, PeerState> | 'unavailable') => {
    const clock = new FakeClock();
    const logs = new LogCapture();
    const sweep = new LivenessSweep({
      clock, log: logs.log,
      load: () => {
        if (kernel === 'unavailable') throw new Error('no glibc here');
        return (fds) => fds.map((fd) => kernel.get(fd));
      },
    });
    return { clock, logs, sweep };
  };

  it('reports each departure once, and runs no timer while it watches nothing', async () => {
    const kernel = new Map<number, PeerState>();
    const { clock, sweep } = setup(kernel);
    expect(clock.pendingTimers()).toEqual([]);
    const seen: [string, Departure][] = [];
    let alive = true;
    const stopA = sweep.watch({ socket: socketWithFd(10), onDeparture: (d) => seen.push(['a', d]) });
    sweep.watch({ socket: socketWithFd(11), onDeparture: (d) => seen.push(['b', d]), alive: () => alive });
    expect(clock.pendingTimers()).toEqual([SWEEP_INTERVAL_MS]);

    await clock.advance(SWEEP_INTERVAL_MS);
    expect(seen).toEqual([]); // refused path: nothing left, nothing said
    kernel.set(10, 'fin');
    kernel.set(11, 'fin');
    alive = false;
    await clock.advance(SWEEP_INTERVAL_MS);
    expect(seen).toEqual([['a', 'fin'], ['b', 'ended']]);
    kernel.set(10, 'gone');
    await clock.advance(SWEEP_INTERVAL_MS);
    expect(seen).toEqual([['a', 'fin'], ['b', 'ended'], ['a', 'gone']]);
    expect(sweep.size).toBe(0);
    stopA();
    await clock.advance(SWEEP_INTERVAL_MS);
    expect(clock.pendingTimers()).toEqual([]);
  });

  it('without poll(2), says so once and still notices a protocol that ended', async () => {
    const { clock, logs, sweep } = setup('unavailable');
    const seen: Departure[] = [];
    let alive = true;
    sweep.watch({ socket: socketWithFd(12), onDeparture: (d) => seen.push(d), alive: () => alive });
    await clock.advance(SWEEP_INTERVAL_MS * 3);
    alive = false;
    await clock.advance(SWEEP_INTERVAL_MS);
    expect(seen).toEqual(['ended']);
    expect(logs.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
  });
});
