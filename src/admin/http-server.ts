// A tiny route-table HTTP server shared by the sidecar admin, the kubelet health ports and the CA admin.
// It applies request-policy.ts and bounds each client (connections, header bytes, timeouts); handlers come from the root.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Clock } from '../common/clock.js';
import { formatHostPort } from '../common/address.js';
import type { Logger } from '../common/logger.js';
import { listenOn } from '../common/listen.js';
import { LogThrottle } from '../common/log-throttle.js';
import { checkAdminBind, REMOTE_ADMIN_WARNING, type RemoteAdminOptIn } from './admin-bind.js';
import { decideAdminRequest, MAX_QUOTED_VALUE, targetPath, type PolicyLimits } from './request-policy.js';

export interface Reply {
  status: number;
  body: string | Buffer;
  contentType?: string;
}

/** Route key is "METHOD /path". */
export type Routes = Record<string, (req: http.IncomingMessage) => Promise<Reply> | Reply>;

export const json = (status: number, value: unknown): Reply => ({
  status, body: `${JSON.stringify(value, null, 2)}\n`, contentType: 'application/json',
});
export const text = (status: number, body: string): Reply => ({ status, body, contentType: 'text/plain; charset=utf-8' });

/**
 * What the server is: an `admin` (loopback unless the opt-in allows more; probes take any IP Host) or a `health`
 * server (read-only routes for the kubelet, any interface, any IP-literal Host).
 */
export type Exposure = { kind: 'health' } | { kind: 'admin'; remote: RemoteAdminOptIn };

/** What one client can hold. Everything an admin answers is small, so these are tight. */
export interface AdminLimits extends PolicyLimits {
  /** Open connections at once, all clients together; more are closed on accept (Node's maxConnections). */
  maxConnections: number;
  /**
   * Open connections at once from one source address, so one client cannot take every slot (an app-health probe
   * may hold its socket for the probe's timeout) and crowd out the kubelet.
   */
  maxConnectionsPerSource: number;
  /** Request line plus headers; above it Node answers 431. */
  maxHeaderBytes: number;
  /** Time to receive the complete headers. */
  headersTimeoutMs: number;
  /** Time to receive the complete request. */
  requestTimeoutMs: number;
  /** Idle time between requests on a kept-alive connection. */
  keepAliveTimeoutMs: number;
  /** No bytes either way for this long closes the socket (a client that stops reading an answer). */
  idleTimeoutMs: number;
  /** How often Node checks the header and request timeouts. */
  checkIntervalMs: number;
}

export const ADMIN_LIMITS: Readonly<AdminLimits> = Object.freeze({
  maxConnections: 64,
  maxConnectionsPerSource: 16,
  maxHeaderBytes: 8 * 1024,
  maxHeaders: 64,
  maxBodyBytes: 4 * 1024,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  checkIntervalMs: 1_000,
});

export interface RunningHttpServer {
  server: http.Server;
  /** The bound address, e.g. "127.0.0.1:15000". */
  address: string;
  port: number;
  close(): Promise<void>;
}

export interface HttpServerOptions {
  host: string;
  port: number;
  routes: Routes;
  log: Logger;
  /** The flag or key that set the address, for errors ("--admin", "admin"). */
  what: string;
  exposure: Exposure;
  clock: Clock;
  limits?: Partial<AdminLimits>;
}

const peerOf = (s: Socket) => (s.remoteAddress ? formatHostPort(s.remoteAddress, s.remotePort ?? 0) : 'unknown');
const quote = (v: string) => (v.length > MAX_QUOTED_VALUE ? `${v.slice(0, MAX_QUOTED_VALUE)}…` : v);

/** Node's client errors, by the code we log and the status we answer. */
function clientErrorReply(code: string | undefined): { code: string; status: number } {
  if (code === 'HPE_HEADER_OVERFLOW') return { code: 'headers_too_large', status: 431 };
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { code: 'request_timeout', status: 408 };
  return { code: 'bad_request', status: 400 };
}

/**
 * Listens on host:port and serves `routes` to requests the policy allows. An admin on a non-loopback host without
 * the opt-in fails with ConfigError `admin_remote_not_allowed`; a taken port with `port_in_use`, naming `what`.
 */
export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  const limits: AdminLimits = { ...ADMIN_LIMITS, ...opts.limits };
  const remote = opts.exposure.kind === 'admin' && checkAdminBind(opts.what, opts.host, opts.port, opts.exposure.remote);
  const target = { kind: opts.exposure.kind, host: opts.host };
  const throttle = new LogThrottle(opts.clock);
  const warn = (fields: Record<string, unknown>, msg: string) => {
    const suppressed = throttle.admit();
    if (suppressed !== undefined) opts.log.warn({ ...fields, ...(suppressed ? { suppressed } : {}) }, msg);
  };

  const server = http.createServer({
    maxHeaderSize: limits.maxHeaderBytes,
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    connectionsCheckingInterval: limits.checkIntervalMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
  }, (req, res) => {
    // A body is never read: answer, then close instead of draining it for keep-alive.
    const hasBody = (req.headers['content-length'] ?? '0') !== '0' || req.headers['transfer-encoding'] !== undefined;
    const send = (r: Reply, close = false) => {
      res.writeHead(r.status, {
        'content-type': r.contentType ?? 'text/plain; charset=utf-8', 'cache-control': 'no-store',
        ...(close || hasBody ? { connection: 'close' } : {}),
      });
      res.end(r.body);
    };
    const decision = decideAdminRequest({
      method: req.method ?? '', target: req.url ?? '', httpVersion: req.httpVersion, rawHeaders: req.rawHeaders, localAddress: req.socket.localAddress,
    }, target, limits);
    if (!decision.allow) {
      warn({ peer: peerOf(req.socket), code: decision.code, header: decision.header, value: decision.value, method: quote(req.method ?? ''), target: quote(req.url ?? '') }, 'admin request refused');
      send(json(decision.status, { error: { code: decision.code, message: `${decision.header} ${JSON.stringify(decision.value)}: ${decision.reason}` } }), true);
      return;
    }
    const path = targetPath(req.url ?? '');
    const handler = path === undefined ? undefined : opts.routes[`${req.method} ${path}`];
    if (!handler) {
      // No CORS headers, ever: a browser's preflight (OPTIONS) fails here, so no cross-origin non-simple request follows.
      const allowed = path !== undefined && Object.keys(opts.routes).some((k) => k.endsWith(` ${path}`));
      send(text(allowed ? 405 : 404, allowed ? 'method not allowed\n' : 'not found\n'));
      return;
    }
    Promise.resolve()
      .then(() => handler(req))
      .then(send, (err: unknown) => {
        opts.log.error({ err: (err as Error).message, path }, 'admin handler failed');
        send(text(500, 'internal error\n'));
      });
  });
  server.maxHeadersCount = limits.maxHeaders;
  server.maxConnections = limits.maxConnections;
  server.setTimeout(limits.idleTimeoutMs);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code !== 'ECONNRESET') {
      const reply = clientErrorReply(err.code);
      warn({ peer: peerOf(socket), code: reply.code, err: err.code ?? err.message }, 'admin request refused');
      if (socket.writable && socket.bytesWritten === 0) {
        socket.write(`HTTP/1.1 ${reply.status} ${http.STATUS_CODES[reply.status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      }
    }
    socket.destroy();
  });
  const perSource = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const source = socket.remoteAddress ?? 'unknown';
    const held = (perSource.get(source) ?? 0) + 1;
    if (held > limits.maxConnectionsPerSource) {
      warn({ peer: peerOf(socket), code: 'source_connection_limit', maxConnectionsPerSource: limits.maxConnectionsPerSource }, 'admin connection refused');
      socket.destroy();
      return;
    }
    perSource.set(source, held);
    socket.once('close', () => {
      const left = (perSource.get(source) ?? 1) - 1;
      if (left > 0) perSource.set(source, left);
      else perSource.delete(source);
    });
  });
  server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) => {
    warn({ peer: data?.remoteAddress ? formatHostPort(data.remoteAddress, data.remotePort ?? 0) : 'unknown', code: 'connection_limit', maxConnections: limits.maxConnections }, 'admin connection refused');
  });

  const address = await listenOn(server, opts, `${opts.what}:`);
  const addr = server.address() as AddressInfo;
  if (remote) opts.log.warn({ address, what: opts.what }, REMOTE_ADMIN_WARNING);
  return {
    server,
    address,
    port: addr.port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
