// The sidecar's configuration schema (docs/design.md "Sidecar configuration keys"), validated once by zod. Defaults
// are named constants; a key's description is its --help text; config.ts merges file, env and flags before parsing.
import { z } from 'zod';
import { parseDuration } from '../common/duration.js';
import { parseHostPort, formatHostPort } from '../common/address.js';
import { BUNDLE_PATH, DEFAULT_TRUST_DOMAIN, INBOUND_SOURCE_V4, PORTS, TOKEN_PATH } from '../common/mesh.js';
import { parseSpiffePattern } from '../pki/spiffe-id.js';
import { parseCidr } from '../common/cidr.js';
import { DEFAULT_OUTBOUND_POLICY, INBOUND_MODES, OUTBOUND_POLICIES } from '../mesh/kinds.js';
import { appProbesSchema } from './app-probes/app-probe-schema.js';

export const DEFAULT_CA_ADDRESS = formatHostPort('localhost', PORTS.caGrpc);
export const DEFAULT_ADMIN = formatHostPort('127.0.0.1', PORTS.sidecarAdmin);
export const DEFAULT_HEALTH = formatHostPort('0.0.0.0', PORTS.sidecarHealth);
export const DEFAULT_TTL = '1h';
export const DEFAULT_HANDSHAKE_TIMEOUT = '10s';
/**
 * Unfinished handshakes one inbound listener holds at most (node's default listen backlog is 511); each costs 110–140 KiB
 * of native memory once its first bytes arrive (docs/datapath.md "Memory under floods").
 */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 512;
/** Unfinished handshakes from one source address at most. */
export const DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE = 128;
export const DEFAULT_IDLE_TIMEOUT = '1h';
export const DEFAULT_MAX_CONNECTIONS = 10_000;
export const DEFAULT_DRAIN_TIMEOUT = '5s';
export const DEFAULT_KEY_ALGORITHM = 'ec-p256';
export const DEFAULT_LOG_LEVEL = 'info';
/** Permissive inbound: a client that says nothing this long first is plaintext (a server-speaks-first protocol). */
export const DEFAULT_DETECTION_TIMEOUT = '1s';

/** A duration string ("90s", "1h") turned into milliseconds. */
const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration (use e.g. 500ms, 30s, 1h)` });
    return z.NEVER;
  }
  return ms;
});

const hostPort = z.string().superRefine((v, ctx) => {
  try {
    parseHostPort(v, 'address');
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not host:port` });
  }
});

const spiffePattern = z.string().superRefine((v, ctx) => {
  try {
    parseSpiffePattern(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

/** Bounds on unfinished TLS handshakes of an inbound listener (front-door/admission.ts). */
const pendingHandshakeKeys = {
  maxPendingHandshakes: z.number().int().positive().default(DEFAULT_MAX_PENDING_HANDSHAKES),
  maxPendingHandshakesPerSource: z.number().int().positive().default(DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE),
};

/** What every listener bounds: its handshake, its idle connections, its connections. */
const connectionKeys = {
  handshakeTimeout: duration.prefault(DEFAULT_HANDSHAKE_TIMEOUT),
  idleTimeout: duration.prefault(DEFAULT_IDLE_TIMEOUT),
  maxConnections: z.number().int().positive().default(DEFAULT_MAX_CONNECTIONS),
};

/** Who may connect to an inbound listener (authz.ts): without an allow list, defaultPolicy decides. */
const inboundPolicyKeys = {
  allow: z.array(spiffePattern).optional(),
  defaultPolicy: z.enum(['allow', 'deny']).default('allow'),
};

export const inboundSchema = z.object({
  name: z.string().min(1),
  listen: hostPort,
  forward: hostPort,
  ...inboundPolicyKeys,
  ...connectionKeys,
  ...pendingHandshakeKeys,
}).strict();

/** How an outbound reaches its upstreams: pooled tunnels when the peer offers h2 (`auto`), or raw mTLS only (`off`). */
const tunnelMode = z.enum(['auto', 'off']).default('auto');

export const outboundSchema = z.object({
  name: z.string().min(1),
  listen: hostPort,
  upstream: z.string().min(1),
  expect: spiffePattern.optional(),
  tunnel: tunnelMode,
  ...connectionKeys,
}).strict();

export const transparentSchema = z.object({
  enabled: z.boolean().default(false).describe('transparent (iptables) mode'),
  inboundPort: z.number().int().min(1).max(65535).default(PORTS.inbound).describe('transparent inbound port'),
  outboundPort: z.number().int().min(1).max(65535).default(PORTS.outbound).describe('transparent outbound port'),
  /** Inbound policy for intercepted traffic (same rules as explicit inbound). */
  allow: inboundPolicyKeys.allow.describe('transparent inbound allow-list of SPIFFE ID patterns'),
  defaultPolicy: inboundPolicyKeys.defaultPolicy.describe('allow | deny'),
  /** Destination "CIDR:port" (port may be "*") → expected server SPIFFE pattern. */
  expect: z.record(z.string(), spiffePattern).default({}).describe('destination → expected server SPIFFE pattern (JSON/YAML map)'),
  /** Destinations forwarded as plain TCP: CIDRs and/or ports. */
  passthrough: z.object({
    cidrs: z.array(z.string().refine((c) => parseCidr(c) !== undefined, { message: 'not an IPv4 or IPv6 CIDR (e.g. 10.0.0.0/8, fd00::/8)' })).default([]),
    ports: z.array(z.number().int().min(1).max(65535)).default([]),
  }).strict().prefault({}).describe('{cidrs, ports} forwarded as plain TCP (JSON/YAML)'),
  /** Source address for inbound forwards to the app; the nat rules let traffic from it through (docs/transparent.md). */
  inboundSourceAddress: z.string().default(INBOUND_SOURCE_V4).describe('source address of inbound forwards to the app'),
  /** What the outbound does with a destination membership says is not meshed (docs/design.md "Mesh stream"). */
  outboundPolicy: z.enum(OUTBOUND_POLICIES).default(DEFAULT_OUTBOUND_POLICY).describe('passthrough | registry-only: forward destinations that are not meshed as plain TCP, or refuse them'),
  /** Unset: the CA's mesh-wide default (`ca serve --default-inbound-mode`), strict without one. */
  inboundMode: z.enum(INBOUND_MODES).optional().describe('strict | permissive: refuse, or forward without an identity, a client that does not start TLS'),
  /** Permissive mode: a client silent this long is taken as plaintext (a server-speaks-first protocol). */
  detectionTimeout: duration.prefault(DEFAULT_DETECTION_TIMEOUT).describe('permissive inbound: how long a client may send nothing before it is taken as plaintext (server-speaks-first)'),
  /** Transparent outbound: pooled tunnels to peers that offer them (`auto`), or one raw mTLS connection per app connection. */
  tunnel: tunnelMode.describe('auto | off: carry outbound app connections as streams of pooled tunnels when the peer offers h2'),
  ...connectionKeys,
  ...pendingHandshakeKeys,
}).strict();

/** File names (in `workloadApi.files.dir`) as spiffe-helper names them. */
export const DEFAULT_CERT_FILE = 'svid.pem';
export const DEFAULT_KEY_FILE = 'svid_key.pem';
export const DEFAULT_BUNDLE_FILE = 'svid_bundle.pem';

/** A uid or gid ("*": any, for allowUids only); YAML numbers are taken as written. */
const idEntry = (what: string, any: boolean) => z.coerce.string().regex(any ? /^(\*|\d{1,10})$/ : /^\d{1,10}$/, `must be a ${what}${any ? ' or "*"' : ''}`);
/** A file name inside the files directory: no path, so every write stays in that directory. */
const fileName = z.string().regex(/^[^/\0]+$/, 'must be a file name, without "/"').refine((v) => v !== '.' && v !== '..', 'must be a file name');
const SIGNALS = ['SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGWINCH'] as const;

/** The SPIFFE Workload API and the certificate files (workload-api/): off unless a socket or files are configured. */
export const workloadApiSchema = z.object({
  socket: z.string().min(1).optional().describe('Unix socket path of the SPIFFE Workload API (default: off outside Kubernetes)'),
  allowUids: z.array(idEntry('uid', true)).optional().describe('uids admitted to the Workload API, "*" for any (default: the sidecar\'s own uid)'),
  allowGids: z.array(idEntry('gid', false)).optional().describe('primary gids admitted to the Workload API'),
  files: z.object({
    dir: z.string().min(1),
    certFile: fileName.default(DEFAULT_CERT_FILE),
    keyFile: fileName.default(DEFAULT_KEY_FILE),
    bundleFile: fileName.default(DEFAULT_BUNDLE_FILE),
    onRotate: z.union([
      z.object({ signal: z.enum(SIGNALS), pidFile: z.string().min(1) }).strict(),
      z.object({ command: z.array(z.string().min(1)).min(1) }).strict(),
    ]).optional(),
  }).strict().optional().describe('{dir, certFile, keyFile, bundleFile, onRotate}: keep PEM files of the SVID current (JSON/YAML)'),
}).strict();

export const sidecarConfigSchema = z.object({
  trustDomain: z.string().default(DEFAULT_TRUST_DOMAIN).describe('trust domain of this workload'),
  ca: z.object({
    address: z.string().default(DEFAULT_CA_ADDRESS).describe('CA host:port; a comma-separated list fails over in order'),
    bundle: z.string().default(BUNDLE_PATH).describe('bootstrap trust bundle (PEM roots)'),
    tokenFile: z.string().default(TOKEN_PATH).describe('projected SA token or join token file, re-read on every use'),
    /** Defaults to the host of the address; the CA is verified by its SPIFFE ID, not by this name. */
    serverName: z.string().optional().describe('TLS SNI sent to the CA (the CA is verified by SPIFFE ID)'),
  }).strict().prefault({}),
  identity: z.object({
    ttl: duration.prefault(DEFAULT_TTL).describe('requested SVID lifetime (the CA clamps it)'),
    keyAlgorithm: z.enum(['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096']).default(DEFAULT_KEY_ALGORITHM).describe('ec-p256 | ec-p384 | rsa-2048 | rsa-3072 | rsa-4096'),
    /** The CA decides in any case. */
    spiffeId: z.string().optional().describe('SPIFFE ID to ask for; a different answer from the CA is refused'),
    /** Outside Kubernetes; unset keeps them in memory. */
    stateDir: z.string().min(1).optional().describe('directory keeping the current SVID and its key (0600) across restarts, to renew without a new token'),
  }).strict().prefault({}),
  admin: hostPort.default(DEFAULT_ADMIN).describe('admin listener host:port (status, metrics, rotate)'),
  /** Without it, an admin on a non-loopback address fails startup (admin_remote_not_allowed). */
  adminAllowRemote: z.boolean().default(false).describe('allow the admin on a non-loopback address (logs a warning)'),
  health: hostPort.default(DEFAULT_HEALTH).describe('kubelet health listener host:port (/healthz, /readyz)'),
  /**
   * Metrics a pod's Prometheus can scrape (docs/design.md "Metrics in a pod"): plain HTTP `GET /metrics` on `listen`,
   * the sidecar's own merged with the app's (`app`, scraped on loopback). `ztmesh inject` sets both.
   */
  metrics: z.object({
    listen: hostPort.optional().describe('pod-reachable metrics listener host:port (GET /metrics: the sidecar\'s merged with the app\'s); unset: off'),
    app: z.object({
      port: z.number().int().min(1).max(65535),
      path: z.string().regex(/^\/[\x21-\x7e]*$/, 'an absolute URL path such as /metrics').default('/metrics'),
    }).strict().optional().describe('the app\'s own metrics endpoint, scraped on loopback and merged: JSON {"port":9090,"path":"/metrics"}'),
  }).strict().prefault({}),
  /** The app's original kubelet probes, answered on the health port (app-probes/); `ztmesh inject` writes them. */
  appProbes: appProbesSchema.default({}).describe('the app\'s kubelet probes by health path, as JSON (written by ztmesh inject)'),
  inbound: z.array(inboundSchema).default([]).describe('inbound listeners as a JSON/YAML list'),
  outbound: z.array(outboundSchema).default([]).describe('outbound listeners as a JSON/YAML list'),
  transparent: transparentSchema.prefault({}),
  /** Inbound authorization beyond the listeners' allow lists: the CA's AuthorizationPolicies (docs/authorization.md). */
  authz: z.object({
    /** A policy change that stops allowing a peer closes its established connections and tunnel streams (`policy_revoked`). */
    revokeEstablished: z.boolean().default(true).describe('close established connections and tunnel streams that a policy change no longer allows (false: they run to their end)'),
  }).strict().prefault({}),
  workloadApi: workloadApiSchema.prefault({}),
  drainTimeout: duration.prefault(DEFAULT_DRAIN_TIMEOUT).describe('how long SIGTERM waits for connections to finish'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default(DEFAULT_LOG_LEVEL).describe('trace | debug | info | warn | error | fatal | silent'),
  /** Unset: text on a terminal, JSON otherwise (common/logger.ts). */
  logFormat: z.enum(['json', 'text']).optional().describe('json | text'),
}).strict();

/** The parsed, defaulted sidecar configuration (durations in ms). */
export type SidecarConfig = z.output<typeof sidecarConfigSchema>;
export type InboundConfig = z.output<typeof inboundSchema>;
export type OutboundConfig = z.output<typeof outboundSchema>;
