// Sends AdmissionReviews to a webhook over HTTPS the way the API server does (POST, JSON, TLS verified).
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { systemClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/logger.js';
import { DEFAULT_INJECT_OPTIONS } from '../../src/k8s/inject.js';
import { startWebhookServer, staticCerts, type RunningWebhook, type WebhookServerOptions } from '../../src/k8s/webhook.js';
import { makeCa, makeLeaf } from './pki.js';

export const ADMISSION_FIXTURE = new URL('../fixtures/k8s/admission-review-pod-create.json', import.meta.url);

/** A fresh copy of the recorded-format AdmissionReview for a Deployment's pod. */
export function admissionFixture(): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  return JSON.parse(readFileSync(ADMISSION_FIXTURE, 'utf8'));
}

export interface HttpsReply { status: number; body: string; peerCertSerial: string }

/** POSTs (or `method`s) `body` to https://127.0.0.1:port/path, verifying the server against `caPem` as `serverName`. */
export function postHttps(port: number, path: string, body: string, opts: { caPem: string; serverName: string; contentType?: string; method?: string }): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, path, method: opts.method ?? 'POST', ca: opts.caPem, servername: opts.serverName, agent: false,
      headers: { 'content-type': opts.contentType ?? 'application/json', accept: 'application/json' },
    }, (res) => {
      const chunks: Buffer[] = [];
      const serial = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().serialNumber;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), peerCertSerial: serial }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * An in-process webhook server (default inject options, a serving certificate for its Service name from a test CA)
 * for the test file that calls this: started in beforeAll, closed in afterAll. `inject` POSTs a review to /inject;
 * `opts` replaces the logger or the bound on review bytes in flight.
 */
export function webhookForSuite(opts: Partial<Pick<WebhookServerOptions, 'log' | 'maxBufferedBytes'>> = {}): { inject(review: unknown): Promise<HttpsReply>; readonly port: number; caPem: string; serverName: string } {
  const serverName = 'ztmesh-webhook.ztmesh-system.svc';
  const ca = makeCa('cluster.local');
  const leaf = makeLeaf(ca, 'spiffe://cluster.local/ns/ztmesh-system/sa/ztmesh-webhook', { dnsNames: [serverName] });
  let webhook: RunningWebhook | undefined;
  beforeAll(async () => {
    webhook = await startWebhookServer({
      host: '127.0.0.1', port: 0, inject: DEFAULT_INJECT_OPTIONS, clock: systemClock, log: silentLogger(), ...opts,
      certs: staticCerts({ certPem: leaf.certPem, keyPem: leaf.keyPem, notAfterMs: Date.now() + 3_600_000, serial: leaf.serialHex }),
    });
  });
  afterAll(async () => { await webhook?.close(); });
  return {
    inject: (review) => postHttps(webhook!.port, '/inject', JSON.stringify(review), { caPem: ca.certPem, serverName }),
    get port() { return webhook!.port; },
    caPem: ca.certPem,
    serverName,
  };
}
