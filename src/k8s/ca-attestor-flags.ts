// The `ztmesh ca serve --k8s-*` flags turned into a TokenReview attestor, the membership watch and the
// AuthorizationPolicy watch (cli/ca.ts stays a thin wiring); all reach the API server with the same --k8s-api,
// --k8s-token-file, --k8s-ca-file, --k8s-server-name.
import { hostname } from 'node:os';
import type { Clock } from '../common/clock.js';
import { ConfigError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { parseDuration } from '../common/duration.js';
import { TOKEN_AUDIENCE } from '../common/mesh.js';
import { workloadId } from '../pki/spiffe-id.js';
import { loadCaState } from '../ca/state-dir.js';
import type { Attestor } from '../ca/attestors/attestor.js';
import { createKubeClient, inClusterConfig } from './kube-client.js';
import { TokenReviewAttestor } from './token-review.js';
import { MeshWatch } from './mesh-watch.js';
import { PolicyWatch } from './policy-watch.js';
import { EventRecorder } from './watch/event-recorder.js';

/** Raw `--k8s-*` flag values as commander gives them. */
export interface K8sAttestorFlags {
  k8sTokenReview?: boolean;
  k8sMeshWatch?: boolean;
  k8sPolicyWatch?: boolean;
  k8sAudience?: string;
  k8sApi?: string;
  k8sTokenFile?: string;
  k8sCaFile?: string;
  k8sServerName?: string;
  k8sDnsSan?: string | string[];
  k8sCacheTtl?: string;
}

const DNS_NAME = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

/** Parses repeated `--k8s-dns-san <namespace>/<serviceaccount>=<dns>[,<dns>...]` into SPIFFE ID → DNS names. */
export function parseDnsGrants(values: readonly string[], trustDomain: string): Map<string, string[]> {
  const grants = new Map<string, string[]>();
  for (const v of values) {
    const m = /^([a-z0-9-]+)\/([a-z0-9.-]+)=(.+)$/.exec(v.trim());
    if (!m) throw new ConfigError('invalid_flag', `--k8s-dns-san "${v}": expected <namespace>/<serviceaccount>=<dns>[,<dns>]`);
    const names = m[3]!.split(',').map((s) => s.trim()).filter(Boolean);
    for (const n of names) if (!DNS_NAME.test(n)) throw new ConfigError('invalid_flag', `--k8s-dns-san "${v}": "${n}" is not a DNS name`);
    const id = workloadId(trustDomain, m[1]!, m[2]!).uri;
    grants.set(id, [...(grants.get(id) ?? []), ...names]);
  }
  return grants;
}

/** The API server and the CA's credentials for it, from the --k8s-* flags or the pod's in-cluster files. */
function apiFromFlags(flags: K8sAttestorFlags, env: NodeJS.ProcessEnv = process.env) {
  return inClusterConfig(env, {
    ...(flags.k8sApi ? { server: flags.k8sApi } : {}),
    ...(flags.k8sTokenFile ? { tokenFile: flags.k8sTokenFile } : {}),
    ...(flags.k8sCaFile ? { caFile: flags.k8sCaFile } : {}),
    ...(flags.k8sServerName ? { serverName: flags.k8sServerName } : {}),
  });
}

/**
 * The membership feed (k8s/mesh-watch.ts) when --k8s-mesh-watch is set: the CA lists and watches meshed Pods,
 * Services and EndpointSlices, and takes no announcements. Undefined otherwise.
 */
export async function k8sMembershipFeedFromFlags(
  flags: K8sAttestorFlags,
  ctx: { dir: string; trustDomain: string | undefined; log: Logger; clock: Clock; env?: NodeJS.ProcessEnv },
): Promise<MeshWatch | undefined> {
  if (!flags.k8sMeshWatch) return undefined;
  const trustDomain = ctx.trustDomain ?? (await loadCaState(ctx.dir)).trustDomain;
  const api = apiFromFlags(flags, ctx.env);
  ctx.log.info({ component: 'mesh-watch', api: api.server }, 'Kubernetes membership watch enabled');
  return new MeshWatch({ client: createKubeClient(api), trustDomain, clock: ctx.clock, log: ctx.log });
}

/**
 * The AuthorizationPolicy watch (k8s/policy-watch.ts) when --k8s-policy-watch is set: the CA lists and watches the
 * CRD's objects and writes Events on invalid ones (as this pod: POD_NAME, else the host name). Undefined otherwise.
 */
export function k8sPolicyFeedFromFlags(
  flags: K8sAttestorFlags,
  ctx: { log: Logger; clock: Clock; env?: NodeJS.ProcessEnv },
): PolicyWatch | undefined {
  if (!flags.k8sPolicyWatch) return undefined;
  const env = ctx.env ?? process.env;
  const api = apiFromFlags(flags, env);
  const client = createKubeClient(api);
  ctx.log.info({ component: 'policy-watch', api: api.server }, 'Kubernetes AuthorizationPolicy watch enabled');
  const events = new EventRecorder({ client, clock: ctx.clock, log: ctx.log, component: 'ztmesh-ca', instance: env.POD_NAME ?? hostname() });
  return new PolicyWatch({ client, events, clock: ctx.clock, log: ctx.log });
}

/** Returns [TokenReviewAttestor] when --k8s-token-review is set, else []. Reads the trust domain from ca.pem if needed. */
export async function k8sAttestorsFromFlags(
  flags: K8sAttestorFlags,
  ctx: { dir: string; trustDomain: string | undefined; log: Logger; clock: Clock; env?: NodeJS.ProcessEnv },
): Promise<Attestor[]> {
  if (!flags.k8sTokenReview) return [];
  const trustDomain = ctx.trustDomain ?? (await loadCaState(ctx.dir)).trustDomain;
  let cacheTtlMs: number | undefined;
  if (flags.k8sCacheTtl !== undefined) {
    cacheTtlMs = parseDuration(flags.k8sCacheTtl);
    if (cacheTtlMs === undefined) throw new ConfigError('invalid_flag', `--k8s-cache-ttl "${flags.k8sCacheTtl}": not a duration (e.g. 30s)`);
  }
  const api = apiFromFlags(flags, ctx.env);
  const dnsSan = flags.k8sDnsSan === undefined ? [] : Array.isArray(flags.k8sDnsSan) ? flags.k8sDnsSan : [flags.k8sDnsSan];
  const audience = flags.k8sAudience ?? TOKEN_AUDIENCE;
  ctx.log.info({ component: 'k8s-token-review', api: api.server, audience }, 'Kubernetes TokenReview attestation enabled');
  return [new TokenReviewAttestor({
    client: createKubeClient(api), trustDomain, clock: ctx.clock, logger: ctx.log, audience,
    ...(cacheTtlMs !== undefined ? { cacheTtlMs } : {}),
    dnsGrants: parseDnsGrants(dnsSan, trustDomain),
  })];
}
