// A small mesh of real sidecar processes for authorization tests: each workload (shop/<name>) gets an echo app behind
// an explicit inbound listener on a fixed port, and outbound listeners to the other workloads (one through tunnels,
// one raw mTLS when asked), all from one test CA.
//
//   const m = await startPolicyMesh(ca, ['web', 'api', 'db'], { raw: [['web', 'api']] });
//   await m.echo('web', 'api');                  // true when the bytes come back through web → api → app
//   const live = await m.open('web', 'api');     // a live connection (a tunnel stream), round-tripped once
//   await live.closed;                           // resolves when the mesh closes it
//   m.refusals('db')                             // db's "connection refused" log lines
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import type { TestCaServer } from './ca.js';
import { connect, echoApp, freePort, portOf } from './datapath.js';
import { startSidecar, type TestSidecar } from './sidecar.js';

export const shopId = (name: string) => `spiffe://example.org/ns/shop/sa/${name}`;

export interface MeshWorkload {
  name: string;
  sc: TestSidecar;
  /** The echo app's port: the workload port policies name (explicit mode: the forward port). */
  appPort: number;
  inboundPort: number;
  /** Outbound listener port by target name (`<name>-raw` for the raw mTLS one). */
  outbound: Record<string, number>;
}

/** A connection held open through the mesh. */
export interface LiveConnection {
  socket: net.Socket;
  /** Writes a few bytes and resolves true when they come back (false when the connection ended first). */
  roundTrip(): Promise<boolean>;
  /** Resolves once the connection closed (the mesh closed it, or the test did). */
  closed: Promise<void>;
}

export interface PolicyMesh {
  workloads: Record<string, MeshWorkload>;
  echo(from: string, to: string, via?: 'tunnel' | 'raw'): Promise<boolean>;
  open(from: string, to: string, via?: 'tunnel' | 'raw'): Promise<LiveConnection>;
  /** The JSON log lines of `name`'s sidecar with `msg` (and the given fields). */
  lines(name: string, msg: string, fields?: Record<string, unknown>): Record<string, unknown>[];
  /** A metric's value on `name`'s admin, 0 when absent. */
  metric(name: string, metric: string, labels: Record<string, string>): Promise<number>;
  /** Waits until `name`'s /readyz answers 200 (it throws after 20 s, with what is pending). */
  ready(name: string): Promise<void>;
  /** Stops `name`'s sidecar and starts it again, on the same ports and with the same flags. */
  restart(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** Writes bytes on `s` and resolves true once they all came back; false if it ended first or in `timeoutMs`. */
function roundTrip(s: net.Socket, timeoutMs = 5_000): Promise<boolean> {
  const bytes = randomBytes(64);
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.removeListener('data', onData);
      s.removeListener('close', onClose);
      resolve(ok);
    };
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= bytes.length) done(got.subarray(0, bytes.length).equals(bytes));
    };
    const onClose = () => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    s.on('data', onData);
    s.once('close', onClose);
    if (s.destroyed) return done(false);
    s.write(bytes);
  });
}

/**
 * Starts one sidecar per name; `raw` adds a raw-mTLS outbound for those pairs; `args` adds flags per name. Waits until
 * every sidecar is ready (identity, listeners, the first policy set) unless `waitReady` is false.
 */
export async function startPolicyMesh(ca: TestCaServer, names: string[], opts: { raw?: [string, string][]; args?: Record<string, string[]>; waitReady?: boolean } = {}): Promise<PolicyMesh> {
  const apps = await Promise.all(names.map(() => echoApp()));
  const inboundPorts = await Promise.all(names.map(() => freePort()));
  const workloads: Record<string, MeshWorkload> = {};
  const start = async (name: string) => {
    const i = names.indexOf(name);
    const inbound = [{ name: 'in', listen: `127.0.0.1:${inboundPorts[i]}`, forward: `127.0.0.1:${apps[i]!.port}` }];
    const outbound = names.flatMap((to, j) => (to === name ? [] : [
      { name: to, listen: '127.0.0.1:0', upstream: `127.0.0.1:${inboundPorts[j]}`, expect: shopId(to) },
      ...((opts.raw ?? []).some(([a, b]) => a === name && b === to) ? [{ name: `${to}-raw`, listen: '127.0.0.1:0', upstream: `127.0.0.1:${inboundPorts[j]}`, expect: shopId(to), tunnel: 'off' }] : []),
    ]));
    const sc = await startSidecar({ ca, spiffeId: shopId(name), args: ['--inbound', JSON.stringify(inbound), '--outbound', JSON.stringify(outbound), ...(opts.args?.[name] ?? [])] });
    const st = await sc.waitForStatus((s) => s.listeners.length === 1 + outbound.length);
    const ports = Object.fromEntries(st.listeners.filter((l) => l.kind === 'outbound').map((l) => [l.name, portOf(l.address)]));
    workloads[name] = { name, sc, appPort: apps[i]!.port, inboundPort: inboundPorts[i]!, outbound: ports };
  };
  const ready = async (name: string) => {
    const w = workloads[name]!;
    const until = Date.now() + 20_000;
    while ((await w.sc.readyz()).status !== 200) {
      if (Date.now() > until) throw new Error(`${w.name} not ready: ${JSON.stringify((await w.sc.readyz()).body)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await Promise.all(names.map(start));
  if (opts.waitReady !== false) for (const name of names) await ready(name);
  const port = (from: string, to: string, via: 'tunnel' | 'raw') => workloads[from]!.outbound[via === 'raw' ? `${to}-raw` : to]!;
  const open = async (from: string, to: string, via: 'tunnel' | 'raw' = 'tunnel'): Promise<LiveConnection> => {
    const socket = await connect(port(from, to, via));
    socket.on('error', () => {});
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    return { socket, closed, roundTrip: () => roundTrip(socket) };
  };
  return {
    workloads,
    open,
    ready,
    async restart(name) {
      await workloads[name]!.sc.stop();
      await start(name);
    },
    async echo(from, to, via = 'tunnel') {
      // A refusal resets the client's connection; on a loaded machine the reset can land before this process has
      // seen its connect complete, and then it is the connect that fails. Any other error is no refusal: it throws.
      const c = await open(from, to, via).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ECONNRESET') return undefined;
        throw e;
      });
      if (!c) return false;
      const ok = await c.roundTrip();
      c.socket.destroy();
      return ok;
    },
    lines: (name, msg, fields = {}) => workloads[name]!.sc.proc.json().filter((l) => l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v)),
    async metric(name, metric, labels) {
      const text = (await workloads[name]!.sc.get('/metrics')).text;
      const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
      const line = text.split('\n').find((l) => l.startsWith(`${metric}{`) && want.every((w) => l.includes(w)));
      return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
    },
    async stop() {
      await Promise.all(Object.values(workloads).map((w) => w.sc.stop()));
      await Promise.all(apps.map((a) => a.close()));
    },
  };
}
