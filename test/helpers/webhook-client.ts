// Sends AdmissionReviews to a webhook over HTTPS the way the API server does (POST, JSON, TLS verified).
import { request } from 'node:https';
import { readFileSync } from 'node:fs';

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
