// The data path, built once per sidecar: one TLS context holder, one upstream dialer with its session cache, one tunnel
// pool, one set of metrics and warn budget, one liveness sweep, one connection set and one drain. Listener sources plug
// BoundListeners into it (docs/design.md).
import type net from 'node:net';
import type { Registry } from 'prom-client';
import type { Clock } from '../common/clock.js';
import type { HeapTrimmer } from '../common/heap-trimmer.js';
import type { Logger } from '../common/logger.js';
import type { Readiness } from '../common/readiness.js';
import type { ListenerStatus, TunnelPoolStatus } from '../admin/status-types.js';
import type { IdentitySource } from '../identity/credentials.js';
import { InboundAuthorizer, openPolicyView, type AuthzPolicy } from './authz.js';
import type { PolicyView } from './mesh/sidecar-policy.js';
import type { SidecarConfig } from './config-schema.js';
import { AppSocketBuffers } from './app-buffers.js';
import { ConnectionSet } from './connection-set.js';
import { ConnectionReporter, createDataPathMetrics, WarnBudget, type DataPathMetrics, type Direction } from './datapath-metrics.js';
import { InboundHandler, type InboundOptions } from './inbound/inbound.js';
import { LivenessSweep } from './liveness-sweep.js';
import { OutboundHandler, type OutboundOptions } from './outbound/outbound.js';
import type { UpstreamTransport } from './outbound/transport.js';
import { TransportChooser } from './outbound/transport-chooser.js';
import { UpstreamDialer } from './outbound/upstream-dialer.js';
import { REASONS } from './reasons.js';
import { sharedReadBuffer } from './shared-read.js';
import { TlsContextHolder } from './tls-context.js';
import { TunnelPool } from './tunnel/client.js';
import { HandoffClient } from './tunnel/handoff-client.js';
import { DEFAULT_HANDOFF_POLICY, type HandoffPolicy } from './tunnel/handoff.js';
import { MeshTraffic, type MeshTrafficStatus } from './mesh/mesh-traffic.js';
import type { InboundMode } from '../mesh/kinds.js';
import { resolveInboundMode } from './mesh/mesh-config.js';
import type { MembershipView } from '../mesh/outbound-decision.js';
import { DEFAULT_TUNNEL_LIMITS, type TunnelLimits } from './tunnel/protocol.js';
import { formatPeer } from '../common/address.js';

/** What the data path gets from the composition root. */
export interface DataPathDeps {
  identity: IdentitySource;
  clock: Clock;
  registry: Registry;
  log: Logger;
  trustDomain: string;
  /** Gives native memory back after handshake floods (inbound/inbound.ts); absent in tests that do not measure it. */
  heap?: HeapTrimmer;
  /** The tunnels' bounds, windows and timers (tunnel/protocol.ts); tests shorten them. */
  tunnelLimits?: TunnelLimits;
  /** When a tunnel stream is moved to a connection of its own (tunnel/handoff.ts); tests change it. */
  handoffPolicy?: HandoffPolicy;
  /** How often the liveness sweep looks (default SWEEP_INTERVAL_MS); tests shorten it. */
  sweepIntervalMs?: number;
  /** The authorization policy the CA sent (sidecar/mesh/sidecar-policy.ts); without it, the open mesh default. */
  policy?: PolicySource;
  /** Close established connections and streams a policy change no longer allows (default true). */
  revokeEstablished?: boolean;
}

/** The policy set in force, read per decision, and told of every change (live revocation). */
export interface PolicySource {
  view(): PolicyView;
  subscribe(listener: (view: PolicyView) => void): () => void;
}

/** The running data path, as the composition root and the admin see it. */
export interface RunningDataPath {
  statuses(): ListenerStatus[];
  /** The outbound tunnel pools, one per upstream. */
  tunnelPools(): TunnelPoolStatus[];
  /** The plain connections transparent mode counted (undefined without transparent mode). */
  meshTraffic(): MeshTrafficStatus | undefined;
  /** Replaces an inbound listener's policy from its next connection or tunnel stream; false when there is no such listener. */
  setPolicy(listener: string, policy: AuthzPolicy): boolean;
  /** Stops accepting, waits up to timeoutMs for open connections, then resets the rest. */
  drain(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** One listening socket plugged into the data path. */
export interface BoundListener {
  name: string;
  /** As /status shows it: inbound, outbound, transparent-inbound, transparent-outbound. */
  kind: string;
  address: string;
  server: net.Server;
  reporter: ConnectionReporter;
  /** More /status entries this listener accounts for (transparent outbound's plain passthrough). */
  extraStatuses?(): ListenerStatus[];
  /** The inbound handler behind it, whose tunnels drain() closes gracefully and /status counts. */
  inbound?: InboundHandler;
}

/** What transparent mode reads of the mesh stream (sidecar/mesh/): membership per destination, the inbound mode. */
export interface MeshView {
  membership: { view(address: string, port: number): MembershipView };
  inboundMode(): { mode: InboundMode };
}

/** Without a mesh stream (the data path alone, in tests): every destination mTLS, the configured inbound mode or strict. */
export function standaloneMeshView(config: SidecarConfig): MeshView {
  return {
    membership: { view: () => ({ state: 'unsupported' }) },
    inboundMode: () => resolveInboundMode(config.transparent.inboundMode, undefined),
  };
}

/** Everything startDataPath() needs: the shared parts' inputs plus the configuration and readiness of the sidecar. */
export interface DataPathContext extends Omit<DataPathDeps, 'trustDomain'> {
  config: SidecarConfig;
  readiness: Readiness;
  /** The mesh stream's view (default: standaloneMeshView). */
  mesh?: MeshView;
}

/**
 * What a listener source may use of the data path: its handlers, accounting and connection sets, never its
 * internals (the dialer, the pools, the TLS material).
 */
export interface ListenerHost {
  readonly trustDomain: string;
  readonly clock: Clock;
  readonly log: Logger;
  reporter(direction: Direction, log: Logger): ConnectionReporter;
  inboundHandler(reporter: ConnectionReporter, opts: InboundOptions): InboundHandler;
  outboundHandler(reporter: ConnectionReporter, opts: OutboundOptions, transport?: UpstreamTransport | TunnelMode): OutboundHandler;
  /** Calls `watcher` with every TCP socket the data path dials upstream, until the data path closes. */
  watchDials(watcher: (raw: net.Socket) => void): void;
  /** A set for connections a listener forwards itself, inside the data path's (drained and reset with it). */
  connectionSet(): ConnectionSet;
  /** The counts of plain connections, outbound passthrough and inbound plaintext (/status `mesh`, the metrics). */
  countTraffic(): MeshTraffic;
  add(listener: BoundListener): void;
}

/**
 * Binds one mode's listeners (each a readiness part until it listens) and plugs them in: listeners.ts for explicit
 * mode, intercept/transparent.ts for transparent mode.
 */
export type ListenerSource = (datapath: ListenerHost, ctx: DataPathContext) => Promise<void>;

/** How an outbound reaches its upstreams: `auto` through the tunnel pool (raw mTLS where no tunnel is offered), `off` raw only. */
export type TunnelMode = 'auto' | 'off';

/** The shared parts of one sidecar's data path, and the listeners plugged into them. */
export class DataPath implements RunningDataPath, ListenerHost {
  readonly contexts: TlsContextHolder;
  readonly dialer: UpstreamDialer;
  /** The outbound tunnel pools, on the dialer's mTLS connections. */
  readonly tunnels: TunnelPool;
  /** The outbound's transport with `tunnel: auto`: a stream on the pools, raw mTLS where they cannot serve. */
  private readonly transport: TransportChooser;
  /** Moves the outbound's busy tunnel streams to connections of their own (tunnel/handoff-client.ts). */
  private readonly handoffs: HandoffClient;
  readonly tunnelLimits: TunnelLimits;
  readonly metrics: DataPathMetrics;
  /** Every listener's refusal and failure lines: 20 per code per 10 s. */
  private readonly budget: WarnBudget;
  /** Watches what nobody reads: paused legs and tunnel sessions (liveness-sweep.ts). */
  readonly sweep: LivenessSweep;
  /** The kernel buffers of every app socket (app-buffers.ts). */
  private readonly appBuffers: AppSocketBuffers;
  /** The one buffer the inbound's connections to the app read into (shared-read.ts). */
  private readonly readBuffer: Uint8Array;
  /** Every open connection of every listener (each listener tracks into a child set). */
  readonly connections = new ConnectionSet();
  readonly clock: Clock;
  readonly registry: Registry;
  readonly log: Logger;
  readonly trustDomain: string;
  private readonly heap: HeapTrimmer | undefined;
  private readonly listeners: BoundListener[] = [];
  /** The one inbound authorization step every inbound listener decides with (authz.ts). */
  readonly authz: InboundAuthorizer;
  private readonly revokeEstablished: boolean;
  /** The plain connections transparent mode counts (intercept/transparent.ts), made on first use. */
  private traffic: MeshTraffic | undefined;
  private readonly disposers: (() => void)[] = [];
  private closing: Promise<void> | undefined;

  constructor(deps: DataPathDeps) {
    this.clock = deps.clock;
    this.registry = deps.registry;
    this.log = deps.log;
    this.trustDomain = deps.trustDomain;
    this.heap = deps.heap;
    const log = deps.log.child({ component: 'datapath' });
    this.contexts = new TlsContextHolder(deps.identity, deps.clock, log);
    this.dialer = new UpstreamDialer(this.contexts, deps.clock, deps.trustDomain, log);
    this.metrics = createDataPathMetrics(deps.registry);
    this.budget = new WarnBudget(deps.clock);
    this.sweep = new LivenessSweep({ clock: deps.clock, log, ...(deps.sweepIntervalMs !== undefined ? { intervalMs: deps.sweepIntervalMs } : {}) });
    this.appBuffers = new AppSocketBuffers(log);
    this.tunnelLimits = deps.tunnelLimits ?? DEFAULT_TUNNEL_LIMITS;
    this.readBuffer = sharedReadBuffer();
    this.tunnels = new TunnelPool({
      contexts: this.contexts, dialer: this.dialer, clock: deps.clock, log, metrics: this.metrics, limits: this.tunnelLimits, sweep: this.sweep, budget: this.budget,
    });
    this.transport = new TransportChooser({ pool: this.tunnels, dialer: this.dialer, clock: deps.clock, log, noTunnelCacheMs: this.tunnelLimits.noTunnelCacheMs });
    this.handoffs = new HandoffClient({
      dial: (target, timeoutMs, signal, alpn) => this.dialer.dial(target, timeoutMs, signal, alpn),
      clock: deps.clock, policy: deps.handoffPolicy ?? DEFAULT_HANDOFF_POLICY, metrics: this.metrics, log, readBuffer: this.readBuffer,
    });
    const open = openPolicyView(deps.trustDomain);
    const policy = deps.policy;
    this.authz = new InboundAuthorizer({
      view: policy ? () => policy.view() : () => open, metrics: this.metrics, clock: deps.clock, log: deps.log.child({ component: 'authz' }),
      workload: () => deps.identity.current().svid?.spiffeId,
    });
    this.revokeEstablished = deps.revokeEstablished ?? true;
    // A new set re-decides what every inbound listener has open (live revocation).
    if (policy) this.disposers.push(policy.subscribe(() => this.reauthorize()));
  }

  /** Re-decides every inbound listener's open forwards under the policy in force (inbound/inbound.ts reauthorize()). */
  reauthorize(): number {
    let cut = 0;
    for (const l of this.listeners) cut += l.inbound?.reauthorize() ?? 0;
    return cut;
  }

  /** The refusal and connection accounting of one listener, on the shared metrics and warn budget. */
  reporter(direction: Direction, log: Logger): ConnectionReporter {
    return new ConnectionReporter(direction, this.metrics, log, this.clock, this.budget);
  }

  /**
   * An inbound handler for one listener policy: the shared TLS material, its own connection set and handshake gate.
   * It takes raw mTLS and tunnels (ALPN h2) on the same port.
   */
  inboundHandler(reporter: ConnectionReporter, opts: InboundOptions): InboundHandler {
    const handler = new InboundHandler(
      {
        contexts: this.contexts, clock: this.clock, reporter, authz: this.authz, revokeEstablished: this.revokeEstablished,
        connections: this.connectionSet(), ...(this.heap ? { heap: this.heap } : {}),
        tunnels: { metrics: this.metrics, limits: this.tunnelLimits }, readBuffer: this.readBuffer, appBuffers: this.appBuffers, sweep: this.sweep,
      },
      opts,
    );
    this.disposers.push(() => handler.dispose());
    return handler;
  }

  /** An outbound handler dialling through the tunnel pool (`auto`) or raw mTLS only (`off`), unless another transport is given. */
  outboundHandler(reporter: ConnectionReporter, opts: OutboundOptions, transport: UpstreamTransport | TunnelMode = 'auto'): OutboundHandler {
    const via = transport === 'auto' ? this.transport : transport === 'off' ? this.dialer : transport;
    return new OutboundHandler({
      contexts: this.contexts, transport: via, reporter, connections: this.connectionSet(), clock: this.clock, appBuffers: this.appBuffers, sweep: this.sweep,
      readBuffer: this.readBuffer, handoffs: this.handoffs,
    }, opts);
  }

  watchDials(watcher: (raw: net.Socket) => void): void {
    this.disposers.push(this.dialer.watchSockets(watcher));
  }

  connectionSet(): ConnectionSet {
    return this.connections.child();
  }

  countTraffic(): MeshTraffic {
    return this.traffic ??= new MeshTraffic(this.metrics, this.clock);
  }

  /** Plugs a bound listener in: it shows in statuses(), and drain() and close() stop it. */
  add(listener: BoundListener): void {
    // Past maxConnections node drops the accepted socket; say so like every other refusal.
    listener.server.on('drop', (info?: { remoteAddress?: string; remotePort?: number }) => {
      listener.reporter.refused(formatPeer(info?.remoteAddress, info?.remotePort), REASONS.maxConnections, { handshake: false });
    });
    this.listeners.push(listener);
  }

  statuses(): ListenerStatus[] {
    return this.listeners.flatMap((l) => [
      { name: l.name, kind: l.kind, address: l.address, ...l.reporter.counters, ...(l.inbound?.tunnels ? { tunnelConnections: l.inbound.tunnels.counts.connections } : {}) },
      ...(l.extraStatuses?.() ?? []),
    ]);
  }

  tunnelPools(): TunnelPoolStatus[] {
    return this.tunnels.statuses((key) => this.transport.modeOf(key));
  }

  meshTraffic(): MeshTrafficStatus | undefined {
    return this.traffic?.status();
  }

  setPolicy(listener: string, policy: AuthzPolicy): boolean {
    const l = this.listeners.find((x) => x.name === listener && x.inbound);
    l?.inbound?.setPolicy(policy);
    return !!l;
  }

  /** Stops accepting on every listener; connections already open are left alone. */
  stopAccepting(): void {
    // close() alone resolves only once every connection is gone; only the listening sockets are closed here.
    for (const l of this.listeners) if (l.server.listening) l.server.close();
  }

  async drain(timeoutMs: number): Promise<void> {
    this.stopAccepting();
    // Tunnels take no new streams (GOAWAY); their open streams count among the connections waited for.
    for (const l of this.listeners) l.inbound?.drainTunnels();
    let timer: { cancel(): void } | undefined;
    const deadline = new Promise<void>((resolve) => { timer = this.clock.setTimeout(resolve, timeoutMs); });
    await Promise.race([this.connections.whenIdle(), deadline]);
    timer?.cancel();
    this.connections.destroyAll();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopAccepting();
      this.connections.destroyAll();
      this.tunnels.close();
      this.handoffs.close();
      for (const d of this.disposers.splice(0)) d();
      this.sweep.close();
      this.contexts.close();
    })();
    return this.closing;
  }
}

/** Builds the data path and plugs in each source in order; if one cannot start, closes what did and rethrows. */
export async function startDataPath(ctx: DataPathContext, sources: readonly ListenerSource[]): Promise<DataPath> {
  const datapath = new DataPath({ ...ctx, trustDomain: ctx.config.trustDomain });
  try {
    for (const source of sources) await source(datapath, ctx);
  } catch (err) {
    await datapath.close();
    throw err;
  }
  return datapath;
}
