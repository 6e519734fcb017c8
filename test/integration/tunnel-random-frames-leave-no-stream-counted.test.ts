// fast-check over the tunnel's framing: whatever sequence of HTTP/2 frames an allowed peer sends (well formed or not:
// streams opened, data, resets, window updates, settings, pings, GOAWAYs, frames on the wrong stream, lengths that
// lie, unknown types), once it ends its connection the inbound holds none of its streams, sessions or app sockets.
// A raw HTTP/2 framer over mTLS against the real data path.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { echoMeshForSuite, portOf, until } from '../helpers/datapath.js';
import { connectBlock, FLAG, FRAME, frame, goawayFrame, RawH2Client, settingsFrame, u32 } from '../helpers/h2-framer.js';

const RUNS = 20;
/**
 * A run that ends in a connection error has nghttp2 stop reading its socket: only the liveness sweep then notices the
 * client leave (liveness-sweep.ts), once a second by default. Looking every 50 ms shortens the wait, not the check.
 */
const SWEEP_INTERVAL_MS = 50;

/** One frame of a run; `stream` picks among the run's opened streams (or 0, or an ID never opened). */
type Op =
  | { kind: 'open' }
  | { kind: 'data'; stream: number; bytes: number; end: boolean }
  | { kind: 'oversized'; stream: number }
  | { kind: 'rst'; stream: number; code: number }
  | { kind: 'window'; stream: number; increment: number }
  | { kind: 'ping'; length: number; ack: boolean }
  | { kind: 'settings'; id: number; value: number }
  | { kind: 'goaway'; code: number }
  | { kind: 'headers'; stream: number; end: boolean }
  | { kind: 'continuation'; stream: number }
  | { kind: 'unknown'; type: number; stream: number; bytes: number }
  | { kind: 'lying'; type: number; stream: number };

const streamPick = fc.integer({ min: -2, max: 8 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'open' as const }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('data' as const), stream: streamPick, bytes: fc.integer({ min: 0, max: 20_000 }), end: fc.boolean() }), weight: 3 },
  fc.record({ kind: fc.constant('oversized' as const), stream: streamPick }),
  fc.record({ kind: fc.constant('rst' as const), stream: streamPick, code: fc.integer({ min: 0, max: 14 }) }),
  fc.record({ kind: fc.constant('window' as const), stream: streamPick, increment: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 ** 31 - 1 })) }),
  fc.record({ kind: fc.constant('ping' as const), length: fc.constantFrom(8, 8, 0, 7, 9), ack: fc.boolean() }),
  fc.record({ kind: fc.constant('settings' as const), id: fc.integer({ min: 0, max: 9 }), value: fc.integer({ min: 0, max: 2 ** 32 - 1 }) }),
  fc.record({ kind: fc.constant('goaway' as const), code: fc.integer({ min: 0, max: 14 }) }),
  fc.record({ kind: fc.constant('headers' as const), stream: streamPick, end: fc.boolean() }),
  fc.record({ kind: fc.constant('continuation' as const), stream: streamPick }),
  fc.record({ kind: fc.constant('unknown' as const), type: fc.integer({ min: 10, max: 255 }), stream: streamPick, bytes: fc.integer({ min: 0, max: 64 }) }),
  fc.record({ kind: fc.constant('lying' as const), type: fc.integer({ min: 0, max: 9 }), stream: streamPick }),
);

describe('tunnel framing from an allowed peer', () => {
  const mesh = echoMeshForSuite({ sweepIntervalMs: SWEEP_INTERVAL_MS });
  const port = () => portOf(mesh.inbound.address);

  /** Sends one run's frames, then ends the connection as `close` says. */
  const play = async (ops: Op[], close: 'end' | 'destroy') => {
    const leaf = mesh.web.svid();
    const c = await RawH2Client.connect({ port: port(), key: leaf.keyPem, cert: leaf.chainPem, ca: mesh.ca.certPem });
    const opened: number[] = [];
    const id = (pick: number) => (pick < 0 ? (pick === -1 ? 0 : 1001) : opened.length ? opened[pick % opened.length]! : 1);
    for (const o of ops) {
      switch (o.kind) {
        case 'open': opened.push(c.connectStream(`127.0.0.1:${port()}`)); break;
        case 'data': c.send(frame(FRAME.DATA, o.end ? FLAG.END_STREAM : 0, id(o.stream), Buffer.alloc(Math.min(o.bytes, 16_384)))); break;
        case 'oversized': c.send(frame(FRAME.DATA, 0, id(o.stream), Buffer.alloc(16_385))); break;
        case 'rst': c.send(frame(FRAME.RST_STREAM, 0, id(o.stream), u32(o.code))); break;
        case 'window': c.send(frame(FRAME.WINDOW_UPDATE, 0, id(o.stream), u32(o.increment))); break;
        case 'ping': c.send(frame(FRAME.PING, o.ack ? FLAG.ACK : 0, 0, Buffer.alloc(o.length))); break;
        case 'settings': c.send(settingsFrame([[o.id, o.value]])); break;
        case 'goaway': c.send(goawayFrame(opened.at(-1) ?? 0, o.code)); break;
        case 'headers': c.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | (o.end ? FLAG.END_STREAM : 0), id(o.stream), connectBlock(`127.0.0.1:${port()}`))); break;
        case 'continuation': c.send(frame(FRAME.CONTINUATION, FLAG.END_HEADERS, id(o.stream), connectBlock(`127.0.0.1:${port()}`))); break;
        case 'unknown': c.send(frame(o.type, 0, id(o.stream), Buffer.alloc(o.bytes))); break;
        case 'lying': c.send(frame(o.type, 0, id(o.stream), Buffer.alloc(4), 40)); break;
      }
    }
    // Let the inbound take in what it was sent (an answer, a GOAWAY, or a close), then leave.
    await c.until(() => c.closed || c.frames.length > 1, 5_000).catch(() => {});
    if (close === 'end') c.end();
    else c.destroy();
  };

  it(`${RUNS} random runs leave no stream, session or app socket behind`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 24 }), fc.constantFrom('end' as const, 'destroy' as const), async (ops, close) => {
        await play(ops, close);
        const counts = () => mesh.inbound.handler.tunnels!.counts;
        // web's pooled connection is not in play: nothing here dials through it.
        await until(() => counts().streamsActive === 0 && counts().connections === 0 && mesh.server.connections.size === 0, 10_000);
        expect(mesh.server.statuses()[0]!.connectionsActive).toBe(0);
      }),
      { numRuns: RUNS },
    );
  }, 300_000);
});
