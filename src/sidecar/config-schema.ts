// The sidecar's configuration schema (DESIGN.md "Sidecar configuration"), validated once by zod.
// Defaults are named constants; the loader (config.ts) merges file, env and flags before parsing.
import { z } from 'zod';
import { parseDuration } from '../common/duration.js';
import { parseHostPort } from '../common/address.js';
import { parseSpiffePattern } from '../pki/spiffe-id.js';
import { appProbesSchema } from './app-probes/app-probe-schema.js';
import { DEFAULT_MAX_PENDING_HANDSHAKES, DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE } from './handshake-gate.js';

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
export const DEFAULT_CA_ADDRESS = 'localhost:15012';
export const DEFAULT_BUNDLE_PATH = '/var/run/ztmesh/bundle/roots.pem';
export const DEFAULT_TOKEN_PATH = '/var/run/secrets/ztmesh/token';
export const DEFAULT_ADMIN = '127.0.0.1:15000';
export const DEFAULT_HEALTH = '0.0.0.0:15021';
export const DEFAULT_TTL = '1h';
export const DEFAULT_INBOUND_PORT = 15006;
export const DEFAULT_OUTBOUND_PORT = 15001;
export const DEFAULT_HANDSHAKE_TIMEOUT = '10s';
export const DEFAULT_IDLE_TIMEOUT = '1h';
export const DEFAULT_MAX_CONNECTIONS = 10_000;
export const DEFAULT_DRAIN_TIMEOUT = '5s';
export const DEFAULT_KEY_ALGORITHM = 'ec-p256';
export const DEFAULT_INBOUND_SOURCE_ADDRESS = '127.0.0.6';
export const DEFAULT_LOG_LEVEL = 'info';

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

/** Bounds on unfinished TLS handshakes of an inbound listener (handshake-gate.ts). */
const pendingHandshakeKeys = {
  maxPendingHandshakes: z.number().int().positive().default(DEFAULT_MAX_PENDING_HANDSHAKES),
  maxPendingHandshakesPerSource: z.number().int().positive().default(DEFAULT_MAX_PENDING_HANDSHAKES_PER_SOURCE),
};

export const inboundSchema = z.object({
  name: z.string().min(1),
  listen: hostPort,
  forward: hostPort,
  allow: z.array(spiffePattern).optional(),
  defaultPolicy: z.enum(['allow', 'deny']).default('allow'),
  handshakeTimeout: duration.prefault(DEFAULT_HANDSHAKE_TIMEOUT),
  idleTimeout: duration.prefault(DEFAULT_IDLE_TIMEOUT),
  maxConnections: z.number().int().positive().default(DEFAULT_MAX_CONNECTIONS),
  ...pendingHandshakeKeys,
}).strict();

export const outboundSchema = z.object({
  name: z.string().min(1),
  listen: hostPort,
  upstream: z.string().min(1),
  expect: spiffePattern.optional(),
  handshakeTimeout: duration.prefault(DEFAULT_HANDSHAKE_TIMEOUT),
  idleTimeout: duration.prefault(DEFAULT_IDLE_TIMEOUT),
  maxConnections: z.number().int().positive().default(DEFAULT_MAX_CONNECTIONS),
}).strict();

export const transparentSchema = z.object({
  enabled: z.boolean().default(false),
  inboundPort: z.number().int().min(1).max(65535).default(DEFAULT_INBOUND_PORT),
  outboundPort: z.number().int().min(1).max(65535).default(DEFAULT_OUTBOUND_PORT),
  /** Inbound allow-list for intercepted traffic (same rules as explicit inbound). */
  allow: z.array(spiffePattern).optional(),
  defaultPolicy: z.enum(['allow', 'deny']).default('allow'),
  /** Destination "CIDR:port" (port may be "*") → expected server SPIFFE pattern. */
  expect: z.record(z.string(), spiffePattern).default({}),
  /** Destinations forwarded as plain TCP: CIDRs and/or ports. */
  passthrough: z.object({
    cidrs: z.array(z.string()).default([]),
    ports: z.array(z.number().int().min(1).max(65535)).default([]),
  }).strict().prefault({}),
  /** Source address for inbound forwards to the app (Istio uses 127.0.0.6). */
  inboundSourceAddress: z.string().default(DEFAULT_INBOUND_SOURCE_ADDRESS),
  handshakeTimeout: duration.prefault(DEFAULT_HANDSHAKE_TIMEOUT),
  idleTimeout: duration.prefault(DEFAULT_IDLE_TIMEOUT),
  maxConnections: z.number().int().positive().default(DEFAULT_MAX_CONNECTIONS),
  ...pendingHandshakeKeys,
}).strict();

export const sidecarConfigSchema = z.object({
  trustDomain: z.string().default(DEFAULT_TRUST_DOMAIN),
  ca: z.object({
    /** host:port; a comma-separated list fails over in order. */
    address: z.string().default(DEFAULT_CA_ADDRESS),
    bundle: z.string().default(DEFAULT_BUNDLE_PATH),
    tokenFile: z.string().default(DEFAULT_TOKEN_PATH),
    /** TLS server name to verify the CA against (its DNS SAN); defaults to the host of the address. */
    serverName: z.string().optional(),
  }).strict().prefault({}),
  identity: z.object({
    ttl: duration.prefault(DEFAULT_TTL),
    keyAlgorithm: z.enum(['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096']).default(DEFAULT_KEY_ALGORITHM),
    /** Optional: the ID to ask for; the CA decides in any case. */
    spiffeId: z.string().optional(),
    /** Optional: where the current SVID and key survive a restart (outside Kubernetes); unset keeps them in memory. */
    stateDir: z.string().min(1).optional(),
  }).strict().prefault({}),
  admin: hostPort.default(DEFAULT_ADMIN),
  /** Without it, an admin on a non-loopback address fails startup (admin_remote_not_allowed). */
  adminAllowRemote: z.boolean().default(false),
  health: hostPort.default(DEFAULT_HEALTH),
  /** The app's original kubelet probes, answered on the health port (app-probes/); `ztmesh inject` writes them. */
  appProbes: appProbesSchema.default({}),
  inbound: z.array(inboundSchema).default([]),
  outbound: z.array(outboundSchema).default([]),
  transparent: transparentSchema.prefault({}),
  drainTimeout: duration.prefault(DEFAULT_DRAIN_TIMEOUT),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default(DEFAULT_LOG_LEVEL),
  /** Unset: text on a terminal, JSON otherwise (common/logger.ts). */
  logFormat: z.enum(['json', 'text']).optional(),
}).strict();

/** The parsed, defaulted sidecar configuration (durations in ms). */
export type SidecarConfig = z.output<typeof sidecarConfigSchema>;
export type InboundConfig = z.output<typeof inboundSchema>;
export type OutboundConfig = z.output<typeof outboundSchema>;
export type TransparentConfig = z.output<typeof transparentSchema>;
