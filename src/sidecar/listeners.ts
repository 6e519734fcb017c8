// Explicit mode's listeners, one source of BoundListeners for the data path (datapath.ts): a net.Server per
// configured inbound and outbound entry, each with its own policy, on the sidecar's shared TLS material and dialer.
import net from 'node:net';
import { parseHostPort } from '../common/address.js';
import { listenOn } from '../common/listen.js';
import { parseSpiffePattern } from '../pki/spiffe-id.js';
import type { InboundConfig, OutboundConfig } from './config-schema.js';
import type { BoundListener, DataPathContext, ListenerHost } from './datapath.js';
import { inboundOptions, type InboundHandler } from './inbound/inbound.js';
import type { InboundRoute } from './inbound/route.js';
import type { OutboundHandler } from './outbound/outbound.js';
import type { UpstreamTarget } from './outbound/transport.js';
import { listenerTargets } from './tunnel/target.js';

/** Stops accepting on `server`; open connections are left alone (close() alone would wait for them). */
function stopAccepting(server: net.Server): Promise<void> {
  if (server.listening) server.close();
  return Promise.resolve();
}

/** Binds one explicit inbound listener and plugs it into `dp`. */
export async function startInbound(cfg: InboundConfig, dp: ListenerHost): Promise<BoundListener & { handler: InboundHandler; stopAccepting(): Promise<void> }> {
  const log = dp.log.child({ component: 'datapath', listener: cfg.name, kind: 'inbound' });
  const reporter = dp.reporter('inbound', log);
  const handler = dp.inboundHandler(reporter, inboundOptions(cfg, dp.trustDomain, log));
  const forward = parseHostPort(cfg.forward, `inbound ${cfg.name}: forward`, '127.0.0.1');
  let route: InboundRoute = { forward };
  const server = net.createServer({ allowHalfOpen: true }, (raw) => handler.handle(raw, route));
  server.maxConnections = cfg.maxConnections;
  const address = await listenOn(server, parseHostPort(cfg.listen, `inbound ${cfg.name}: listen`), `inbound ${cfg.name}:`);
  // Tunnel streams name this listener by the port it bound (known now, even when configured as 0), or its name.
  route = { forward, targets: listenerTargets({ name: cfg.name, port: (server.address() as net.AddressInfo).port, forward }) };
  const bound = { name: cfg.name, kind: 'inbound', server, address, reporter, handler, inbound: handler, stopAccepting: () => stopAccepting(server) };
  dp.add(bound);
  return bound;
}

/** Binds one explicit outbound listener and plugs it into `dp`. */
export async function startOutbound(cfg: OutboundConfig, dp: ListenerHost): Promise<BoundListener & { handler: OutboundHandler; stopAccepting(): Promise<void> }> {
  const log = dp.log.child({ component: 'datapath', listener: cfg.name, kind: 'outbound' });
  const reporter = dp.reporter('outbound', log);
  const handler = dp.outboundHandler(reporter, { handshakeTimeoutMs: cfg.handshakeTimeout, idleTimeoutMs: cfg.idleTimeout }, cfg.tunnel);
  const target: UpstreamTarget = {
    upstream: parseHostPort(cfg.upstream, `outbound ${cfg.name}: upstream`, '127.0.0.1'),
    ...(cfg.expect ? { expect: parseSpiffePattern(cfg.expect) } : {}),
  };
  // pauseOnConnect: nothing is read from the app before the upstream's identity is verified.
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (app) => handler.handle(app, target));
  server.maxConnections = cfg.maxConnections;
  const address = await listenOn(server, parseHostPort(cfg.listen, `outbound ${cfg.name}: listen`, '127.0.0.1'), `outbound ${cfg.name}:`);
  const bound = { name: cfg.name, kind: 'outbound', server, address, reporter, handler, stopAccepting: () => stopAccepting(server) };
  dp.add(bound);
  return bound;
}

/** Explicit mode's source: every configured inbound, then outbound entry; each a readiness part until it listens. */
export async function explicitListeners(dp: ListenerHost, ctx: DataPathContext): Promise<void> {
  const starts = [
    ...ctx.config.inbound.map((c) => ({ task: ctx.readiness.register(`listener:inbound:${c.name}`), start: () => startInbound(c, dp) })),
    ...ctx.config.outbound.map((c) => ({ task: ctx.readiness.register(`listener:outbound:${c.name}`), start: () => startOutbound(c, dp) })),
  ];
  for (const s of starts) {
    const l = await s.start();
    s.task.ready();
    dp.log.child({ component: 'datapath' }).info({ listener: l.name, kind: l.kind, address: l.address }, 'listening');
  }
}
