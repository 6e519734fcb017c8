// A KubeClient for a person's kubeconfig, read by @kubernetes/client-node: contexts, client certificates, tokens
// and exec auth plugins (cloud logins) work as in kubectl. Used by `ztmesh check`; pods use kube-client.ts.
import { existsSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../common/errors.js';
import { KubeUnreachableError, openKubeStream, sendKubeRequest, type KubeClient } from './kube-client.js';

/** A check is a handful of small reads: 10 s without an answer means the API server is not there for us. */
export const DEFAULT_KUBECONFIG_TIMEOUT_MS = 10_000;

export interface KubeconfigTarget {
  client: KubeClient;
  /** The context in use, as kubectl names it. */
  context: string;
  server: string;
}

/**
 * Where kubectl would look, in order, and whether anything is there: $KUBECONFIG's files, else ~/.kube/config, else
 * the pod's ServiceAccount (in a cluster). Without any, ConfigError `no_kubeconfig` names every place looked at;
 * client-node would otherwise invent a context for http://localhost:8080, and the error would blame it.
 */
export function defaultKubeconfigSource(env: NodeJS.ProcessEnv = process.env): void {
  const listed = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const home = join(env.HOME || homedir(), '.kube', 'config');
  const inCluster = Boolean(env.KUBERNETES_SERVICE_HOST) && existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token');
  if (listed.length ? listed.some((f) => existsSync(f)) : existsSync(home) || inCluster) return;
  const looked = listed.length
    ? `$KUBECONFIG (${listed.map((f) => `${f}: no such file`).join(', ')})`
    : `$KUBECONFIG (unset), ${home} (no such file) and the in-cluster ServiceAccount (${env.KUBERNETES_SERVICE_HOST ? 'no token file' : 'KUBERNETES_SERVICE_HOST unset'})`;
  throw new ConfigError('no_kubeconfig', `no kubeconfig: looked at ${looked}; pass --kubeconfig FILE or set KUBECONFIG`);
}

/**
 * Loads `file` (or $KUBECONFIG, ~/.kube/config, in-cluster, as kubectl does) and selects `context` (or the current
 * one). Throws ConfigError `no_kubeconfig`, `kubeconfig_invalid` or `unknown_context` naming the files or context.
 * A plain-HTTP server (`kubectl proxy`) is used over HTTP, as kubectl does.
 */
export function kubeconfigClient(opts: { file?: string; context?: string; timeoutMs?: number } = {}): KubeconfigTarget {
  const kc = new KubeConfig();
  const where = opts.file ? `--kubeconfig ${opts.file}` : 'the kubeconfig ($KUBECONFIG or ~/.kube/config)';
  if (!opts.file) defaultKubeconfigSource();
  try {
    if (opts.file) kc.loadFromFile(opts.file);
    else kc.loadFromDefault();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ConfigError('kubeconfig_invalid', `${where}: ${err.code === 'ENOENT' ? 'no such file' : err.message.split('\n')[0]}`);
  }
  if (opts.context !== undefined) {
    const names = kc.getContexts().map((c) => c.name);
    if (!names.includes(opts.context)) {
      throw new ConfigError('unknown_context', `--context ${opts.context}: not in ${where} (contexts: ${names.join(', ') || 'none'})`);
    }
    kc.setCurrentContext(opts.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) throw new ConfigError('kubeconfig_invalid', `${where}: no current context with a cluster server; pass --context`);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_KUBECONFIG_TIMEOUT_MS;
  const server = cluster.server.replace(/\/+$/, '');
  if (server.startsWith('http://')) {
    // client-node 1.x builds no agent for http:// unless TLS verification is off, which plain HTTP has none of anyway.
    kc.loadFromOptions({
      clusters: kc.clusters.map((c) => (c.name === cluster.name ? { ...c, skipTLSVerify: true } : c)),
      users: kc.users, contexts: kc.contexts, currentContext: kc.getCurrentContext(),
    });
  }
  const authOptions = async (): Promise<RequestOptions> => {
    const options: RequestOptions = {};
    try {
      // CA, client certificate and key, bearer token or exec plugin output, proxy agent: all from the kubeconfig.
      await kc.applyToHTTPSOptions(options);
    } catch (e) {
      throw new KubeUnreachableError(`cannot authenticate with the kubeconfig user of context ${kc.getCurrentContext()}: ${(e as Error).message.split('\n')[0]}`, { cause: e });
    }
    return options;
  };
  const tlsSettingsError = (e: unknown): Error => {
    if (e instanceof KubeUnreachableError) return e;
    // Thrown before any byte was sent: Node could not build TLS from what the kubeconfig holds.
    return new ConfigError('kubeconfig_invalid', `context ${kc.getCurrentContext()}: cannot use its TLS settings (certificate authority, client certificate or key): ${(e as Error).message}`, { cause: e });
  };
  return {
    context: kc.getCurrentContext(),
    server,
    client: {
      server,
      async call(method, path, body, contentType) {
        const options = await authOptions();
        try {
          return await sendKubeRequest(server, timeoutMs, { method, path, body, ...(contentType ? { contentType } : {}) }, options);
        } catch (e) {
          throw tlsSettingsError(e);
        }
      },
      async stream(path, signal) {
        const options = await authOptions();
        try {
          return await openKubeStream(server, timeoutMs, path, options, signal);
        } catch (e) {
          throw tlsSettingsError(e);
        }
      },
    },
  };
}
