// A tiny route-table HTTP server shared by the sidecar admin, the kubelet health port and the CA admin.
// It knows nothing about sidecars or CAs: handlers come from the composition root.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../common/logger.js';
import { ConfigError } from '../common/errors.js';

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

export interface RunningHttpServer {
  server: http.Server;
  /** The bound address, e.g. "127.0.0.1:15000". */
  address: string;
  port: number;
  close(): Promise<void>;
}

/** Listens on host:port and serves `routes`; a taken port fails with ConfigError `port_in_use` naming `what`. */
export async function startHttpServer(opts: { host: string; port: number; routes: Routes; log: Logger; what: string }): Promise<RunningHttpServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const handler = opts.routes[`${req.method} ${path}`];
    const send = (r: Reply) => {
      res.writeHead(r.status, { 'content-type': r.contentType ?? 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(r.body);
    };
    if (!handler) {
      const allowed = Object.keys(opts.routes).some((k) => k.endsWith(` ${path}`));
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
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE'
        ? new ConfigError('port_in_use', `${opts.what}: ${opts.host}:${opts.port} is already in use`)
        : new ConfigError('listen_failed', `${opts.what}: cannot listen on ${opts.host}:${opts.port}: ${err.message}`)));
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    server,
    address: `${host}:${addr.port}`,
    port: addr.port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
