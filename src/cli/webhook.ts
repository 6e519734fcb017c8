// `ztmesh webhook`: the mutating admission webhook that injects the sidecar into pods at creation.
// Composition root: serving certificate (ztmesh CA via the identity manager, or files), HTTPS server, caBundle sync.
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import type { Command } from 'commander';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { systemClock } from '../common/clock.js';
import { ConfigError } from '../common/errors.js';
import { parseDuration } from '../common/duration.js';
import { parseHostPort } from '../common/address.js';
import { startHttpServer, text } from '../admin/http-server.js';
import { createKubeClient, inClusterConfig } from '../k8s/kube-client.js';
import { CaBundleSync } from '../k8s/ca-bundle-sync.js';
import { BundleDistributor } from '../k8s/bundle-distributor.js';
import { startWebhookIdentity } from '../k8s/webhook-identity.js';
import { certsFromIdentity, staticCerts, startWebhookServer, type ServingCertSource } from '../k8s/webhook.js';
import { BUNDLE_PATH, TOKEN_PATH } from '../common/mesh.js';
import { addInjectOptions, injectOptionsFrom } from './inject.js';
import { addLogFormatOption, commandLogger } from './log-options.js';

export const DEFAULT_WEBHOOK_LISTEN = '0.0.0.0:15443';
/** Plain-HTTP kubelet probes, up before the serving certificate exists (as the sidecar's 15021). */
export const DEFAULT_WEBHOOK_HEALTH = '0.0.0.0:15021';
export const DEFAULT_WEBHOOK_TTL = '24h';

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

/** Registers the `webhook` command. */
export function register(program: Command): void {
  const cmd = program
    .command('webhook')
    .description('serve the sidecar-injection mutating admission webhook over HTTPS (POST /inject)')
    .option('--listen <host:port>', 'HTTPS address', DEFAULT_WEBHOOK_LISTEN)
    .option('--health <host:port>', 'plain-HTTP /healthz, /readyz and /metrics', DEFAULT_WEBHOOK_HEALTH)
    .option('--token-file <file>', 'projected ServiceAccount token for the CA (audience ztmesh-ca)', TOKEN_PATH)
    .option('--bundle <file>', 'bootstrap trust bundle to verify the CA', BUNDLE_PATH)
    .option('--dns <name>', 'DNS SAN of the serving certificate, the webhook Service name (repeatable) (required unless --cert-file)', collect)
    .option('--ttl <duration>', 'requested lifetime of the serving certificate', DEFAULT_WEBHOOK_TTL)
    .option('--ca-server-name <name>', 'TLS SNI sent to the CA (the CA is verified by SPIFFE ID) (default: the CA host name)')
    .option('--cert-file <file>', 'serve this PEM certificate chain instead of one from the ztmesh CA (no rotation) (default: none, ask the CA)')
    .option('--key-file <file>', 'the key for --cert-file (default: none)')
    .option('--webhook-config <name>', 'keep this MutatingWebhookConfiguration\'s caBundle equal to the ztmesh roots (default: none)')
    .option('--distribute-bundle', 'write ConfigMap ztmesh-trust-bundle (roots.pem) into each namespace whose pods are injected (default: off)')
    .option('--k8s-api <url>', 'API server URL (default: in-cluster)')
    .option('--k8s-token-file <file>', 'ServiceAccount token for the API server (default: in-cluster path)')
    .option('--k8s-ca-file <file>', 'PEM roots of the API server (default: in-cluster ca.crt)')
    .option('--k8s-server-name <name>', 'TLS name to verify on the API server, if not the URL host (default: the URL host)');
  addLogFormatOption(addInjectOptions(cmd)).action(async (opts: Record<string, unknown>) => {
    const inject = injectOptionsFrom(opts);
    const listen = parseHostPort(String(opts.listen), '--listen');
    const healthAddr = parseHostPort(String(opts.health), '--health');
    const log = commandLogger('ztmesh-webhook', opts);
    const clock = systemClock;
    const stops: (() => void | Promise<void>)[] = [];

    let certs: ServingCertSource;
    let roots: { subscribe(fn: (pem: string | undefined) => void): () => void };
    if (opts.certFile || opts.keyFile) {
      if (!opts.certFile || !opts.keyFile) throw new ConfigError('invalid_flag', '--cert-file and --key-file go together');
      const [certPem, keyPem] = await Promise.all([readFile(String(opts.certFile), 'utf8'), readFile(String(opts.keyFile), 'utf8')]);
      const leaf = new X509Certificate(certPem);
      certs = staticCerts({ certPem, keyPem, notAfterMs: Date.parse(leaf.validTo), serial: leaf.serialNumber });
      log.warn({ certFile: opts.certFile }, 'serving a certificate from files: it is not rotated by ztmesh');
      const bundlePem = await readFile(String(opts.bundle), 'utf8').catch(() => undefined);
      roots = { subscribe: (fn) => { fn(bundlePem); return () => {}; } };
    } else {
      const ttlMs = parseDuration(String(opts.ttl));
      if (ttlMs === undefined) throw new ConfigError('invalid_flag', `--ttl "${String(opts.ttl)}": not a duration`);
      const dnsNames = ((opts.dns as string[] | undefined) ?? []).flatMap((d) => d.split(',')).map((d) => d.trim()).filter(Boolean);
      if (dnsNames.length === 0) throw new ConfigError('invalid_flag', '--dns is required: the API server checks the webhook Service name (e.g. ztmesh-webhook.ztmesh-system.svc)');
      const running = await startWebhookIdentity({
        caAddresses: inject.caAddress.split(',').map((s) => s.trim()).filter(Boolean),
        trustDomain: inject.trustDomain, tokenFile: String(opts.tokenFile), bundleFile: String(opts.bundle),
        dnsNames, ttlMs, clock, log,
        ...(opts.caServerName ? { serverName: String(opts.caServerName) } : {}),
      });
      stops.push(() => running.stop());
      certs = certsFromIdentity(running.identity, clock);
      roots = { subscribe: (fn) => running.identity.subscribe((s) => fn(s.bundle?.rootsPem)) };
    }

    const kube = () => createKubeClient(inClusterConfig(process.env, {
      ...(opts.k8sApi ? { server: String(opts.k8sApi) } : {}),
      ...(opts.k8sTokenFile ? { tokenFile: String(opts.k8sTokenFile) } : {}),
      ...(opts.k8sCaFile ? { caFile: String(opts.k8sCaFile) } : {}),
      ...(opts.k8sServerName ? { serverName: String(opts.k8sServerName) } : {}),
    }));
    if (opts.webhookConfig) {
      const sync = new CaBundleSync({ client: kube(), name: String(opts.webhookConfig), clock, log });
      let last: string | undefined;
      stops.push(roots.subscribe((pem) => {
        if (pem && pem !== last) {
          last = pem;
          void sync.update(pem);
        }
      }), () => sync.stop());
    }
    let distributor: BundleDistributor | undefined;
    if (opts.distributeBundle) {
      const d = new BundleDistributor({ client: kube(), clock, log });
      distributor = d;
      stops.push(roots.subscribe((pem) => { if (pem) void d.setRoots(pem); }), () => d.stop());
    }

    // Health first: /healthz is 200 while waiting for the certificate, so the kubelet does not kill a webhook
    // that is only waiting for the CA; /readyz turns 200 once the HTTPS server is serving a valid certificate.
    let serving = false;
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const admissions = new Counter({
      name: 'ztmesh_webhook_admissions_total', help: 'Admission requests answered, by outcome (injected, skipped, denied, ignored)',
      labelNames: ['outcome'], registers: [registry],
    });
    const health = await startHttpServer({
      host: healthAddr.host, port: healthAddr.port, log, what: '--health', clock, exposure: { kind: 'health' },
      routes: {
        'GET /healthz': () => text(200, 'ok\n'),
        'GET /metrics': async () => ({ status: 200, body: await registry.metrics(), contentType: registry.contentType }),
        'GET /readyz': () => {
          const c = certs.current();
          return serving && c && c.notAfterMs > clock.now() ? text(200, 'ready\n') : text(503, serving ? 'serving certificate expired\n' : 'waiting for the serving certificate\n');
        },
      },
    });
    stops.push(() => health.close());
    log.info({ health: health.address, mode: inject.mode, legacySidecar: inject.legacySidecar, image: inject.image }, 'webhook waiting for its serving certificate');
    const server = await startWebhookServer({
      host: listen.host, port: listen.port, certs, inject, clock, log,
      // Side effects only for real (not dry-run) injections: the webhook declares sideEffects NoneOnDryRun.
      onAdmission: (outcome, namespace, dryRun) => {
        admissions.inc({ outcome });
        if (outcome === 'injected' && !dryRun) void distributor?.ensure(namespace);
      },
    });
    serving = true;
    await new Promise<void>((resolve) => {
      let stopping = false;
      const onSignal = (signal: string) => {
        if (stopping) process.exit(1);
        stopping = true;
        log.info({ signal }, 'webhook stopping');
        server.close().then(resolve, resolve);
        // Bounded drain: the API server retries admission requests elsewhere.
        systemClock.setTimeout(resolve, 5_000);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
    for (const s of stops.reverse()) await s();
    log.info('webhook stopped');
    log.flush();
  });
}
