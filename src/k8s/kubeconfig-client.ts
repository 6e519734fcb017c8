// A KubeClient for a person's kubeconfig, read by @kubernetes/client-node: contexts, client certificates, tokens
// and exec auth plugins (cloud logins) work as in kubectl. Used by `ztmesh check`; pods use kube-client.ts.
import type { RequestOptions } from 'node:https';
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
 * Loads `file` (or $KUBECONFIG, ~/.kube/config, in-cluster, as kubectl does) and selects `context` (or the current
 * one). Throws ConfigError `kubeconfig_invalid` or `unknown_context` naming the file or context.
 */
export function kubeconfigClient(opts: { file?: string; context?: string; timeoutMs?: number } = {}): KubeconfigTarget {
  const kc = new KubeConfig();
  const where = opts.file ? `--kubeconfig ${opts.file}` : 'the kubeconfig ($KUBECONFIG or ~/.kube/config)';
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
