// `ztmesh webhook`'s HTTPS server: POST /inject answers AdmissionReviews; /healthz and /readyz for the kubelet.
// The serving certificate comes from a ServingCertSource (the ztmesh CA via the identity manager, or files) and is
// swapped in place with setSecureContext on every rotation; in-flight connections keep the old one.
//
// Invariants: a review changes nothing outside its answer (no API call, no state kept); with --client-ca a POST
// without a client certificate from that CA is refused before its body is read; a body is refused as soon as it is
// over MAX_REVIEW_BYTES, or would take the bytes buffered across requests over MAX_BUFFERED_BYTES, and before
// JSON.parse when it nests too deep or holds too many values (review-bounds.ts); refusals log at most 20 lines per
// 10 s per code.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { listenOn } from '../common/listen.js';
import { KeyedLogThrottle } from '../common/log-throttle.js';
import { healthzReply, readyzReply, type ReadinessReport } from '../admin/probe-routes.js';
import type { IdentitySource } from '../identity/credentials.js';
import { hasValidSvid } from '../identity/credentials.js';
import type { InjectOptions } from './inject.js';
import { BadAdmissionReview, parseAdmissionReview, review, reviewResponse, type AdmissionOutcome } from './admission.js';
import { formatPeer } from '../common/address.js';
import { jsonShapeRefusal, MAX_REVIEW_BYTES } from './review-bounds.js';

/** Review bodies held in memory at once, across requests: 16 of the largest. */
export const MAX_BUFFERED_BYTES = 16 * MAX_REVIEW_BYTES;
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
  /** PEM roots that a client certificate on POST /inject must chain to (--client-ca); unset: any client may post. */
  clientCaPem?: string;
  /** Called after each decision (for metrics: a review has no other effect). */
  onAdmission?: (outcome: AdmissionOutcome) => void;
  /** Review bytes held at once across requests (MAX_BUFFERED_BYTES unless a test makes it small). */
  maxBufferedBytes?: number;
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

/** A request refused before its review was decided: an HTTP status, a stable code, a sentence. */
class Refused extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** Counts the review bytes held in memory across requests. */
class BodyBudget {
  private held = 0;
  constructor(private readonly max: number) {}
  take(n: number): boolean {
    if (this.held + n > this.max) return false;
    this.held += n;
    return true;
  }
  give(n: number): void {
    this.held -= n;
  }
}

/** Reads a review body within MAX_REVIEW_BYTES and the shared budget; Refused (413, 503) otherwise. */
function readBody(req: IncomingMessage, budget: BodyBudget): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_REVIEW_BYTES) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (e: Refused) => {
      budget.give(size);
      size = 0;
      chunks.length = 0;
      req.removeAllListeners('data');
      req.resume();
      reject(e);
    };
    req.on('data', (c: Buffer) => {
      if (size + c.length > MAX_REVIEW_BYTES) return fail(tooLarge());
      if (!budget.take(c.length)) return fail(new Refused(503, 'webhook_busy', 'too many reviews in flight; the API server retries'));
      size += c.length;
      chunks.push(c);
    });
    req.on('end', () => {
      budget.give(size);
      resolve(Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      budget.give(size);
      reject(e);
    });
  });
}

const tooLarge = () => new Refused(413, 'review_too_large', `body larger than ${MAX_REVIEW_BYTES} bytes (the API server's own limit)`);

/** Parses a review body: its shape is checked on the raw bytes first, so a hostile one costs one linear scan. */
function parseBody(body: Buffer): unknown {
  const shape = jsonShapeRefusal(body);
  if (shape) throw new Refused(400, shape.code, shape.message);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new BadAdmissionReview('body is not JSON');
  }
}

/** Starts serving once the first certificate is available; later certificates replace it in place. */
export async function startWebhookServer(opts: WebhookServerOptions): Promise<RunningWebhook> {
  const log = opts.log.child({ component: 'webhook' });
  const initial = await firstCert(opts.certs);
  let serial = initial.serial;

  const budget = new BodyBudget(opts.maxBufferedBytes ?? MAX_BUFFERED_BYTES);
  const throttle = new KeyedLogThrottle(opts.clock);
  const refused = (peer: string, code: string, message: string) => {
    const suppressed = throttle.admit(code);
    if (suppressed !== undefined) log.warn({ peer, code, ...(suppressed ? { suppressed } : {}) }, `webhook: refused request: ${message}`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: string | Buffer, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...(status >= 400 ? { connection: 'close' } : {}) });
      res.end(body);
    };
    const reply = (r: { status: number; body: string | Buffer; contentType?: string }) => send(r.status, r.body, r.contentType);
    if (req.method === 'GET' && path === '/healthz') return reply(healthzReply());
    if (req.method === 'GET' && path === '/readyz') return reply(readyzReply(servingReadiness(opts.certs, opts.clock, true)));
    if (path !== INJECT_PATH) return send(404, 'not found\n');
    if (req.method !== 'POST') return send(405, 'use POST\n');
    const peer = formatPeer(req.socket.remoteAddress, req.socket.remotePort);
    try {
      if (opts.clientCaPem !== undefined) {
        const tls = req.socket as TLSSocket;
        if (!tls.authorized) {
          const presented = Object.keys(tls.getPeerCertificate?.() ?? {}).length > 0;
          const why = !presented ? 'no client certificate' : `the certificate does not verify: ${String(tls.authorizationError ?? 'unknown reason')}`;
          throw new Refused(401, 'client_cert_refused', `a client certificate from --client-ca is required (${why})`);
        }
      }
      const ar = parseAdmissionReview(parseBody(await readBody(req, budget)));
      const { response, outcome } = review(ar.request, opts.inject, log.child({ peer }));
      opts.onAdmission?.(outcome);
      return send(200, JSON.stringify(reviewResponse(response)), 'application/json');
    } catch (e) {
      if (e instanceof Refused || e instanceof BadAdmissionReview) {
        const [status, code] = e instanceof Refused ? [e.status, e.code] : [400, 'bad_admission_review'];
        refused(peer, code, e.message);
        return send(status, `${e.message} (${code})\n`);
      }
      log.error({ peer, code: 'internal' }, `webhook: ${(e as Error).message}`);
      return send(500, 'internal error\n');
    }
  };

  const tlsOptions = (c: ServingCert) => ({
    cert: c.certPem, key: c.keyPem, minVersion: 'TLSv1.2' as const, ...(opts.clientCaPem !== undefined ? { ca: opts.clientCaPem } : {}),
  });
  // With --client-ca the certificate is asked for, and checked per request (a refusal names the reason and peer).
  const server = createServer({ ...tlsOptions(initial), ...(opts.clientCaPem !== undefined ? { requestCert: true, rejectUnauthorized: false } : {}) }, (req, res) => {
    handle(req, res).catch((e: unknown) => log.error({ code: 'internal' }, `webhook: ${(e as Error).message}`));
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;

  const unsubscribe = opts.certs.subscribe((c) => {
    if (!c || c.serial === serial) return;
    try {
      // Build the new context completely first; a bad one leaves the last good certificate in place.
      server.setSecureContext(tlsOptions(c));
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
