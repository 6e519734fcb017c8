// `ztmesh webhook`: the mutating admission webhook that injects the sidecar into pods at creation.
// Parses and checks the flags, then runs the composition root (k8s/webhook-app.ts) until a signal stops it.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ZTMESH_VERSION } from '../common/version.js';
import type { Command } from 'commander';
import { parseHostPort, formatHostPort } from '../common/address.js';
import { systemClock } from '../common/clock.js';
import { parseDuration } from '../common/duration.js';
import { ConfigError } from '../common/errors.js';
import { certsFromPem } from '../pki/pem.js';
import { BUNDLE_PATH, PORTS, TOKEN_AUDIENCE, TOKEN_PATH } from '../common/mesh.js';
import { WEBHOOK_CONTAINER, type OwnPod } from '../k8s/own-image.js';
import { startWebhookApp, type ServingCertOrigin } from '../k8s/webhook-app.js';
import { addInjectOptions, injectOptionsFrom } from './inject.js';
import { addLogFormatOption, commandLogger } from './log-options.js';
import { collect } from './options.js';

export const DEFAULT_WEBHOOK_LISTEN = formatHostPort('0.0.0.0', PORTS.webhook);
/** Plain-HTTP kubelet probes, up before the serving certificate exists (as the sidecar's health port). */
export const DEFAULT_WEBHOOK_HEALTH = formatHostPort('0.0.0.0', PORTS.sidecarHealth);
export const DEFAULT_WEBHOOK_TTL = '24h';

const str = (v: unknown): string | undefined => (v === undefined ? undefined : String(v));

/** Where the serving certificate comes from, as the flags say; ConfigError naming the flag when they contradict. */
function certOrigin(opts: Record<string, unknown>, caAddress: string): ServingCertOrigin {
  if (opts.certFile || opts.keyFile) {
    if (!opts.certFile || !opts.keyFile) throw new ConfigError('invalid_flag', '--cert-file and --key-file go together');
    return { kind: 'files', certFile: String(opts.certFile), keyFile: String(opts.keyFile) };
  }
  const ttlMs = parseDuration(String(opts.ttl));
  if (ttlMs === undefined) throw new ConfigError('invalid_flag', `--ttl "${String(opts.ttl)}": not a duration`);
  const dnsNames = ((opts.dns as string[] | undefined) ?? []).flatMap((d) => d.split(',')).map((d) => d.trim()).filter(Boolean);
  if (dnsNames.length === 0) throw new ConfigError('invalid_flag', '--dns is required: the API server checks the webhook Service name (e.g. ztmesh-webhook.ztmesh-system.svc)');
  return {
    kind: 'ca', caAddresses: caAddress.split(',').map((s) => s.trim()).filter(Boolean), tokenFile: String(opts.tokenFile), dnsNames, ttlMs,
    ...(opts.caServerName ? { serverName: String(opts.caServerName) } : {}),
  };
}

/** Reads --client-ca: PEM certificates, or ConfigError naming the flag, the file and the reason. */
async function readClientCa(file: string): Promise<string> {
  const pem = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new ConfigError('invalid_flag', `--client-ca ${file}: cannot read (${e.code ?? e.message})`);
  });
  try {
    for (const der of certsFromPem(pem, file)) new X509Certificate(der);
  } catch (e) {
    throw new ConfigError('invalid_flag', `--client-ca ${(e as Error).message.startsWith(file) ? '' : `${file}: `}${(e as Error).message}`);
  }
  return pem;
}

/** Where the webhook runs, from the downward API; without it, --image is required. */
function ownPod(env: NodeJS.ProcessEnv): OwnPod {
  const pod = env.POD_NAME;
  const namespace = env.POD_NAMESPACE;
  if (!pod || !namespace) {
    throw new ConfigError('invalid_flag', '--image is required outside a pod: without it the webhook injects its own image, read from its pod named by POD_NAME and POD_NAMESPACE (the downward API), which are unset');
  }
  return { pod, namespace, container: WEBHOOK_CONTAINER };
}

/** Registers the `webhook` command. */
export function register(program: Command): void {
  const cmd = program
    .command('webhook')
    .description('serve the sidecar-injection mutating admission webhook over HTTPS (POST /inject)')
    .option('--listen <host:port>', 'HTTPS address', DEFAULT_WEBHOOK_LISTEN)
    .option('--health <host:port>', 'plain-HTTP /healthz, /readyz and /metrics', DEFAULT_WEBHOOK_HEALTH)
    .option('--token-file <file>', `projected ServiceAccount token for the CA (audience ${TOKEN_AUDIENCE})`, TOKEN_PATH)
    .option('--bundle <file>', 'bootstrap trust bundle to verify the CA', BUNDLE_PATH)
    .option('--dns <name>', 'DNS SAN of the serving certificate, the webhook Service name (repeatable) (required unless --cert-file)', collect)
    .option('--ttl <duration>', 'requested lifetime of the serving certificate', DEFAULT_WEBHOOK_TTL)
    .option('--ca-server-name <name>', 'TLS SNI sent to the CA (the CA is verified by SPIFFE ID) (default: the CA host name)')
    .option('--cert-file <file>', 'serve this PEM certificate chain instead of one from the ztmesh CA (no rotation) (default: none, ask the CA)')
    .option('--key-file <file>', 'the key for --cert-file (default: none)')
    .option('--webhook-config <name>', 'keep this MutatingWebhookConfiguration\'s caBundle equal to the ztmesh roots (default: none)')
    .option('--distribute-bundle', 'write ConfigMap ztmesh-trust-bundle (roots.pem) into each meshed namespace, as watches of Namespaces and Pods say (default: off)')
    .option('--client-ca <file>', 'PEM roots: POST /inject needs a client certificate that chains to them (the API server\'s, from its admission-control config) (default: none, any client)')
    .option('--k8s-api <url>', 'API server URL (default: in-cluster)')
    .option('--k8s-token-file <file>', 'ServiceAccount token for the API server (default: in-cluster path)')
    .option('--k8s-ca-file <file>', 'PEM roots of the API server (default: in-cluster ca.crt)')
    .option('--k8s-server-name <name>', 'TLS name to verify on the API server, if not the URL host (default: the URL host)');
  addLogFormatOption(addInjectOptions(cmd, { help: ' (default: the image of this webhook\'s own container "webhook", read from its pod $POD_NAME in $POD_NAMESPACE)' })).action(async (opts: Record<string, unknown>) => {
    const inject = injectOptionsFrom(opts);
    const imageFrom = opts.image === undefined ? ownPod(process.env) : undefined;
    const listen = parseHostPort(String(opts.listen), '--listen');
    const health = parseHostPort(String(opts.health), '--health');
    const log = commandLogger('ztmesh-webhook', opts);
    log.info({ version: ZTMESH_VERSION }, `ztmesh webhook ${ZTMESH_VERSION} starting`);
    const kube = { server: str(opts.k8sApi), tokenFile: str(opts.k8sTokenFile), caFile: str(opts.k8sCaFile), serverName: str(opts.k8sServerName) };
    const clientCaPem = opts.clientCa === undefined ? undefined : await readClientCa(String(opts.clientCa));
    const app = await startWebhookApp({
      ...(clientCaPem !== undefined ? { clientCaPem } : {}),
      listen, health, inject, ...(imageFrom ? { imageFrom } : {}), cert: certOrigin(opts, inject.caAddress), bundleFile: String(opts.bundle),
      ...(opts.webhookConfig ? { webhookConfig: String(opts.webhookConfig) } : {}),
      distributeBundle: !!opts.distributeBundle,
      kube: Object.fromEntries(Object.entries(kube).filter(([, v]) => v !== undefined)),
      clock: systemClock, log,
    });
    await new Promise<void>((resolve) => {
      let stopping = false;
      const onSignal = (signal: string) => {
        if (stopping) process.exit(1);
        stopping = true;
        log.info({ signal }, 'webhook stopping');
        app.close().then(resolve, resolve);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
    log.info('webhook stopped');
    log.flush();
  });
}
