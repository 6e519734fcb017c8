// Transparent mode's entry point: binds the inbound (15006) and outbound (15001) interception listeners.
// Called by listeners.ts when `transparent.enabled`; the same context as the explicit data path.
import net from 'node:net';
import os from 'node:os';
import { parseHostPort } from '../../common/address.js';
import { ConfigError } from '../../common/errors.js';
import { compilePolicy, isOpenPolicy } from '../authz.js';
import type { ListenerContext, RunningListeners } from '../listener-context.js';
import { ConnectionReporter, dataPathMetrics, peerLabel } from '../datapath-metrics.js';
import { InboundHandler } from '../inbound.js';
import { OutboundHandler, UpstreamDialer } from '../outbound.js';
import { REASONS } from '../reasons.js';
import { TlsContextHolder } from '../tls-context.js';
import { DestinationPolicy, OwnListeners, normalizeAddress } from './destinations.js';
import { DialTracker } from './dial-tracker.js';
import { INBOUND_SOURCE_V6 } from './iptables-rules.js';
import { checkOriginalDst } from './original-dst.js';
import { TransparentInbound } from './transparent-inbound.js';
import { TransparentOutbound } from './transparent-outbound.js';

/** Transparent mode gets the same context as the explicit data path. */
type TransparentContext = ListenerContext;
type RunningTransparent = RunningListeners;

/** Binds on the IPv6 wildcard (dual stack: IPv4 arrives as ::ffff:a.b.c.d) or, without IPv6, on 0.0.0.0. */
async function listenWildcard(server: net.Server, port: number, what: string): Promise<string> {
  const attempt = (host: string) => new Promise<string>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => { server.removeListener('listening', onListening); reject(err); };
    const onListening = () => {
      server.removeListener('error', onError);
      const a = server.address() as net.AddressInfo;
      resolve(a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port, ipv6Only: false });
  });
  try {
    return await attempt('::');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL') {
      try {
        return await attempt('0.0.0.0');
      } catch (e) {
        err = e;
      }
    }
    const c = (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'port_in_use' : 'listen_failed';
    throw new ConfigError(c, `${what}: cannot listen on port ${port}: ${(err as Error).message}`, { cause: err });
  }
}

/** Every address of this network namespace (pod IPs), for the loop guard. */
function localAddresses(): ReadonlySet<string> {
  const out = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) out.add(normalizeAddress(i.address));
  return out;
}

/** Starts transparent inbound and outbound; fails startup when SO_ORIGINAL_DST cannot be read here. */
export async function startTransparentListeners(ctx: TransparentContext): Promise<RunningTransparent> {
  const cfg = ctx.config.transparent;
  const log = ctx.log.child({ component: 'transparent' });
  const inTask = ctx.readiness.register('listener:transparent-inbound');
  const outTask = ctx.readiness.register('listener:transparent-outbound');

  const probe = await checkOriginalDst();
  log.info({ probe }, 'SO_ORIGINAL_DST works in this network namespace');

  const own = new OwnListeners(
    [cfg.inboundPort, cfg.outboundPort, parseHostPort(ctx.config.admin, 'admin').port, parseHostPort(ctx.config.health, 'health').port],
    localAddresses,
  );
  const destinations = new DestinationPolicy(cfg);
  const policy = compilePolicy(ctx.config.trustDomain, cfg.allow, cfg.defaultPolicy);
  if (isOpenPolicy(policy)) log.info(`transparent inbound policy is open: any identity of ${ctx.config.trustDomain} may connect`);

  const contexts = new TlsContextHolder(ctx.identity, ctx.clock, log);
  const dials = new DialTracker();
  const dialer = new UpstreamDialer(contexts, ctx.clock, ctx.config.trustDomain, { onSocket: (s) => dials.track(s) });
  const metrics = dataPathMetrics(ctx.registry);
  const inReporter = new ConnectionReporter('inbound', metrics, log.child({ listener: 'transparent-inbound' }), ctx.clock);
  const outReporter = new ConnectionReporter('outbound', metrics, log.child({ listener: 'transparent-outbound' }), ctx.clock);
  const inHandler = new InboundHandler(
    { contexts, clock: ctx.clock, reporter: inReporter, ...(ctx.heap ? { heap: ctx.heap } : {}) },
    {
      policy, handshakeTimeoutMs: cfg.handshakeTimeout, idleTimeoutMs: cfg.idleTimeout,
      limits: { maxPending: cfg.maxPendingHandshakes, maxPendingPerSource: cfg.maxPendingHandshakesPerSource },
    },
  );
  const outHandler = new OutboundHandler(
    { contexts, dialer, reporter: outReporter },
    { handshakeTimeoutMs: cfg.handshakeTimeout, idleTimeoutMs: cfg.idleTimeout },
  );
  const inbound = new TransparentInbound({
    handler: inHandler, reporter: inReporter, own, sourceV4: cfg.inboundSourceAddress, sourceV6: INBOUND_SOURCE_V6,
  });
  const outbound = new TransparentOutbound({
    handler: outHandler, reporter: outReporter, destinations, own, dials, log: outReporter.log,
    idleTimeoutMs: cfg.idleTimeout, maxConnections: cfg.maxConnections,
  });

  const inServer = net.createServer({ allowHalfOpen: true }, (raw) => inbound.handle(raw));
  const outServer = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (app) => outbound.handle(app));
  // Past maxConnections the kernel-accepted socket is dropped by node; say so like every other refusal.
  inServer.maxConnections = cfg.maxConnections;
  inServer.on('drop', (info?: { remoteAddress?: string; remotePort?: number }) => {
    inReporter.refused(peerLabel(info?.remoteAddress, info?.remotePort), REASONS.maxConnections, { handshake: false });
  });
  let inAddress: string;
  let outAddress: string;
  try {
    inAddress = await listenWildcard(inServer, cfg.inboundPort, 'transparent inbound');
    outAddress = await listenWildcard(outServer, cfg.outboundPort, 'transparent outbound');
  } catch (err) {
    inServer.close();
    inHandler.dispose();
    contexts.close();
    throw err;
  }
  inTask.ready();
  outTask.ready();
  log.info({ inbound: inAddress, outbound: outAddress, passthrough: destinations.passthroughSummary }, 'transparent listeners up');

  const handlersIdle = () => Promise.all([inHandler.whenIdle(), outHandler.whenIdle()]);
  const stop = () => { inServer.close(); outServer.close(); };
  let closed = false;
  return {
    statuses: () => [
      { name: 'transparent-inbound', kind: 'transparent-inbound', address: inAddress, ...inReporter.counters },
      { name: 'transparent-outbound', kind: 'transparent-outbound', address: outAddress, ...outReporter.counters },
      // Destinations that are not meshed are listed with their own counters, so an operator sees plain TCP leave.
      { name: 'transparent-passthrough', kind: 'passthrough', address: destinations.passthroughSummary, ...outbound.passthrough },
    ],
    drain: async (timeoutMs) => {
      stop();
      let timer: { cancel(): void } | undefined;
      await Promise.race([handlersIdle(), new Promise<void>((r) => { timer = ctx.clock.setTimeout(r, timeoutMs); })]);
      timer?.cancel();
      inHandler.destroyAll();
      outbound.destroyAll();
    },
    close: async () => {
      if (closed) return;
      closed = true;
      stop();
      inHandler.destroyAll();
      outbound.destroyAll();
      inHandler.dispose();
      contexts.close();
    },
  };
}

/** Starts transparent mode beside already-running explicit listeners; closes them if transparent mode cannot start. */
export async function withTransparent(explicit: RunningTransparent, ctx: TransparentContext): Promise<RunningTransparent> {
  let t: RunningTransparent;
  try {
    t = await startTransparentListeners(ctx);
  } catch (err) {
    await explicit.close();
    throw err;
  }
  return {
    statuses: () => [...explicit.statuses(), ...t.statuses()],
    drain: async (timeoutMs) => { await Promise.all([explicit.drain(timeoutMs), t.drain(timeoutMs)]); },
    close: async () => { await Promise.all([explicit.close(), t.close()]); },
  };
}
