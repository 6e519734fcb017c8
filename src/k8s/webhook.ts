// `ztmesh webhook`'s HTTPS server: POST /inject answers AdmissionReviews; /healthz and /readyz for the kubelet.
// The serving certificate comes from a ServingCertSource (the ztmesh CA via the identity manager, or files) and is
// swapped in place with setSecureContext on every rotation; in-flight connections keep the old one.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { listenOn } from '../common/listen.js';
import { healthzReply, readyzReply, type ReadinessReport } from '../admin/probe-routes.js';
import type { IdentitySource } from '../identity/credentials.js';
import { hasValidSvid } from '../identity/credentials.js';
import type { InjectOptions } from './inject.js';
import { BadAdmissionReview, parseAdmissionReview, review, reviewResponse, type AdmissionOutcome } from './admission.js';
import { formatPeer } from '../common/address.js';

/** The API server caps objects near 3 MiB; anything larger is not an AdmissionReview we should parse. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** The API server's own webhook timeout is at most 30 s (we configure 10 s); a slow client is cut off. */
export const REQUEST_TIMEOUT_MS = 15_000;
export const INJECT_PATH = '/inject';

/** A PEM certificate chain and key to serve with. */
export interface ServingCert {
  certPem: string;
  keyPem: string;
  notAfterMs: number;
  /** Identifies the certificate, so an unchanged one is not re-applied. */
  serial: string;
}

/** Where the serving certificate comes from; subscribe calls back at once and on every change. */
export interface ServingCertSource {
  current(): ServingCert | undefined;
  subscribe(listener: (cert: ServingCert | undefined) => void): () => void;
}

/** Adapts the identity manager (an IdentitySource) to a ServingCertSource. */
export function certsFromIdentity(identity: IdentitySource, clock: Clock): ServingCertSource {
  const toCert = (): ServingCert | undefined => {
    const snap = identity.current();
    if (!snap.svid || !hasValidSvid(snap, clock.now())) return undefined;
    return { certPem: snap.svid.chainPem, keyPem: snap.svid.keyPem, notAfterMs: snap.svid.notAfterMs, serial: snap.svid.serialHex };
  };
  return {
    current: toCert,
    subscribe: (listener) => identity.subscribe(() => listener(toCert())),
  };
}

/**
 * Ready while the HTTPS server serves a certificate that is still valid; `serving` is false until it listens (the
 * health port answers before that, so the kubelet does not restart a webhook that only waits for the CA).
 */
export function servingReadiness(certs: ServingCertSource, clock: Clock, serving: boolean): ReadinessReport {
  const c = certs.current();
  if (serving && c && c.notAfterMs > clock.now()) return { ready: true, pending: [] };
  return { ready: false, pending: ['serving certificate'], reason: serving ? 'serving certificate expired' : 'waiting for the serving certificate' };
}

/** A fixed certificate from files (no rotation): for clusters that issue the webhook certificate elsewhere. */
export function staticCerts(cert: ServingCert): ServingCertSource {
  return { current: () => cert, subscribe: (listener) => { listener(cert); return () => {}; } };
}

export interface WebhookServerOptions {
  host: string;
  port: number;
  certs: ServingCertSource;
  inject: InjectOptions;
  clock: Clock;
  log: Logger;
  /** Called after each decision; `namespace` is the pod's, `dryRun` says whether side effects are allowed. */
  onAdmission?: (outcome: AdmissionOutcome, namespace: string | undefined, dryRun: boolean) => void;
}

export interface RunningWebhook {
  server: Server;
  address: string;
  port: number;
  close(): Promise<void>;
}

function firstCert(source: ServingCertSource): Promise<ServingCert> {
  return new Promise((resolve) => {
    let resolved = false;
    let unsubscribe: (() => void) | undefined;
    unsubscribe = source.subscribe((c) => {
      if (!c || resolved) return;
      resolved = true;
      resolve(c);
      unsubscribe?.();
    });
    // subscribe may call back synchronously, before `unsubscribe` is assigned.
    if (resolved) unsubscribe();
  });
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BadAdmissionReview(`body larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Starts serving once the first certificate is available; later certificates replace it in place. */
export async function startWebhookServer(opts: WebhookServerOptions): Promise<RunningWebhook> {
  const log = opts.log.child({ component: 'webhook' });
  const initial = await firstCert(opts.certs);
  let serial = initial.serial;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: string | Buffer, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const reply = (r: { status: number; body: string | Buffer; contentType?: string }) => send(r.status, r.body, r.contentType);
    if (req.method === 'GET' && path === '/healthz') return reply(healthzReply());
    if (req.method === 'GET' && path === '/readyz') return reply(readyzReply(servingReadiness(opts.certs, opts.clock, true)));
    if (path !== INJECT_PATH) return send(404, 'not found\n');
    if (req.method !== 'POST') return send(405, 'use POST\n');
    const peer = formatPeer(req.socket.remoteAddress, req.socket.remotePort);
    try {
      const body = await readBody(req);
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        throw new BadAdmissionReview('body is not JSON');
      }
      const ar = parseAdmissionReview(parsed);
      const { response, outcome } = review(ar.request, opts.inject, log.child({ peer }));
      opts.onAdmission?.(outcome, ar.request.namespace, ar.request.dryRun === true);
      return send(200, JSON.stringify(reviewResponse(response)), 'application/json');
    } catch (e) {
      if (e instanceof BadAdmissionReview) {
        log.warn({ peer, code: 'bad_admission_review' }, `webhook: refused request: ${e.message}`);
        return send(400, `${e.message}\n`);
      }
      log.error({ peer, code: 'internal' }, `webhook: ${(e as Error).message}`);
      return send(500, 'internal error\n');
    }
  };

  const server = createServer({ cert: initial.certPem, key: initial.keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res).catch((e: unknown) => log.error({ code: 'internal' }, `webhook: ${(e as Error).message}`));
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;

  const unsubscribe = opts.certs.subscribe((c) => {
    if (!c || c.serial === serial) return;
    try {
      // Build the new context completely first; a bad one leaves the last good certificate in place.
      server.setSecureContext({ cert: c.certPem, key: c.keyPem, minVersion: 'TLSv1.2' });
      serial = c.serial;
      log.info({ serial: c.serial, notAfter: new Date(c.notAfterMs).toISOString() }, 'webhook serving certificate rotated');
    } catch (e) {
      log.error({ code: 'serving_cert_invalid' }, `webhook: keeping the previous serving certificate: ${(e as Error).message}`);
    }
  });

  let address: string;
  try {
    address = await listenOn(server, opts, '--listen');
  } catch (e) {
    unsubscribe();
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  log.info({ address, serial }, 'webhook serving');
  return {
    server,
    address,
    port,
    close: () => new Promise<void>((resolve) => {
      unsubscribe();
      server.close(() => resolve());
      server.closeIdleConnections();
    }),
  };
}
