// Hostile clients for flood tests: silent TCP sockets and half-open TLS handshakes (a ClientHello, then silence),
// spread over loopback source addresses, each remembering when the server closed it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { parseNofileLimit } from '../../src/common/fd-limit.js';

/** A real TLS 1.3 ClientHello (ALPN h2), captured from Node's own client, to replay as a half-open handshake. */
export async function clientHello(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const capture = net.createServer((s) => s.once('data', (d: Buffer) => { resolve(d); s.destroy(); capture.close(); }));
    capture.listen(0, '127.0.0.1', () => {
      const c = tls.connect({ host: '127.0.0.1', port: (capture.address() as net.AddressInfo).port, servername: 'localhost', ALPNProtocols: ['h2'], rejectUnauthorized: false });
      c.on('error', () => undefined);
    });
    capture.on('error', reject);
  });
}

/** One flooding socket. closedAtMs is set when the server closed it (or it failed to connect). */
export interface FloodSocket {
  socket: net.Socket;
  source: string;
  openedAtMs: number;
  /** When TCP was established (a SYN the kernel dropped under load is retried after a second). */
  connectedAtMs?: number;
  closedAtMs?: number;
  connected: boolean;
  closed: Promise<void>;
}

/** `count` sources 127.0.0.<first>..: loopback addresses other than 127.0.0.1, so the flood is not the legitimate client. */
export function loopbackSources(count: number, first = 2): string[] {
  return Array.from({ length: count }, (_, i) => `127.0.${(first + i) >> 8}.${(first + i) & 255}`);
}

/** Opens `count` sockets round-robin over `sources`, `batch` at a time; each sends `send` (if any) and then nothing. */
export async function flood(opts: { port: number; count: number; sources: string[]; send?: Buffer; batch?: number }): Promise<FloodSocket[]> {
  const all: FloodSocket[] = [];
  const openOne = (i: number) => new Promise<void>((resolve) => {
    const source = opts.sources[i % opts.sources.length]!;
    const socket = net.connect({ host: '127.0.0.1', port: opts.port, localAddress: source });
    const f: FloodSocket = { socket, source, openedAtMs: Date.now(), connected: false, closed: Promise.resolve() };
    f.closed = new Promise<void>((done) => socket.once('close', () => { f.closedAtMs = Date.now(); done(); resolve(); }));
    socket.on('error', () => undefined);
    socket.on('data', () => undefined); // a half-open handshake reads the server's flight and stays silent
    socket.once('connect', () => {
      f.connected = true;
      f.connectedAtMs = Date.now();
      if (opts.send) socket.write(opts.send);
      resolve();
    });
    all.push(f);
  });
  const batch = opts.batch ?? 100;
  for (let i = 0; i < opts.count; i += batch) await Promise.all(Array.from({ length: Math.min(batch, opts.count - i) }, (_, j) => openOne(i + j)));
  return all;
}

/** Raises this process's open-file limit to at least `n` (prlimit; we run as root), so a flood test has the sockets it needs. */
export function ensureOpenFileLimit(n: number): void {
  const soft = parseNofileLimit(readFileSync('/proc/self/limits', 'utf8'));
  if (soft === undefined || soft >= n) return;
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${n}:${n}`], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`this test needs ${n} open files but the limit is ${soft} and prlimit failed (run as root or raise ulimit -n): ${(e as Error).message}`);
  }
}
