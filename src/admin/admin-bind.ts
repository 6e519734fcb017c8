// Where an admin server may listen: loopback unless the operator opted in, by name, to expose it.
// Config loaders call this to fail early naming their key; startHttpServer calls it again before it binds.
import { formatHostPort } from '../common/address.js';
import { ConfigError } from '../common/errors.js';
import { isLoopbackHost } from './host-literals.js';

/** The opt-in an admin needs to bind beyond loopback, as the operator spells it. */
export interface RemoteAdminOptIn {
  /** True when the operator set the key. */
  allowed: boolean;
  /** How to set it, for the error, e.g. "--admin-allow-remote" or "adminAllowRemote (--admin-allow-remote, ZTMESH_ADMIN_ALLOW_REMOTE)". */
  key: string;
}

/**
 * Returns true when `host` is beyond loopback and the opt-in allows it (the caller warns), false for loopback.
 * Throws ConfigError `admin_remote_not_allowed` naming `what`, the value and the key when it is not allowed.
 */
export function checkAdminBind(what: string, host: string, port: number, optIn: RemoteAdminOptIn): boolean {
  if (isLoopbackHost(host)) return false;
  if (optIn.allowed) return true;
  throw new ConfigError('admin_remote_not_allowed',
    `${what} "${formatHostPort(host, Number(port))}" is not a loopback address: every host that can reach it could use it. `
    + `Bind it to 127.0.0.1, or set ${optIn.key} to expose it on purpose`);
}

/** The warning logged once when an admin is exposed beyond loopback. */
export const REMOTE_ADMIN_WARNING = 'admin bound to a non-loopback address: every host that reaches it can read it and change state';
