// A tunnel connection's keepalive (session-guard.ts): a PING still unanswered pingTimeoutMs after it was sent ends the
// connection, but only once what arrived meanwhile has been read. Timers run before I/O in a turn of the event loop,
// so after a stall of the sidecar's own (a long task, a descheduled process) the answer may be waiting unread when
// the deadline fires; a healthy peer must not lose its connections to our lateness.
import { EventEmitter } from 'node:events';
import type http2 from 'node:http2';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createDataPathMetrics } from '../../../../src/sidecar/datapath-metrics.js';
import type { SocketLeg } from '../../../../src/sidecar/pipe.js';
import { SessionGuard } from '../../../../src/sidecar/tunnel/session-guard.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

const PING_MS = 10_000;
const PING_TIMEOUT_MS = 5_000;

/** The parts of an Http2Session the guard uses: PINGs answered when the test says so, destroy() recorded. */
class FakeSession extends EventEmitter {
  destroyed = false;
  closed = false;
  pings: ((err: Error | null) => void)[] = [];
  destroyedWith: { code?: string } | undefined;
  ping(cb: (err: Error | null) => void): boolean {
    this.pings.push(cb);
    return true;
  }
  destroy(err?: Error & { code?: string }): void {
    this.destroyed = true;
    this.destroyedWith = { code: err?.code };
  }
}

function guarded() {
  const clock = new FakeClock();
  const session = new FakeSession();
  const warns: string[] = [];
  const turns: (() => void)[] = [];
  const leg = { stream: { destroyed: true }, tcp: {} } as unknown as SocketLeg;
  new SessionGuard(session as unknown as http2.Http2Session, leg, {
    clock, metrics: createDataPathMetrics(new Registry()), direction: 'outbound',
    limits: { pingIntervalMs: PING_MS, pingTimeoutMs: PING_TIMEOUT_MS, closeGraceMs: 3_600_000 },
    warn: (code) => void warns.push(code), debug: () => {},
    // The next turn of the event loop, after its I/O: the test runs it when it chooses.
    afterIo: (fn) => void turns.push(fn),
  }, { upstream: '127.0.0.1:1' });
  return { clock, session, warns, turns };
}

describe('SessionGuard keepalive', () => {
  it('keeps a peer whose answer was waiting unread when the deadline fired', async () => {
    const { clock, session, warns, turns } = guarded();
    await clock.advance(PING_MS);
    expect(session.pings).toHaveLength(1);
    await clock.advance(PING_TIMEOUT_MS); // the deadline fires before this turn's I/O...
    expect(session.destroyed).toBe(false);
    session.pings[0]!(null); // ...which reads the answer
    for (const turn of turns.splice(0)) turn();
    expect(session.destroyed).toBe(false);
    expect(warns).toEqual([]);
    await clock.advance(PING_MS); // and the next PING goes out as usual
    expect(session.pings).toHaveLength(2);
  });

  it('ends the connection when no answer came by then, however late the check', async () => {
    const { clock, session, warns, turns } = guarded();
    await clock.advance(PING_MS);
    await clock.advance(PING_TIMEOUT_MS);
    expect(turns).toHaveLength(1);
    turns.splice(0)[0]!();
    expect(session.destroyedWith).toEqual({ code: 'ETIMEDOUT' });
    expect(warns).toEqual(['ping_timeout']);
  });
});
