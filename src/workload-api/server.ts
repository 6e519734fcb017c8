// The SPIFFE Workload API on a Unix socket (proto/spiffe/workloadapi.proto, docs/workload-api.md): the sidecar
// accepts each connection itself, reads the caller's uid and pid (SO_PEERCRED) and hands it to grpc-js with them
// (common/grpc-hand-off.ts); every call then passes the guard: security header, access, per-caller bounds, an SVID.
//
// Invariants: no call is served without `workload.spiffe.io: true` (InvalidArgument), to a caller the policy does not
// admit (PermissionDenied, logged with uid and pid), or before the sidecar holds a valid SVID (Unavailable). A caller
// (uid) holds at most MAX_CONNECTIONS_PER_UID connections and MAX_CALLS_PER_UID calls; a stream sends the whole state
// at once and then only when it changed. The socket file is 0777: the peer credentials decide, not file modes.
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock } from '../common/clock.js';
import { isoTime } from '../common/clock.js';
import { ConfigError, PolicyError, WorkloadApiError, describe } from '../common/errors.js';
import { GrpcHandOff } from '../common/grpc-hand-off.js';
import { tolerantDecoders, transportRefusalInterceptor, undecodableReason } from '../common/grpc-call-guard.js';
import { listenOn } from '../common/listen.js';
import { LogThrottle } from '../common/log-throttle.js';
import type { Logger } from '../common/logger.js';
import type { WorkloadApiStatus } from '../admin/status-types.js';
import { namePeer } from '../common/node-internals.js';
import { hasValidSvid, type IdentitySnapshot, type IdentitySource } from '../identity/credentials.js';
import type { JwtBundle } from '../identity/jwt-bundle.js';
import { checkAudiences } from '../pki/jwt-svid.js';
import type { SpiffeWorkloadAPIHandlers } from '../gen/spiffe/SpiffeWorkloadAPI.js';
import { admit, describePolicy, type AccessPolicy } from './access.js';
import { toWorkloadApiFailure } from './call-status.js';
import type { JwtSvidCache } from './jwt-cache.js';
import { validateJwtSvid } from './jwt-validate.js';
import { jwtBundlesResponse, toStruct, x509BundlesResponse, x509SvidResponse } from './messages.js';
import { peerCredentials, type PeerCredentials } from './peer-credentials.js';
import { loadWorkloadApiProto } from './proto.js';

/** The metadata every call must carry (the spec's guard against server-side request forgery). */
export const SECURITY_HEADER = 'workload.spiffe.io';
/** Connections held at once, in total and by one uid. */
export const MAX_CONNECTIONS = 256;
export const MAX_CONNECTIONS_PER_UID = 64;
/** Calls (streams and unary) open at once by one uid. */
export const MAX_CALLS_PER_UID = 64;
/** Concurrent calls on one connection (HTTP/2 streams). */
export const MAX_STREAMS_PER_CONNECTION = 32;
/** Largest request: a ValidateJWTSVID token of MAX_TOKEN_LENGTH fits with room to spare. */
export const MAX_REQUEST_BYTES = 64 * 1024;

export interface WorkloadApiOptions {
  socket: string;
  policy: AccessPolicy;
  identity: IdentitySource;
  jwtBundle: { current(): JwtBundle; subscribe(listener: (b: JwtBundle) => void): () => void; refusal?(): { keyId: string; code: string; message: string; atMs: number } | null };
  jwtSvids: JwtSvidCache;
  clock: Clock;
  log: Logger;
  registry?: Registry;
}

/** What /status shows of the server (admin/status-types.ts); the composition root adds the files. */
export type WorkloadApiServerStatus = Required<Omit<WorkloadApiStatus, 'files' | 'socket'>> & { socket: string };

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

/** One admitted call: who made it, and what to do when it ends. */
interface Admitted {
  cred: PeerCredentials;
  snapshot: IdentitySnapshot & { svid: NonNullable<IdentitySnapshot['svid']>; bundle: NonNullable<IdentitySnapshot['bundle']> };
  release(): void;
}

/** The last JWT authority refused, as /status shows it. */
function refusalOf(r: { keyId: string; code: string; message: string; atMs: number } | null): { keyId: string; code: string; message: string; at: string } | null {
  return r ? { keyId: r.keyId, code: r.code, message: r.message, at: isoTime(r.atMs) } : null;
}

/** A refusal that names the caller it refused, for the log line. */
function refusal(e: WorkloadApiError, cred: PeerCredentials | undefined): WorkloadApiError & { cred?: PeerCredentials } {
  return Object.assign(e, cred ? { cred } : {});
}

/** The Workload API server of one sidecar. */
export class WorkloadApiServer {
  private readonly listener: net.Server;
  private readonly grpcServer: grpc.Server;
  private readonly handOff: GrpcHandOff<PeerCredentials>;
  private readonly injector: ReturnType<grpc.Server['createConnectionInjector']>;
  private readonly sockets = new Set<net.Socket>();
  private readonly connectionsByUid = new Map<number, number>();
  private readonly callsByUid = new Map<number, number>();
  private readonly streams = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  private readonly throttles = new Map<string, LogThrottle>();
  private readonly refusals: Record<string, number> = {};
  private lastRefusal: WorkloadApiServerStatus['lastRefusal'] = null;
  private callsTotal = 0;
  private connectionSeq = 0;
  private closing = false;
  private readonly metrics: { calls?: Counter<'method' | 'result'>; connections?: Gauge };

  private constructor(private readonly opts: WorkloadApiOptions) {
    const r = opts.registry;
    this.metrics = r ? {
      calls: new Counter({ name: 'ztmesh_workload_api_calls_total', help: 'Workload API calls by method and result (ok or the refusal code)', labelNames: ['method', 'result'], registers: [r] }),
      connections: new Gauge({ name: 'ztmesh_workload_api_connections', help: 'Connections open on the Workload API socket', registers: [r] }),
    } : {};
    this.grpcServer = new grpc.Server({
      'grpc.max_receive_message_length': MAX_REQUEST_BYTES,
      'grpc.max_concurrent_streams': MAX_STREAMS_PER_CONNECTION,
      'grpc.enable_channelz': 0,
      interceptors: [transportRefusalInterceptor((t) => this.refused(t.code, t.method.replace(/^\/SpiffeWorkloadAPI\//, ''), this.handOff.facts(t.peer), t.details))],
    });
    this.grpcServer.addService(tolerantDecoders(loadWorkloadApiProto().SpiffeWorkloadAPI.service), this.handlers());
    this.injector = this.grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.handOff = new GrpcHandOff<PeerCredentials>(this.injector);
    this.listener = net.createServer((socket) => this.accept(socket));
  }

  /**
   * Listens on `opts.socket` (mode 0777). A stale socket file left by an earlier sidecar is replaced; ConfigError
   * `workload_api_socket_in_use` when another process answers on it, `workload_api_socket_path_taken` when the path
   * holds something else (ztmesh removes only sockets).
   */
  static async start(opts: WorkloadApiOptions): Promise<WorkloadApiServer> {
    await prepareSocketPath(opts.socket);
    const server = new WorkloadApiServer(opts);
    await listenOn(server.listener, { path: opts.socket }, 'workloadApi.socket');
    await fs.chmod(opts.socket, 0o777);
    server.listener.on('error', (err: NodeJS.ErrnoException) => opts.log.warn({ code: 'accept_failed', err: err.code ?? err.message }, 'workload API accept failed'));
    opts.log.info({ socket: opts.socket, ...describePolicy(opts.policy) }, 'workload API listening');
    return server;
  }

  status(): WorkloadApiServerStatus {
    const jwt = this.opts.jwtBundle.current();
    return {
      socket: this.opts.socket, ...describePolicy(this.opts.policy), connections: this.sockets.size,
      activeCalls: [...this.callsByUid.values()].reduce((a, b) => a + b, 0), callsTotal: this.callsTotal,
      refusals: { ...this.refusals }, lastRefusal: this.lastRefusal, jwtSvids: this.opts.jwtSvids.stats(),
      jwtBundle: { sequence: jwt.sequence, keyIds: jwt.authorities.map((a) => a.keyId), lastRefusal: refusalOf(this.opts.jwtBundle.refusal?.() ?? null) },
    };
  }

  /** Stops accepting, ends every stream, closes every connection and removes the socket file. */
  async close(): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    for (const s of this.streams) s.end();
    this.streams.clear();
    this.injector.destroy();
    this.grpcServer.forceShutdown();
    for (const s of this.sockets) s.destroy();
    await closed;
    await fs.rm(this.opts.socket, { force: true });
  }

  private accept(socket: net.Socket): void {
    socket.on('error', () => undefined);
    let cred: PeerCredentials;
    try {
      cred = peerCredentials(socket);
    } catch (e) {
      socket.destroy();
      this.refused(describe(e).code, 'connect', undefined, describe(e).message);
      return;
    }
    const held = this.connectionsByUid.get(cred.uid) ?? 0;
    if (this.closing || this.sockets.size >= MAX_CONNECTIONS || held >= MAX_CONNECTIONS_PER_UID) {
      socket.destroy();
      this.refused(this.closing ? 'draining' : 'connection_limit', 'connect', cred, `${held} connections from this uid, ${this.sockets.size} in total`);
      return;
    }
    this.sockets.add(socket);
    this.connectionsByUid.set(cred.uid, held + 1);
    this.metrics.connections?.set(this.sockets.size);
    socket.once('close', () => {
      this.sockets.delete(socket);
      const n = (this.connectionsByUid.get(cred.uid) ?? 1) - 1;
      if (n > 0) this.connectionsByUid.set(cred.uid, n);
      else this.connectionsByUid.delete(cred.uid);
      this.metrics.connections?.set(this.sockets.size);
    });
    const peer = `unix:pid=${cred.pid},uid=${cred.uid}#${++this.connectionSeq}`;
    try {
      namePeer(socket, peer);
      this.handOff.hand(socket, peer, cred);
    } catch (e) {
      socket.destroy();
      this.opts.log.error({ code: describe(e).code, err: describe(e).message }, 'workload API cannot serve connections on this Node.js');
    }
  }

  /** The guard every call passes first; throws WorkloadApiError with the refusal. */
  private enter(call: AnyCall): Admitted {
    const cred = this.handOff.facts(call.getPeer());
    if (call.metadata.get(SECURITY_HEADER)[0] !== 'true') {
      throw refusal(new WorkloadApiError('missing_security_header', `every call must carry the metadata "${SECURITY_HEADER}: true"`), cred);
    }
    if (!cred) throw new WorkloadApiError('caller_not_admitted', 'the caller of this call is unknown');
    const decision = admit(cred, this.opts.policy);
    if (!decision.allow) throw refusal(new WorkloadApiError('caller_not_admitted', `uid ${cred.uid} (gid ${cred.gid}) is not allowed by workloadApi.allowUids/allowGids`), cred);
    if (this.closing) throw refusal(new WorkloadApiError('draining', 'the sidecar is shutting down'), cred);
    const calls = this.callsByUid.get(cred.uid) ?? 0;
    if (calls >= MAX_CALLS_PER_UID) throw refusal(new WorkloadApiError('too_many_calls', `uid ${cred.uid} has ${calls} calls open (at most ${MAX_CALLS_PER_UID})`), cred);
    const snapshot = this.opts.identity.current();
    if (!snapshot.svid || !snapshot.bundle || !hasValidSvid(snapshot, this.opts.clock.now())) {
      throw refusal(new WorkloadApiError('no_svid', `the sidecar holds no valid SVID yet (identity ${snapshot.state}); retry`), cred);
    }
    this.callsByUid.set(cred.uid, calls + 1);
    let released = false;
    return {
      cred, snapshot: snapshot as Admitted['snapshot'],
      release: () => {
        if (released) return;
        released = true;
        const n = (this.callsByUid.get(cred.uid) ?? 1) - 1;
        if (n > 0) this.callsByUid.set(cred.uid, n);
        else this.callsByUid.delete(cred.uid);
      },
    };
  }

  /** Counts and logs a refusal (at most DEFAULT_LOG_THROTTLE lines per code and window), naming the caller. */
  private refused(code: string, method: string, cred: PeerCredentials | undefined, reason: string): void {
    this.refusals[code] = (this.refusals[code] ?? 0) + 1;
    this.lastRefusal = { code, method, uid: cred?.uid ?? null, pid: cred?.pid ?? null, at: isoTime(this.opts.clock.now()) };
    this.metrics.calls?.inc({ method, result: code });
    let throttle = this.throttles.get(code);
    if (!throttle) this.throttles.set(code, (throttle = new LogThrottle(this.opts.clock)));
    const suppressed = throttle.admit();
    if (suppressed === undefined) return;
    this.opts.log.warn({ code, method, uid: cred?.uid ?? null, pid: cred?.pid ?? null, reason, ...(suppressed ? { suppressed } : {}) }, 'workload API call refused');
  }

  private fail(method: string, e: unknown, cred?: PeerCredentials): grpc.StatusObject {
    const f = toWorkloadApiFailure(e);
    const who = cred ?? (e as { cred?: PeerCredentials }).cred;
    if (f.code === 'internal') this.opts.log.error({ method, err: (e as Error)?.stack ?? String(e) }, 'workload API call failed');
    this.refused(f.code, method, who, f.message);
    return { code: f.grpcCode, details: `${f.code}: ${f.message}`, metadata: new grpc.Metadata() };
  }

  private ok(method: string): void {
    this.callsTotal++;
    this.metrics.calls?.inc({ method, result: 'ok' });
  }

  /** A unary handler behind the guard. */
  private unary<Req, Res>(method: string, body: (req: Req, a: Admitted) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      let a: Admitted;
      try {
        a = this.enter(call as AnyCall);
        const undecodable = undecodableReason(call.request);
        if (undecodable !== undefined) {
          a.release();
          throw refusal(new WorkloadApiError('invalid_request', `the request does not decode: ${undecodable}`), a.cred);
        }
      } catch (e) {
        callback(this.fail(method, e));
        return;
      }
      body(call.request, a).then(
        (res) => { a.release(); this.ok(method); callback(null, res); },
        (e: unknown) => { a.release(); callback(this.fail(method, e, a.cred)); },
      );
    };
  }

  /**
   * A server stream behind the guard: `watch` subscribes and calls `send` with each new message (the first at once)
   * or `end` with an error; the call counts against its caller until it ends.
   */
  private stream<Res>(method: string, watch: (a: Admitted, send: (m: Res) => void, end: (e: unknown) => void) => () => void): grpc.handleServerStreamingCall<unknown, Res> {
    return (call) => {
      let a: Admitted;
      try {
        a = this.enter(call as AnyCall);
      } catch (e) {
        call.emit('error', this.fail(method, e));
        return;
      }
      const generic = call as unknown as grpc.ServerWritableStream<unknown, unknown>;
      this.streams.add(generic);
      let unsubscribe: (() => void) | undefined;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        unsubscribe?.();
        this.streams.delete(generic);
        a.release();
      };
      const send = (m: Res) => {
        if (!done && !call.cancelled && !call.destroyed) call.write(m);
      };
      const end = (e: unknown) => {
        if (done) return;
        finish();
        call.emit('error', this.fail(method, e, a.cred));
      };
      call.on('cancelled', finish);
      call.on('close', finish);
      call.on('error', finish);
      try {
        unsubscribe = watch(a, send, end);
      } catch (e) {
        end(e);
        return;
      }
      if (done) unsubscribe();
      else this.ok(method);
    };
  }

  private handlers(): SpiffeWorkloadAPIHandlers {
    const { clock } = this.opts;
    const unimplemented = (method: string) => this.stream<never>(method, () => {
      throw new WorkloadApiError('unimplemented', `${method} is not implemented: ztmesh serves X.509- and JWT-SVIDs only`);
    });
    return {
      FetchX509SVID: this.stream('FetchX509SVID', (_a, send, end) => {
        let last: IdentitySnapshot | undefined;
        return this.opts.identity.subscribe((snap) => {
          if (!snap.svid || !snap.bundle || !hasValidSvid(snap, clock.now())) {
            end(new WorkloadApiError('no_svid', `the sidecar's SVID is no longer valid (identity ${snap.state}); retry`));
            return;
          }
          if (last?.svid === snap.svid && last.bundle === snap.bundle) return;
          last = snap;
          send(x509SvidResponse(snap.svid, snap.bundle));
        });
      }),
      FetchX509Bundles: this.stream('FetchX509Bundles', (_a, send) => {
        let last: IdentitySnapshot['bundle'];
        return this.opts.identity.subscribe((snap) => {
          if (!snap.bundle || snap.bundle === last) return;
          last = snap.bundle;
          send(x509BundlesResponse(snap.bundle));
        });
      }),
      FetchJWTBundles: this.stream('FetchJWTBundles', (_a, send) => {
        let last = -1;
        return this.opts.jwtBundle.subscribe((b) => {
          if (b.sequence === last) return;
          last = b.sequence;
          send(jwtBundlesResponse(b));
        });
      }),
      FetchJWTSVID: this.unary('FetchJWTSVID', async (req: { audience: string[]; spiffeId: string }, a) => {
        let audiences: string[];
        try {
          audiences = checkAudiences(req.audience);
        } catch (e) {
          if (e instanceof PolicyError) throw new WorkloadApiError('invalid_request', e.message);
          throw e;
        }
        const own = a.snapshot.svid.spiffeId;
        if (req.spiffeId && req.spiffeId !== own) throw new WorkloadApiError('not_entitled', `this workload is ${own}, not ${req.spiffeId.slice(0, 200)}`);
        const t = await this.opts.jwtSvids.get(audiences, own);
        return { svids: [{ spiffeId: own, svid: t.token }] };
      }),
      ValidateJWTSVID: this.unary('ValidateJWTSVID', async (req: { audience: string; svid: string }) => {
        if (!req.audience) throw new WorkloadApiError('invalid_request', 'audience is required');
        if (!req.svid) throw new WorkloadApiError('invalid_request', 'svid (the token) is required');
        const v = await validateJwtSvid(req.svid, req.audience, this.opts.jwtBundle.current(), clock.now());
        return { spiffeId: v.spiffeId, claims: toStruct(v.claims as Record<string, unknown>) };
      }),
      FetchWITSVID: unimplemented('FetchWITSVID'),
      FetchWITBundles: unimplemented('FetchWITBundles'),
    };
  }
}

/**
 * Makes the socket's directory and clears a stale socket file (one nobody answers on). Never removes anything but a
 * socket: a file or directory in the way is the operator's to move.
 */
async function prepareSocketPath(socket: string): Promise<void> {
  await fs.mkdir(path.dirname(socket), { recursive: true, mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
    throw new ConfigError('workload_api_socket_path_taken', `workloadApi.socket "${socket}": cannot create its directory (${e.code ?? e.message})`, { cause: e });
  });
  const st = await fs.lstat(socket).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) throw new ConfigError('workload_api_socket_path_taken', `workloadApi.socket "${socket}" exists and is not a socket; ztmesh removes only sockets: move it, or choose another path`);
  const answered = await new Promise<boolean>((resolve) => {
    const probe = net.connect({ path: socket });
    probe.once('connect', () => { probe.destroy(); resolve(true); });
    probe.once('error', () => resolve(false));
  });
  if (answered) throw new ConfigError('workload_api_socket_in_use', `workloadApi.socket "${socket}": another process serves on it`);
  await fs.rm(socket, { force: true });
}
