// Hostile clients for flood tests: thousands of TCP connections from several 127.0.0.x addresses that send
// a whole TLS ClientHello, part of one, or nothing, and then stay silent until the server closes them.
import net from 'node:net';
import tls from 'node:tls';

/** What one flood connection sends before going silent. */
export type FloodPayload = 'hello' | 'partial-hello' | 'nothing';

/** The first flight of a real node TLS 1.3 client, captured once (it carries a fresh key share). */
export async function captureClientHello(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((s) => s.once('data', (d: Buffer) => { s.destroy(); server.close(); resolve(d); }));
    server.listen(0, '127.0.0.1', () => {
      const t = tls.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
      t.on('error', () => {});
    });
    server.on('error', reject);
  });
}

export interface FloodOptions {
  port: number;
  count: number;
  /** Source addresses, used round robin (all of 127/8 is local on Linux). */
  sources: readonly string[];
  /** What connection i sends. */
  payload: (i: number) => FloodPayload;
  hello: Buffer;
  /** Connections being dialled at once. */
  concurrency?: number;
  /** Runs once `count / 2` connections have been dialled; the flood goes on meanwhile. */
  midway?: () => Promise<void>;
}

export interface FloodResult {
  /** For each connection: ms from its connect to its close by the server (undefined: refused before connect). */
  heldMs: (number | undefined)[];
  /** Wall time from the first dial to the last close. */
  totalMs: number;
}

/** Runs one flood and resolves once the server closed every connection (or rejects after timeoutMs). */
export function flood(opts: FloodOptions, timeoutMs = 30_000): Promise<FloodResult> {
  const started = Date.now();
  const heldMs: (number | undefined)[] = new Array(opts.count);
  const partial = opts.hello.subarray(0, Math.min(60, opts.hello.length - 1));
  let dialed = 0;
  let inFlight = 0;
  let closed = 0;
  let midway: Promise<void> | undefined;
  return new Promise<FloodResult>((resolve, reject) => {
    const sockets: net.Socket[] = [];
    const timer = setTimeout(() => {
      for (const s of sockets) s.destroy();
      reject(new Error(`flood: the server closed ${closed} of ${opts.count} connections within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      void (midway ?? Promise.resolve()).then(() => resolve({ heldMs, totalMs: Date.now() - started }), reject);
    };
    const dialMore = () => {
      while (inFlight < (opts.concurrency ?? 400) && dialed < opts.count) {
        const i = dialed++;
        inFlight++;
        let connectedAt: number | undefined;
        let settled = false;
        const settle = () => { if (!settled) { settled = true; inFlight--; dialMore(); } };
        const s = net.connect({ host: '127.0.0.1', port: opts.port, localAddress: opts.sources[i % opts.sources.length] });
        sockets.push(s);
        s.on('error', () => {});
        s.on('data', () => {});
        s.once('connect', () => {
          connectedAt = Date.now();
          const what = opts.payload(i);
          if (what !== 'nothing') s.write(what === 'hello' ? opts.hello : partial);
          settle();
        });
        s.once('close', () => {
          heldMs[i] = connectedAt === undefined ? undefined : Date.now() - connectedAt;
          settle();
          if (++closed === opts.count) finish();
        });
        if (dialed === Math.floor(opts.count / 2) && opts.midway) {
          midway = opts.midway();
          midway.catch(() => {}); // reported once the flood is over
        }
      }
    };
    dialMore();
  });
}
