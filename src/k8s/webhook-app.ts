// `ztmesh webhook`'s composition root: the serving certificate (a workload identity from the ztmesh CA, or files),
// the kubelet health port, the HTTPS admission server, the caBundle sync and the trust-bundle distribution (from
// watches of Namespaces and Pods through the API server; a review never leads to an API call).
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import type { HostPort } from '../common/address.js';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { registerBuildInfo } from '../common/build-info.js';
import { startHttpServer } from '../admin/http-server.js';
import { probeRoutes } from '../admin/probe-routes.js';
import { buildWorkloadIdentity } from '../identity/workload-identity.js';
import { BundleDistributor } from './bundle-distributor.js';
import { CaBundleSync } from './ca-bundle-sync.js';
import type { InjectOptions } from './inject.js';
import { createKubeClient, inClusterConfig } from './kube-client.js';
import { resolveOwnImage, type OwnPod } from './own-image.js';
import { certsFromIdentity, servingReadiness, startWebhookServer, staticCerts, type RunningWebhook, type ServingCertSource } from './webhook.js';
import { certNotAfterMs } from '../pki/validity.js';

/** Where the serving certificate comes from: the ztmesh CA (rotated), or files (not rotated by ztmesh). */
export type ServingCertOrigin =
  | { kind: 'ca'; caAddresses: string[]; tokenFile: string; dnsNames: string[]; ttlMs: number; serverName?: string }
  | { kind: 'files'; certFile: string; keyFile: string };

export interface WebhookAppOptions {
  listen: HostPort;
  health: HostPort;
  /** What to inject; `image` is replaced by the image of the webhook's own container when `imageFrom` is set. */
  inject: InjectOptions;
  /** Inject the image of this container of this pod (read once at start), instead of `inject.image`. */
  imageFrom?: OwnPod;
  cert: ServingCertOrigin;
  /** The bootstrap trust bundle: verifies the CA, and is the caBundle with certificates from files. */
  bundleFile: string;
  /** Keep this MutatingWebhookConfiguration's caBundle equal to the ztmesh roots. */
  webhookConfig?: string;
  /** Write ConfigMap ztmesh-trust-bundle into each meshed namespace (as the API server's watches say). */
  distributeBundle: boolean;
  /** PEM roots a client certificate on POST /inject must chain to (--client-ca); unset: none asked for. */
  clientCaPem?: string;
  /** Overrides of the in-cluster API server configuration. */
  kube: { server?: string; tokenFile?: string; caFile?: string; serverName?: string };
  clock: Clock;
  log: Logger;
}

/** How long a stopping webhook waits for requests in flight; the API server retries admissions elsewhere. */
export const WEBHOOK_DRAIN_MS = 5_000;

export interface RunningWebhookApp {
  server: RunningWebhook;
  /** The bound health address. */
  healthAddress: string;
  /** Stops serving (waiting up to WEBHOOK_DRAIN_MS), then the certificate, caBundle and distribution loops. */
  close(): Promise<void>;
}

/** Starts the webhook; resolves once the HTTPS server serves (its first certificate may take a while). */
export async function startWebhookApp(opts: WebhookAppOptions): Promise<RunningWebhookApp> {
  const { clock, log } = opts;
  const stops: (() => void | Promise<void>)[] = [];
  const stopAll = async () => { for (const s of stops.splice(0).reverse()) await s(); };

  let certs: ServingCertSource;
  let roots: { subscribe(fn: (pem: string | undefined) => void): () => void };
  if (opts.cert.kind === 'files') {
    const [certPem, keyPem] = await Promise.all([readFile(opts.cert.certFile, 'utf8'), readFile(opts.cert.keyFile, 'utf8')]);
    const leaf = new X509Certificate(certPem);
    certs = staticCerts({ certPem, keyPem, notAfterMs: certNotAfterMs(leaf), serial: leaf.serialNumber });
    log.warn({ certFile: opts.cert.certFile }, 'serving a certificate from files: it is not rotated by ztmesh');
    const bundlePem = await readFile(opts.bundleFile, 'utf8').catch(() => undefined);
    roots = { subscribe: (fn) => { fn(bundlePem); return () => {}; } };
  } else {
    // Every signing call sends the projected token: the CA grants the Service DNS SAN to the token's
    // ServiceAccount (--k8s-dns-san), and a renewal by SVID would drop it.
    const workload = await buildWorkloadIdentity({
      caAddresses: opts.cert.caAddresses, trustDomain: opts.inject.trustDomain, tokenFile: opts.cert.tokenFile,
      bundleFile: opts.bundleFile, dnsNames: opts.cert.dnsNames, ttlMs: opts.cert.ttlMs, renewWith: 'token', clock, log,
      ...(opts.cert.serverName ? { serverName: opts.cert.serverName } : {}),
    });
    workload.start();
    stops.push(() => workload.stop());
    certs = certsFromIdentity(workload.identity, clock);
    roots = { subscribe: (fn) => workload.identity.subscribe((s) => fn(s.bundle?.rootsPem)) };
  }

  const kube = () => createKubeClient(inClusterConfig(process.env, opts.kube));
  if (opts.webhookConfig) {
    const sync = new CaBundleSync({ client: kube(), name: opts.webhookConfig, clock, log });
    let last: string | undefined;
    stops.push(roots.subscribe((pem) => {
      if (pem && pem !== last) {
        last = pem;
        void sync.update(pem);
      }
    }), () => sync.stop());
  }
  if (opts.distributeBundle) {
    const d = new BundleDistributor({ client: kube(), clock, log });
    d.start();
    stops.push(roots.subscribe((pem) => { if (pem) d.setRoots(pem); }), () => d.stop());
  }

  // Health first: /healthz is 200 while waiting for the certificate, so the kubelet does not kill a webhook
  // that is only waiting for the CA; /readyz turns 200 once the HTTPS server is serving a valid certificate.
  let serving = false;
  let inject: InjectOptions | undefined = opts.imageFrom ? undefined : opts.inject;
  const readiness = () => (inject ? servingReadiness(certs, clock, serving) : { ready: false, pending: ['injection image'], reason: 'reading the image of its own pod' });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerBuildInfo(registry);
  const admissions = new Counter({
    name: 'ztmesh_webhook_admissions_total', help: 'Admission requests answered, by outcome (injected, skipped, denied, ignored)',
    labelNames: ['outcome'], registers: [registry],
  });
  let health;
  try {
    health = await startHttpServer({
      ...opts.health, log, what: '--health', clock, exposure: { kind: 'health' },
      routes: {
        ...probeRoutes(readiness),
        'GET /metrics': async () => ({ status: 200, body: await registry.metrics(), contentType: registry.contentType }),
      },
    });
  } catch (e) {
    await stopAll();
    throw e;
  }
  stops.push(() => health.close());
  log.info({ health: health.address, mode: opts.inject.mode, legacySidecar: opts.inject.legacySidecar, image: inject?.image ?? 'its own (read from its pod)' }, 'webhook waiting for its serving certificate');
  if (opts.imageFrom) {
    const own = resolveOwnImage({ client: kube(), own: opts.imageFrom, clock, log });
    stops.push(own.stop);
    // Closed while waiting: stop() ends the retries and this start never completes; close() is the caller's.
    inject = { ...opts.inject, image: await own.image };
  }
  let server: RunningWebhook;
  try {
    server = await startWebhookServer({
      ...opts.listen, certs, inject: inject!, clock, log,
      ...(opts.clientCaPem !== undefined ? { clientCaPem: opts.clientCaPem } : {}),
      onAdmission: (outcome) => admissions.inc({ outcome }),
    });
  } catch (e) {
    await stopAll();
    throw e;
  }
  serving = true;
  return {
    server,
    healthAddress: health.address,
    close: async () => {
      let timer: { cancel(): void } | undefined;
      await Promise.race([server.close(), new Promise<void>((resolve) => { timer = clock.setTimeout(resolve, WEBHOOK_DRAIN_MS); })]);
      timer?.cancel();
      await stopAll();
    },
  };
}
