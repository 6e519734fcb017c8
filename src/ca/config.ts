// The CA daemon's configuration: one typed, frozen object parsed once from CLI flags.
// Errors name the flag, the value and the reason (ConfigError `invalid_flag`).
import { availableParallelism } from 'node:os';
import { ConfigError } from '../common/errors.js';
import { parseHostPort, type HostPort, formatHostPort } from '../common/address.js';
import { parseDuration } from '../common/duration.js';
import { validateTrustDomain } from '../pki/spiffe-id.js';
import { PORTS } from '../common/mesh.js';
import { checkAdminBind } from '../admin/admin-bind.js';
import { parseCidr } from '../common/cidr.js';
import { DEFAULT_INBOUND_MODE, INBOUND_MODES, type InboundMode } from '../mesh/kinds.js';
import { DEFAULT_MESH_DEFAULT, MESH_DEFAULTS, type MeshDefault } from '../policy/model.js';
import type { CaFrontDoorLimits } from './serving/tls-front-door.js';

/** Default gRPC listen address (docs/design.md "Ports and paths"). */
export const DEFAULT_LISTEN = formatHostPort('0.0.0.0', PORTS.caGrpc);
/** Default admin HTTP address (/healthz, /readyz, /metrics). */
export const DEFAULT_ADMIN = formatHostPort('127.0.0.1', PORTS.caAdmin);
/** Leaf TTL when the caller asks for 0. */
export const DEFAULT_TTL = '1h';
/** Lower TTL clamp; tests and demos set it lower. */
export const DEFAULT_MIN_TTL = '60s';
/** Upper TTL clamp. */
export const DEFAULT_MAX_TTL = '24h';
/** DNS SANs of the CA's own serving certificate. */
export const DEFAULT_DNS = ['localhost'];
/** Per-identity token bucket: sustained signatures per second (0 disables the limit). */
export const DEFAULT_RATE_PER_SECOND = 5;
/** Per-identity token bucket: burst size. */
export const DEFAULT_RATE_BURST = 20;
/** How long SIGTERM waits for in-flight calls before closing. */
export const DEFAULT_DRAIN = '5s';
/** Time from accept to a finished TLS handshake; a connection still handshaking then is closed. */
export const DEFAULT_HANDSHAKE_TIMEOUT = '10s';
/**
 * Connections held at once on the gRPC port (each sidecar keeps one open for its trust bundle stream). Also
 * lowered to fit the process's file descriptor limit. docs/ca.md gives the memory this needs.
 */
export const DEFAULT_MAX_CONNECTIONS = 2048;
/** Connections held at once from one source address (a pod holds about two). */
export const DEFAULT_MAX_CONNECTIONS_PER_SOURCE = 32;

/** JWT-SVID lifetime when the caller asks for none (docs/workload-api.md). */
export const DEFAULT_JWT_TTL = '5m';
/** Longest JWT-SVID lifetime; a signing key stays published this long after its period. */
export const DEFAULT_JWT_MAX_TTL = '1h';
/** How long one JWT signing key signs; the next one is published a period ahead. */
export const DEFAULT_JWT_KEY_PERIOD = '24h';

/** Everything `ztmesh ca serve` runs with. */
export interface CaServeConfig {
  readonly dir: string;
  /** From --trust-domain; when absent it is read from ca.pem's URI SAN. */
  readonly trustDomain: string | undefined;
  readonly listen: HostPort;
  readonly admin: HostPort;
  /** --admin-allow-remote: the admin may listen beyond loopback (deploy/ binds it for kubelet probes). */
  readonly adminAllowRemote: boolean;
  readonly defaultTtlMs: number;
  readonly minTtlMs: number;
  readonly maxTtlMs: number;
  readonly dnsNames: readonly string[];
  readonly rate: { readonly perSecond: number; readonly burst: number };
  /** Signing worker threads; 0 signs on the main thread. */
  readonly signWorkers: number;
  readonly drainMs: number;
  /** Caps and handshake deadline of the gRPC port. */
  readonly connections: Readonly<CaFrontDoorLimits>;
  /** Reserved SPIFFE IDs (see signing/reserved-ids.ts) the CA may still sign, as given with --grant-reserved-id. */
  readonly reservedGrants: readonly string[];
  /** --audit-log: the hash-chained issuance log (audit/issuance-log.ts), and the size at which it moves to FILE.1. */
  readonly auditLog: { readonly file: string; readonly maxBytes: number } | undefined;
  /** JWT-SVIDs: default and longest lifetime, and the period of one signing key. */
  readonly jwt: { readonly defaultTtlMs: number; readonly maxTtlMs: number; readonly keyPeriodMs: number };
  /** The mesh stream: static meshed CIDRs (--meshed-cidrs) and the mesh-wide inbound mode (--default-inbound-mode). */
  readonly mesh: { readonly meshedCidrs: readonly string[]; readonly defaultInboundMode: InboundMode };
  /** Authorization policy: the mesh default (--default-policy) and the policy directory (--policy-dir), if any. */
  readonly policy: { readonly defaultPolicy: MeshDefault; readonly dir: string | undefined };
}

/** Raw flag values as commander hands them over. */
export interface CaServeFlags {
  dir?: string;
  trustDomain?: string;
  listen?: string;
  admin?: string;
  adminAllowRemote?: boolean | string;
  defaultTtl?: string;
  minTtl?: string;
  maxTtl?: string;
  dns?: string | string[];
  rateLimit?: string;
  rateBurst?: string;
  signWorkers?: string;
  drain?: string;
  handshakeTimeout?: string;
  maxConnections?: string;
  maxConnectionsPerSource?: string;
  grantReservedId?: string | string[];
  auditLog?: string;
  auditLogMaxSize?: string;
  jwtTtl?: string;
  jwtMaxTtl?: string;
  jwtKeyPeriod?: string;
  meshedCidrs?: string | string[];
  defaultInboundMode?: string;
  defaultPolicy?: string;
  policyDir?: string;
  /** Read only to refuse it together with --policy-dir (k8s/ca-attestor-flags.ts builds the watch). */
  k8sPolicyWatch?: boolean | string;
}

function bad(flag: string, value: unknown, why: string): never {
  throw new ConfigError('invalid_flag', `--${flag} "${String(value)}": ${why}`);
}

function duration(flag: string, value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) bad(flag, value, 'not a duration (e.g. 90s, 1h)');
  return ms;
}

function count(flag: string, value: string, max: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > max) bad(flag, value, `must be a number between 0 and ${max}`);
  return n;
}

/** Default size at which the issuance log moves to FILE.1. */
export const DEFAULT_AUDIT_LOG_MAX_SIZE = '64Mi';

/** A size like 1048576, 512Ki, 64Mi or 1Gi (powers of 1024), in bytes. */
function size(flag: string, value: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(value.trim());
  if (!m) bad(flag, value, 'not a size (e.g. 64Mi, 512Ki or a number of bytes)');
  const n = Number(m[1]) * (m[2] === 'Gi' ? 1024 ** 3 : m[2] === 'Mi' ? 1024 ** 2 : m[2] === 'Ki' ? 1024 : 1);
  if (n < 4096) bad(flag, value, 'must be at least 4Ki');
  return n;
}

/** `--meshed-cidrs` (repeatable, comma-separated): CIDRs normalised to "address/prefix", in order, without duplicates. */
function meshedCidrs(raw: string | string[] | undefined): string[] {
  const list = (raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  const out: string[] = [];
  for (const v of list) {
    const c = parseCidr(v);
    if (!c || !v.includes('/')) bad('meshed-cidrs', v, 'not a CIDR (e.g. 10.0.0.0/8 or fd00::/8)');
    const text = `${c.address.toLowerCase()}/${c.prefix}`;
    if (!out.includes(text)) out.push(text);
  }
  return out;
}

function inboundMode(raw: string | undefined): InboundMode {
  if (raw === undefined) return DEFAULT_INBOUND_MODE;
  if (!(INBOUND_MODES as readonly string[]).includes(raw)) bad('default-inbound-mode', raw, `must be ${INBOUND_MODES.join(' or ')}`);
  return raw as InboundMode;
}

function meshDefault(raw: string | undefined): MeshDefault {
  if (raw === undefined) return DEFAULT_MESH_DEFAULT;
  if (!(MESH_DEFAULTS as readonly string[]).includes(raw)) bad('default-policy', raw, `must be ${MESH_DEFAULTS.join(' or ')}`);
  return raw as MeshDefault;
}

/** Default signing workers: one per core, at most 4 (the main thread keeps TLS and gRPC). */
export function defaultSignWorkers(): number {
  return Math.min(4, Math.max(1, availableParallelism()));
}

/** Parses and validates `ca serve` flags into a frozen config. Throws ConfigError naming the flag. */
export function parseServeConfig(flags: CaServeFlags): CaServeConfig {
  if (!flags.dir) bad('dir', '', 'is required');
  const trustDomain = flags.trustDomain;
  if (trustDomain !== undefined) {
    try {
      validateTrustDomain(trustDomain);
    } catch (e) {
      bad('trust-domain', trustDomain, (e as Error).message);
    }
  }
  const defaultTtlMs = duration('default-ttl', flags.defaultTtl ?? DEFAULT_TTL);
  const minTtlMs = duration('min-ttl', flags.minTtl ?? DEFAULT_MIN_TTL);
  const maxTtlMs = duration('max-ttl', flags.maxTtl ?? DEFAULT_MAX_TTL);
  if (minTtlMs < 1_000) bad('min-ttl', flags.minTtl, 'must be at least 1s');
  if (maxTtlMs < minTtlMs) bad('max-ttl', flags.maxTtl, `must not be below --min-ttl (${flags.minTtl ?? DEFAULT_MIN_TTL})`);
  if (defaultTtlMs < minTtlMs || defaultTtlMs > maxTtlMs) bad('default-ttl', flags.defaultTtl ?? DEFAULT_TTL, 'must lie within [--min-ttl, --max-ttl]');
  const jwt = {
    defaultTtlMs: duration('jwt-ttl', flags.jwtTtl ?? DEFAULT_JWT_TTL),
    maxTtlMs: duration('jwt-max-ttl', flags.jwtMaxTtl ?? DEFAULT_JWT_MAX_TTL),
    keyPeriodMs: duration('jwt-key-period', flags.jwtKeyPeriod ?? DEFAULT_JWT_KEY_PERIOD),
  };
  if (jwt.maxTtlMs < 1_000) bad('jwt-max-ttl', flags.jwtMaxTtl, 'must be at least 1s');
  if (jwt.defaultTtlMs < 1_000 || jwt.defaultTtlMs > jwt.maxTtlMs) bad('jwt-ttl', flags.jwtTtl ?? DEFAULT_JWT_TTL, 'must lie within [1s, --jwt-max-ttl]');
  if (jwt.keyPeriodMs < 1_000) bad('jwt-key-period', flags.jwtKeyPeriod, 'must be at least 1s');
  const dnsRaw = flags.dns === undefined ? DEFAULT_DNS : Array.isArray(flags.dns) ? flags.dns : [flags.dns];
  const dnsNames = dnsRaw.flatMap((d) => d.split(',')).map((d) => d.trim()).filter(Boolean);
  for (const d of dnsNames) if (!/^(\*\.)?[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/.test(d)) bad('dns', d, 'not a DNS name');
  const admin = parseHostPort(flags.admin ?? DEFAULT_ADMIN, '--admin', '127.0.0.1');
  const adminAllowRemote = flags.adminAllowRemote === true || flags.adminAllowRemote === 'true';
  checkAdminBind('--admin', admin.host, admin.port, { allowed: adminAllowRemote, key: '--admin-allow-remote' });
  const config: CaServeConfig = {
    dir: flags.dir,
    trustDomain,
    listen: parseHostPort(flags.listen ?? DEFAULT_LISTEN, '--listen'),
    admin,
    adminAllowRemote,
    defaultTtlMs,
    minTtlMs,
    maxTtlMs,
    dnsNames,
    rate: {
      perSecond: count('rate-limit', flags.rateLimit ?? String(DEFAULT_RATE_PER_SECOND), 1e6),
      burst: Math.max(1, count('rate-burst', flags.rateBurst ?? String(DEFAULT_RATE_BURST), 1e6)),
    },
    signWorkers: Math.floor(count('sign-workers', flags.signWorkers ?? String(defaultSignWorkers()), 64)),
    drainMs: duration('drain', flags.drain ?? DEFAULT_DRAIN),
    connections: {
      handshakeTimeoutMs: duration('handshake-timeout', flags.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT),
      max: Math.floor(count('max-connections', flags.maxConnections ?? String(DEFAULT_MAX_CONNECTIONS), 1e6)),
      maxPerSource: Math.floor(count('max-connections-per-source', flags.maxConnectionsPerSource ?? String(DEFAULT_MAX_CONNECTIONS_PER_SOURCE), 1e6)),
    },
    reservedGrants: flags.grantReservedId === undefined ? [] : Array.isArray(flags.grantReservedId) ? flags.grantReservedId : [flags.grantReservedId],
    mesh: { meshedCidrs: meshedCidrs(flags.meshedCidrs), defaultInboundMode: inboundMode(flags.defaultInboundMode) },
    policy: { defaultPolicy: meshDefault(flags.defaultPolicy), dir: flags.policyDir === undefined ? undefined : flags.policyDir || bad('policy-dir', flags.policyDir, 'must name a directory') },
    auditLog: flags.auditLog === undefined ? undefined : {
      file: flags.auditLog || bad('audit-log', flags.auditLog, 'must name a file'),
      maxBytes: size('audit-log-max-size', flags.auditLogMaxSize ?? DEFAULT_AUDIT_LOG_MAX_SIZE),
    },
    jwt,
  };
  if (config.policy.dir !== undefined && (flags.k8sPolicyWatch === true || flags.k8sPolicyWatch === 'true')) {
    bad('policy-dir', config.policy.dir, 'cannot be combined with --k8s-policy-watch: policies come from one place');
  }
  if (config.connections.handshakeTimeoutMs < 100) bad('handshake-timeout', flags.handshakeTimeout, 'must be at least 100ms');
  if (config.connections.max < 1) bad('max-connections', flags.maxConnections, 'must be at least 1');
  if (config.connections.maxPerSource < 1) bad('max-connections-per-source', flags.maxConnectionsPerSource, 'must be at least 1');
  return Object.freeze({
    ...config, rate: Object.freeze(config.rate), dnsNames: Object.freeze([...dnsNames]),
    connections: Object.freeze(config.connections), reservedGrants: Object.freeze([...config.reservedGrants]),
    auditLog: config.auditLog ? Object.freeze(config.auditLog) : undefined, jwt: Object.freeze(jwt),
    mesh: Object.freeze({ ...config.mesh, meshedCidrs: Object.freeze([...config.mesh.meshedCidrs]) }),
    policy: Object.freeze(config.policy),
  });
}
