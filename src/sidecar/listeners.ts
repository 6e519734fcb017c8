// The data path's entry point, called by the composition root (app.ts): one net.Server per configured
// inbound and outbound entry, sharing one TLS context holder, one session cache and one metrics set.
import net from 'node:net';
import type { Registry } from 'prom-client';
import type { Clock } from '../common/clock.js';
import { formatHostPort, parseHostPort } from '../common/address.js';
import { ConfigError } from '../common/errors.js';
import type { HeapTrimmer } from '../common/heap-trimmer.js';
import type { Logger } from '../common/logger.js';
import { parseSpiffePattern } from '../pki/spiffe-id.js';
import { compilePolicy, isOpenPolicy } from './authz.js';
import type { InboundConfig, OutboundConfig } from './config-schema.js';
import { ConnectionReporter, dataPathMetrics, peerLabel } from './datapath-metrics.js';
import { InboundHandler } from './inbound.js';
import { OutboundHandler, UpstreamDialer, type UpstreamTarget } from './outbound.js';
import { REASONS } from './reasons.js';
import { TlsContextHolder } from './tls-context.js';
import { withTransparent } from './intercept/transparent.js';

import type { ListenerContext, RunningListeners } from './listener-context.js';

export type { ListenerContext, RunningListeners } from './listener-context.js';

/** A handler as the listener sees it: counts, waits and resets. */
interface Handler {
  activeCount(): number;
  whenIdle(): Promise<void>;
  destroyAll(): void;
}

/** One bound listener. */
export interface BoundListener {
  name: string;
  kind: 'inbound' | 'outbound';
  server: net.Server;
  address: string;
  reporter: ConnectionReporter;
  handler: Handler;
  stopAccepting(): Promise<void>;
}

/** Binds `server` on host:port; a taken port fails startup with ConfigError `port_in_use` naming the listener. */
export function listen(server: net.Server, host: string, port: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.removeListener('listening', onListening);
      const code = err.code === 'EADDRINUSE' ? 'port_in_use' : 'listen_failed';
      reject(new ConfigError(code, `${what}: cannot listen on ${formatHostPort(host, port)}: ${err.message}`, { cause: err }));
    };
    const onListening = () => {
      server.removeListener('error', onError);
      const a = server.address() as net.AddressInfo;
      resolve(formatHostPort(a.address, a.port));
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port });
  });
}

function stopAccepting(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    // close() resolves only once every connection is gone; we only want the listening socket closed.
    server.close();
    resolve();
  });
}

function onDrop(server: net.Server, reporter: ConnectionReporter): void {
  server.on('drop', (info?: { remoteAddress?: string; remotePort?: number }) => {
    reporter.refused(peerLabel(info?.remoteAddress, info?.remotePort), REASONS.maxConnections, { handshake: false });
  });
}

/** The shared parts every listener of one sidecar uses. */
export interface DataPathShared {
  contexts: TlsContextHolder;
  dialer: UpstreamDialer;
  clock: Clock;
  registry: Registry;
  log: Logger;
  trustDomain: string;
  heap?: HeapTrimmer;
}

/** Starts one explicit inbound listener. */
export async function startInbound(cfg: InboundConfig, shared: DataPathShared): Promise<BoundListener & { handler: InboundHandler }> {
  const log = shared.log.child({ listener: cfg.name, kind: 'inbound' });
  const policy = compilePolicy(shared.trustDomain, cfg.allow, cfg.defaultPolicy);
  if (isOpenPolicy(policy)) log.info({ trustDomain: shared.trustDomain }, `inbound policy is open: any identity of ${shared.trustDomain} may connect (set allow or defaultPolicy: deny to restrict)`);
  else if (!policy.allow) log.info('inbound policy denies every peer (defaultPolicy: deny and no allow list)');
  const reporter = new ConnectionReporter('inbound', dataPathMetrics(shared.registry), log, shared.clock);
  const handler = new InboundHandler(
    { contexts: shared.contexts, clock: shared.clock, reporter, ...(shared.heap ? { heap: shared.heap } : {}) },
    {
      policy, handshakeTimeoutMs: cfg.handshakeTimeout, idleTimeoutMs: cfg.idleTimeout,
      limits: { maxPending: cfg.maxPendingHandshakes, maxPendingPerSource: cfg.maxPendingHandshakesPerSource },
    },
  );
  const route = { forward: parseHostPort(cfg.forward, `inbound ${cfg.name}: forward`, '127.0.0.1') };
  const server = net.createServer({ allowHalfOpen: true }, (raw) => handler.handle(raw, route));
  server.maxConnections = cfg.maxConnections;
  onDrop(server, reporter);
  const hp = parseHostPort(cfg.listen, `inbound ${cfg.name}: listen`);
  let address: string;
  try {
    address = await listen(server, hp.host, hp.port, `inbound ${cfg.name}`);
  } catch (err) {
    handler.dispose();
    throw err;
  }
  return { name: cfg.name, kind: 'inbound', server, address, reporter, handler, stopAccepting: () => stopAccepting(server) };
}

/** Starts one explicit outbound listener. */
export async function startOutbound(cfg: OutboundConfig, shared: DataPathShared): Promise<BoundListener & { handler: OutboundHandler }> {
  const log = shared.log.child({ listener: cfg.name, kind: 'outbound' });
  const reporter = new ConnectionReporter('outbound', dataPathMetrics(shared.registry), log, shared.clock);
  const handler = new OutboundHandler(
    { contexts: shared.contexts, dialer: shared.dialer, reporter },
    { handshakeTimeoutMs: cfg.handshakeTimeout, idleTimeoutMs: cfg.idleTimeout },
  );
  const target: UpstreamTarget = {
    upstream: parseHostPort(cfg.upstream, `outbound ${cfg.name}: upstream`, '127.0.0.1'),
    ...(cfg.expect ? { expect: parseSpiffePattern(cfg.expect) } : {}),
  };
  // pauseOnConnect: nothing is read from the app before the upstream's identity is verified.
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (app) => handler.handle(app, target));
  server.maxConnections = cfg.maxConnections;
  onDrop(server, reporter);
  const hp = parseHostPort(cfg.listen, `outbound ${cfg.name}: listen`, '127.0.0.1');
  const address = await listen(server, hp.host, hp.port, `outbound ${cfg.name}`);
  return { name: cfg.name, kind: 'outbound', server, address, reporter, handler, stopAccepting: () => stopAccepting(server) };
}

/** Stops accepting on every listener, waits up to timeoutMs for their connections, then resets the rest. */
export async function drainListeners(listeners: readonly BoundListener[], clock: Clock, timeoutMs: number): Promise<void> {
  await Promise.all(listeners.map((l) => l.stopAccepting()));
  let timer: { cancel(): void } | undefined;
  const deadline = new Promise<void>((resolve) => { timer = clock.setTimeout(resolve, timeoutMs); });
  await Promise.race([Promise.all(listeners.map((l) => l.handler.whenIdle())), deadline]);
  timer?.cancel();
  for (const l of listeners) l.handler.destroyAll();
}

/** Starts every configured explicit-mode listener; each is a readiness task until it listens. */
export async function startListeners(ctx: ListenerContext): Promise<RunningListeners> {
  const log = ctx.log.child({ component: 'datapath' });
  const contexts = new TlsContextHolder(ctx.identity, ctx.clock, log);
  const shared: DataPathShared = {
    contexts, dialer: new UpstreamDialer(contexts, ctx.clock, ctx.config.trustDomain),
    clock: ctx.clock, registry: ctx.registry, log, trustDomain: ctx.config.trustDomain,
    ...(ctx.heap ? { heap: ctx.heap } : {}),
  };
  dataPathMetrics(ctx.registry);
  const bound: BoundListener[] = [];
  const starts = [
    ...ctx.config.inbound.map((c) => ({ task: ctx.readiness.register(`listener:inbound:${c.name}`), start: () => startInbound(c, shared) })),
    ...ctx.config.outbound.map((c) => ({ task: ctx.readiness.register(`listener:outbound:${c.name}`), start: () => startOutbound(c, shared) })),
  ];
  try {
    for (const s of starts) {
      const l = await s.start();
      bound.push(l);
      s.task.ready();
      log.info({ listener: l.name, kind: l.kind, address: l.address }, 'listening');
    }
  } catch (err) {
    for (const l of bound) { l.server.close(); l.handler.destroyAll(); }
    contexts.close();
    throw err;
  }
  let closed = false;
  const explicit: RunningListeners = {
    statuses: () => bound.map((l) => ({ name: l.name, kind: l.kind, address: l.address, ...l.reporter.counters })),
    drain: (timeoutMs) => drainListeners(bound, ctx.clock, timeoutMs),
    close: async () => {
      if (closed) return;
      closed = true;
      await Promise.all(bound.map((l) => l.stopAccepting()));
      for (const l of bound) {
        l.handler.destroyAll();
        (l.handler as { dispose?: () => void }).dispose?.();
      }
      contexts.close();
    },
  };
  // Transparent mode (issue 5) adds the 15006/15001 interception listeners beside the explicit ones.
  return ctx.config.transparent.enabled ? withTransparent(explicit, ctx) : explicit;
}
