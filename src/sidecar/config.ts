// Loads the sidecar configuration once: YAML file, then ZTMESH_* environment, then flags (flags win).
// The merged object is validated by the zod schema; errors name the key, the value, its source and the reason.
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { inspect } from 'node:util';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { parseHostPort } from '../common/address.js';
import { ConfigError } from '../common/errors.js';
import { checkAdminBind } from '../admin/admin-bind.js';
import { parseSpiffeId, validateTrustDomain } from '../pki/spiffe-id.js';
import { DEFAULT_OUTBOUND_POLICY } from '../mesh/kinds.js';
import { BUNDLE_PATH, CA_SERVICE_HOST, DEFAULT_TRUST_DOMAIN, INBOUND_SOURCE_V4, PORTS, TOKEN_PATH } from '../common/mesh.js';
import {
  DEFAULT_ADMIN, DEFAULT_CA_ADDRESS, DEFAULT_DETECTION_TIMEOUT, DEFAULT_DRAIN_TIMEOUT, DEFAULT_HEALTH, DEFAULT_KEY_ALGORITHM, DEFAULT_LOG_LEVEL, DEFAULT_TTL,
  sidecarConfigSchema, type SidecarConfig,
} from './config-schema.js';

type Kind = 'string' | 'int' | 'bool' | 'list' | 'json';

/** sun_path holds 108 bytes with its terminating NUL. */
const MAX_UNIX_SOCKET_PATH = 107;

/** One settable key: its dotted path, environment variable and CLI flag. */
export interface ConfigKey {
  path: string;
  env: string;
  /** Long flag without dashes, e.g. "ca-address". */
  flag: string;
  kind: Kind;
  description: string;
}

const envName = (path: string) => `ZTMESH_${path.replace(/\./g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
const flagName = (path: string) => path.replace(/\./g, '-').replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

/** The keys settable by environment and flag too, in --help order; the rest (per-listener bounds) only in the file. */
const SETTABLE = [
  'trustDomain', 'ca.address', 'ca.bundle', 'ca.tokenFile', 'ca.serverName', 'identity.ttl', 'identity.keyAlgorithm',
  'identity.spiffeId', 'identity.stateDir', 'admin', 'adminAllowRemote', 'health', 'metrics.listen', 'metrics.app', 'appProbes', 'inbound', 'outbound',
  'transparent.enabled', 'transparent.inboundPort', 'transparent.outboundPort', 'transparent.allow', 'transparent.defaultPolicy',
  'transparent.expect', 'transparent.passthrough', 'transparent.outboundPolicy', 'transparent.inboundMode', 'transparent.detectionTimeout', 'transparent.inboundSourceAddress',
  'transparent.tunnel', 'authz.revokeEstablished', 'workloadApi.socket', 'workloadApi.allowUids', 'workloadApi.allowGids', 'workloadApi.files', 'drainTimeout', 'logLevel', 'logFormat',
] as const;
/** Flags shorter than their key's path. */
const SHORT_FLAGS: Readonly<Record<string, string>> = {
  'ca.tokenFile': 'token-file', 'identity.ttl': 'ttl', 'identity.keyAlgorithm': 'key-algorithm', 'identity.spiffeId': 'spiffe-id',
  'identity.stateDir': 'state-dir', 'transparent.enabled': 'transparent',
};

type Schema = z.ZodType & { _zod: { def: { type: string; innerType?: Schema; in?: Schema; element?: Schema; shape?: Record<string, Schema> } } };
/** The schema of the value itself, under defaults, optionals and transforms. */
function unwrap(s: Schema): Schema {
  for (;;) {
    const def = s._zod.def;
    if (def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else return s;
  }
}
/** The schema of one dotted key; its description is the key's --help text. */
function schemaAt(path: string): Schema {
  let s = sidecarConfigSchema as unknown as Schema;
  for (const part of path.split('.')) s = (unwrap(s) as unknown as { shape: Record<string, Schema> }).shape[part]!;
  return s;
}
/** How an environment variable or flag spells a value of this schema. */
function kindOf(s: Schema): Kind {
  const base = unwrap(s);
  switch (base._zod.def.type) {
    case 'boolean': return 'bool';
    case 'number': return 'int';
    case 'array': return unwrap(base._zod.def.element!)._zod.def.type === 'string' ? 'list' : 'json';
    case 'object': case 'record': return 'json';
    default: return 'string';
  }
}

/** Every key settable by env and flag, read from the schema. Lists take JSON/YAML; `list` keys also take a comma-separated string. */
export const CONFIG_KEYS: readonly ConfigKey[] = SETTABLE.map((path) => {
  const s = schemaAt(path);
  return { path, kind: kindOf(s), description: s.description ?? '', env: envName(path), flag: SHORT_FLAGS[path] ?? flagName(path) };
});

/** How an operator opts in to a non-loopback admin, as errors spell it. */
export const ADMIN_ALLOW_REMOTE_KEY = 'adminAllowRemote: true (--admin-allow-remote, ZTMESH_ADMIN_ALLOW_REMOTE=true)';
/** What `--help` shows as each key's default (the schema applies the value itself). */
export const KEY_DEFAULTS: Readonly<Record<string, string>> = {
  trustDomain: DEFAULT_TRUST_DOMAIN,
  'ca.address': DEFAULT_CA_ADDRESS,
  'ca.bundle': BUNDLE_PATH,
  'ca.tokenFile': TOKEN_PATH,
  'ca.serverName': `the CA host name, ${CA_SERVICE_HOST} for an IP`,
  'identity.ttl': DEFAULT_TTL,
  'identity.keyAlgorithm': DEFAULT_KEY_ALGORITHM,
  'identity.spiffeId': 'accept what the CA grants',
  'identity.stateDir': 'none: in memory',
  admin: DEFAULT_ADMIN,
  adminAllowRemote: 'off',
  health: DEFAULT_HEALTH,
  'metrics.listen': 'off',
  'metrics.app': 'none',
  appProbes: 'none',
  inbound: 'none',
  outbound: 'none',
  'transparent.enabled': 'off',
  'transparent.inboundPort': String(PORTS.inbound),
  'transparent.outboundPort': String(PORTS.outbound),
  'transparent.allow': 'any ID of the trust domain',
  'transparent.defaultPolicy': 'allow',
  'transparent.expect': 'any ID of the trust domain',
  'transparent.passthrough': 'none',
  'transparent.outboundPolicy': DEFAULT_OUTBOUND_POLICY,
  'transparent.inboundMode': 'the CA\'s mesh-wide default, strict without one',
  'transparent.detectionTimeout': DEFAULT_DETECTION_TIMEOUT,
  'transparent.inboundSourceAddress': INBOUND_SOURCE_V4,
  'transparent.tunnel': 'auto',
  'authz.revokeEstablished': 'true',
  'workloadApi.socket': 'off (ztmesh inject sets one)',
  'workloadApi.allowUids': 'the sidecar\'s own uid (ztmesh inject: "*")',
  'workloadApi.allowGids': 'none',
  'workloadApi.files': 'none',
  drainTimeout: DEFAULT_DRAIN_TIMEOUT,
  logLevel: DEFAULT_LOG_LEVEL,
  logFormat: 'text on a terminal, json otherwise',
};

export interface ConfigSources {
  /** Path of the YAML file (--config), if any. */
  file?: string;
  /** The environment (process.env); only ZTMESH_* names are read. */
  env?: NodeJS.ProcessEnv;
  /** Flag values keyed by ConfigKey.flag, as commander gives them (strings or booleans). */
  flags?: Record<string, unknown>;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    if (typeof cur[p] !== 'object' || cur[p] === null || Array.isArray(cur[p])) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts.at(-1)!] = value;
}

function getPath(obj: unknown, path: readonly PropertyKey[]): unknown {
  let cur = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

function convert(k: ConfigKey, raw: unknown, source: string): unknown {
  if (typeof raw !== 'string') return raw;
  const bad = (why: string): never => {
    throw new ConfigError('invalid_config', `${k.path} = ${JSON.stringify(raw)} (from ${source}): ${why}`);
  };
  switch (k.kind) {
    case 'string': return raw;
    case 'int': {
      if (!/^\d+$/.test(raw.trim())) bad('not a whole number');
      return Number(raw);
    }
    case 'bool': {
      const v = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off', ''].includes(v)) return false;
      return bad('not a boolean (true/false)');
    }
    case 'list':
      if (raw.trim().startsWith('[')) return parseStructured(raw, () => bad('not a valid JSON/YAML list'));
      return raw.split(',').map((s) => s.trim()).filter(Boolean);
    case 'json':
      return parseStructured(raw, () => bad('not valid JSON/YAML'));
  }
}

/** YAML warnings (an unknown tag, say) would go to stderr outside the error path; the schema check reports the value. */
const YAML_OPTIONS = { logLevel: 'error' } as const;

function parseStructured(raw: string, onError: () => never): unknown {
  try {
    return parseYaml(raw, YAML_OPTIONS);
  } catch {
    return onError();
  }
}

function readFileConfig(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError('config_unreadable', `--config: cannot read "${file}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, YAML_OPTIONS);
  } catch (e) {
    throw new ConfigError('config_invalid_yaml', `--config "${file}": not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError('config_invalid_yaml', `--config "${file}": the top level must be a mapping`);
  return doc as Record<string, unknown>;
}

/** A value as an error shows it: JSON, or an inspection where JSON cannot say it (YAML aliases can make cycles). */
function show(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'undefined';
  } catch {
    return inspect(value, { depth: 2, breakLength: Infinity });
  }
}

/** Deep-freezes a parsed config so nothing changes it at runtime. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

/** Merges file, env and flags, validates once and returns a frozen config. Throws ConfigError naming key, value and reason. */
export function loadSidecarConfig(sources: ConfigSources = {}): SidecarConfig {
  const merged: Record<string, unknown> = sources.file ? readFileConfig(sources.file) : {};
  const origin = new Map<string, string>();
  const env = sources.env ?? {};
  for (const k of CONFIG_KEYS) {
    const v = env[k.env];
    if (v !== undefined && v !== '') {
      setPath(merged, k.path, convert(k, v, k.env));
      origin.set(k.path, k.env);
    }
  }
  for (const k of CONFIG_KEYS) {
    const v = sources.flags?.[k.flag] ?? sources.flags?.[camel(k.flag)];
    if (v !== undefined) {
      setPath(merged, k.path, convert(k, v, `--${k.flag}`));
      origin.set(k.path, `--${k.flag}`);
    }
  }
  const sourceOf = (path: string) => {
    for (let p = path; p; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
      if (origin.has(p)) return origin.get(p)!;
    }
    return sources.file ? `config file ${sources.file}` : 'defaults';
  };
  const result = sidecarConfigSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((k) => `${path ? `${path}.` : ''}${k} (from ${sourceOf(path)}): unknown key`).join('; ');
      }
      const value = getPath(merged, issue.path);
      return `${path || '(top level)'} = ${show(value)} (from ${sourceOf(path.replace(/\[\d+\].*$/, ''))}): ${issue.message}`;
    });
    throw new ConfigError('invalid_config', `invalid sidecar configuration: ${problems.join('; ')}`);
  }
  const config = result.data;
  const check = (path: string, value: unknown, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      throw new ConfigError('invalid_config', `invalid sidecar configuration: ${path} = ${JSON.stringify(value)} (from ${sourceOf(path)}): ${(e as Error).message}`);
    }
  };
  check('trustDomain', config.trustDomain, () => validateTrustDomain(config.trustDomain));
  check('ca.address', config.ca.address, () => {
    const list = caAddresses(config);
    if (list.length === 0) throw new Error('no address');
    for (const a of list) parseHostPort(a, 'ca.address');
  });
  if (config.identity.spiffeId) {
    check('identity.spiffeId', config.identity.spiffeId, () => {
      if (parseSpiffeId(config.identity.spiffeId!).trustDomain !== config.trustDomain) throw new Error(`not in trust domain ${config.trustDomain}`);
    });
  }
  check('identity.ttl', config.identity.ttl, () => {
    if (config.identity.ttl < 1000) throw new Error('must be at least 1s');
  });
  check('admin', config.admin, () => parseHostPort(config.admin, 'admin'));
  const admin = parseHostPort(config.admin, 'admin');
  checkAdminBind(`invalid sidecar configuration: admin (from ${sourceOf('admin')})`, admin.host, admin.port, { allowed: config.adminAllowRemote, key: ADMIN_ALLOW_REMOTE_KEY });
  check('health', config.health, () => parseHostPort(config.health, 'health'));
  if (config.workloadApi.socket !== undefined) {
    check('workloadApi.socket', config.workloadApi.socket, () => {
      if (!isAbsolute(config.workloadApi.socket!)) throw new Error('must be an absolute path (clients get it as unix://PATH)');
      if (Buffer.byteLength(config.workloadApi.socket!) > MAX_UNIX_SOCKET_PATH) throw new Error(`longer than ${MAX_UNIX_SOCKET_PATH} bytes, the limit of a Unix socket address`);
    });
  }
  return deepFreeze(config);
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The CA addresses in failover order. */
export function caAddresses(config: SidecarConfig): string[] {
  return config.ca.address.split(',').map((s) => s.trim()).filter(Boolean);
}
