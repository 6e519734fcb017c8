// Which HTTP requests an admin or health server answers: one pure decision over method, target and headers,
// against DNS rebinding (Host) and cross-site requests from browsers (Origin, Sec-Fetch-Site, form content types).
import { ipFamily, isLoopbackHost, isWildcardHost, parseHostHeader, sameIp } from './host-literals.js';

/**
 * What a server is. `admin`: the operator's surface (status, metrics, certs, POST /rotate), meant for loopback.
 * `health`: read-only routes for the kubelet and Prometheus (the sidecar's metrics port, the webhook's health port), bound on every interface.
 */
export type ServerKind = 'admin' | 'health';

/** The server a request arrived at. */
export interface PolicyTarget {
  kind: ServerKind;
  /** The configured listen host: "127.0.0.1", "0.0.0.0", "::1", or a name such as "admin.internal". */
  host: string;
}

/** The parts of a request the policy reads; http-server.ts fills it from IncomingMessage. */
export interface AdminRequest {
  method: string;
  /** The request target as sent (req.url), e.g. "/rotate?x=1". */
  target: string;
  /** "1.0" or "1.1". */
  httpVersion: string;
  /** Alternating names and values, as IncomingMessage.rawHeaders (duplicates kept). */
  rawHeaders: readonly string[];
  /** The local address the connection reached (req.socket.localAddress). */
  localAddress: string | undefined;
}

/** Request limits the policy enforces on top of Node's own (header bytes, timeouts). */
export interface PolicyLimits {
  /** More header lines than this and Node may have dropped some: refuse rather than decide on a partial view. */
  maxHeaders: number;
  /** No admin route reads a body; a declared body above this is refused. */
  maxBodyBytes: number;
}

/** Stable refusal codes, in the log line and the JSON answer. */
export const REFUSAL_CODES = ['host_not_allowed', 'origin_not_allowed', 'cross_site', 'form_content_type', 'too_many_headers', 'body_too_large'] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];

export type Decision =
  | { allow: true }
  | { allow: false; status: 403 | 413 | 431; code: RefusalCode; header: string; value: string; reason: string };

/** The routes the kubelet probes; on an admin they answer any IP-literal Host (it sends the pod IP). */
export const PROBE_PATHS: readonly string[] = ['/healthz', '/readyz'];

/** Methods that never change state here; everything else is treated as state-changing. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Sec-Fetch-Site values a browser sends for the admin's own pages or a typed URL. */
const ALLOWED_FETCH_SITES = new Set(['same-origin', 'none']);

/** The body types a page can send cross-site without a CORS preflight (the HTML form encodings). */
const FORM_CONTENT_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);

/** Longest header value quoted back in a refusal (log line and answer). */
export const MAX_QUOTED_VALUE = 120;

function headerValues(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}

const quote = (v: string) => (v.length > MAX_QUOTED_VALUE ? `${v.slice(0, MAX_QUOTED_VALUE)}…` : v);

function refuse(status: 403 | 413 | 431, code: RefusalCode, header: string, value: string, reason: string): Decision {
  return { allow: false, status, code, header, value: quote(value), reason };
}

/** The path part of an origin-form target; undefined for absolute-form, authority-form and `*`. */
export function targetPath(target: string): string | undefined {
  if (!target.startsWith('/')) return undefined;
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

/**
 * Whether a Host names this server in a way no DNS rebinding can produce: a loopback literal, `localhost`, the
 * configured host, or the IP literal the connection actually reached. Probes (and every route of a health server)
 * also take any IP literal: the kubelet sends the pod IP, and a literal never comes from an attacker's DNS.
 */
function hostAllowed(host: string, req: AdminRequest, target: PolicyTarget, probe: boolean): boolean {
  if (isLoopbackHost(host)) return true;
  if (!isWildcardHost(target.host) && (host.toLowerCase() === target.host.toLowerCase() || sameIp(host, target.host))) return true;
  if (!ipFamily(host)) return false;
  if (req.localAddress && sameIp(host, req.localAddress)) return true;
  return probe || target.kind === 'health';
}

/** Decides one request. Pure: the same request against the same server always gets the same answer. */
export function decideAdminRequest(req: AdminRequest, target: PolicyTarget, limits: PolicyLimits): Decision {
  if (req.rawHeaders.length / 2 >= limits.maxHeaders) {
    return refuse(431, 'too_many_headers', '(header count)', String(req.rawHeaders.length / 2), `more than ${limits.maxHeaders - 1} header lines`);
  }
  const method = req.method.toUpperCase();
  const path = targetPath(req.target);
  const probe = (method === 'GET' || method === 'HEAD') && path !== undefined && PROBE_PATHS.includes(path);

  const hosts = headerValues(req.rawHeaders, 'host');
  if (hosts.length > 1) return refuse(403, 'host_not_allowed', 'host', hosts.join(', '), 'more than one Host header');
  const hostValue = hosts[0];
  // No Host at all is HTTP/1.0 (Node answers 400 to HTTP/1.1 without one). Browsers always send Host, so a
  // request without one cannot come from a rebinding page; scripts and old health checkers are let through.
  if (hostValue !== undefined) {
    const parsed = parseHostHeader(hostValue);
    if (!parsed) return refuse(403, 'host_not_allowed', 'host', hostValue, 'not host[:port]');
    if (!hostAllowed(parsed.host, req, target, probe)) {
      return refuse(403, 'host_not_allowed', 'host', hostValue, 'not a loopback address, localhost or this admin\'s address');
    }
  }

  if (!SAFE_METHODS.has(method)) {
    const origins = headerValues(req.rawHeaders, 'origin');
    if (origins.length > 0) {
      const own = hostValue === undefined ? undefined : ownOrigin(hostValue);
      if (origins.length > 1 || own === undefined || origins[0] !== own) {
        return refuse(403, 'origin_not_allowed', 'origin', origins.join(', '), `a state-changing request from another origin (this admin is ${own ?? 'unknown without Host'})`);
      }
    }
    for (const site of headerValues(req.rawHeaders, 'sec-fetch-site')) {
      if (!ALLOWED_FETCH_SITES.has(site.trim().toLowerCase())) {
        return refuse(403, 'cross_site', 'sec-fetch-site', site, 'a state-changing request from another site');
      }
    }
    for (const type of headerValues(req.rawHeaders, 'content-type')) {
      const essence = type.split(';')[0]!.trim().toLowerCase();
      if (FORM_CONTENT_TYPES.has(essence)) {
        return refuse(403, 'form_content_type', 'content-type', type, 'a form body, as a cross-site page can send without a preflight; this route takes no body');
      }
    }
  }

  for (const length of headerValues(req.rawHeaders, 'content-length')) {
    if (!/^\d+$/.test(length.trim()) || Number(length) > limits.maxBodyBytes) {
      return refuse(413, 'body_too_large', 'content-length', length, `admin routes take no body (at most ${limits.maxBodyBytes} bytes are ignored)`);
    }
  }
  return { allow: true };
}

/** The origin a browser sends for a page served by this admin under `host`: http://host with the default port elided. */
export function ownOrigin(hostValue: string): string | undefined {
  try {
    return new URL(`http://${hostValue}`).origin;
  } catch {
    return undefined;
  }
}
