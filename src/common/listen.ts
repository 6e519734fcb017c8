// Binds a server, turning "port in use" into one stable error: every listener of every command starts here (the
// sidecar's data-path listeners, the admin and health servers, the CA's front door, the webhook, the Workload API's
// Unix socket).
import type net from 'node:net';
import { formatHostPort } from './address.js';
import { ConfigError } from './errors.js';

export interface ListenAddress {
  host: string;
  port: number;
  /** For "::": false also takes IPv4 (dual stack), as node's default does. */
  ipv6Only?: boolean;
}

/** A Unix socket path to listen on. */
export interface ListenPath {
  path: string;
}

/**
 * Listens on host:port (or a Unix socket path) and resolves with the bound "host:port" (the real port when asked for
 * 0) or the path. A taken port fails
 * with ConfigError `port_in_use`, anything else with `listen_failed`; the errno error is the cause. `label` names the
 * listener as the message starts, e.g. "admin:" or "--listen": "admin: 127.0.0.1:15000 is already in use".
 */
export function listenOn(server: net.Server, at: ListenAddress | ListenPath, label: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const where = 'path' in at ? at.path : formatHostPort(at.host, at.port);
    const onError = (err: NodeJS.ErrnoException) => {
      server.removeListener('listening', onListening);
      reject(err.code === 'EADDRINUSE'
        ? new ConfigError('port_in_use', `${label} ${where} is already in use`, { cause: err })
        : new ConfigError('listen_failed', `${label} ${where}: ${err.message}`, { cause: err }));
    };
    const onListening = () => {
      server.removeListener('error', onError);
      const a = server.address();
      resolve(typeof a === 'string' ? a : formatHostPort(a!.address, a!.port));
    };
    server.once('error', onError);
    server.once('listening', onListening);
    if ('path' in at) server.listen({ path: at.path });
    else server.listen({ host: at.host, port: at.port, ...(at.ipv6Only !== undefined ? { ipv6Only: at.ipv6Only } : {}) });
  });
}

/** The errno code (EADDRINUSE, EAFNOSUPPORT…) behind a listenOn() failure. */
export function listenErrno(err: unknown): string | undefined {
  return ((err as { cause?: NodeJS.ErrnoException })?.cause)?.code;
}
