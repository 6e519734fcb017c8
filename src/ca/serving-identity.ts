// The CA's own TLS identity: an SVID for spiffe://TD/ns/ztmesh-system/sa/ztmesh-ca issued by its own signer,
// renewed at half-life, plus the trust bundle used to verify renewal client certificates.
// It is a grpc-js CertificateProvider, so a new certificate or bundle applies to the next handshake without a restart.
import type { experimental } from '@grpc/grpc-js';
import type { Clock, TimerHandle } from '../common/clock.js';
import { Backoff } from '../common/backoff.js';
import { describe } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { generateKeySync, privateKeyPem } from '../pki/keys.js';
import { certsToPem } from '../pki/pem.js';
import { spkiOf, type IssuerMaterial } from '../pki/certificate.js';
import { issueSvid } from '../pki/svid.js';

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;
type CaUpdate = experimental.CaCertificateUpdate;
type IdentityUpdate = experimental.IdentityCertificateUpdate;

/** The service account the CA's serving certificate names. */
export const CA_NAMESPACE = 'ztmesh-system';
export const CA_SERVICE_ACCOUNT = 'ztmesh-ca';

/** The SPIFFE ID of the CA's serving certificate. */
export function caServingId(trustDomain: string): string {
  return `spiffe://${trustDomain}/ns/${CA_NAMESPACE}/sa/${CA_SERVICE_ACCOUNT}`;
}

/** Serving certificate + client-verification bundle for grpc-js; renews itself at half-life. */
export class ServingIdentity implements experimental.CertificateProvider {
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private ca: CaUpdate | null = null;
  private identity: IdentityUpdate | null = null;
  private timer: TimerHandle | undefined;
  private readonly backoff = new Backoff();
  /** notAfter of the serving certificate in force, for logs and tests. */
  notAfterMs = 0;
  serialHex = '';

  constructor(
    private readonly opts: {
      trustDomain: string;
      dnsNames: readonly string[];
      ttlMs: number;
      issuer: IssuerMaterial;
      intermediatesDer: readonly Buffer[];
      clock: Clock;
      log: Logger;
    },
  ) {}

  /** Issues the first certificate and schedules renewals. */
  start(): void {
    this.renew();
  }

  /** Replaces the roots that client certificates must chain to. */
  setClientRoots(pem: string): void {
    this.ca = { caCertificate: Buffer.from(pem + certsToPem(this.opts.intermediatesDer)) };
    for (const l of this.caListeners) l(this.ca);
  }

  stop(): void {
    this.timer?.cancel();
  }

  private renew(): void {
    try {
      const key = generateKeySync();
      const now = this.opts.clock.now();
      const issued = issueSvid(
        { spki: spkiOf(key), spiffeId: caServingId(this.opts.trustDomain), dnsNames: this.opts.dnsNames, nowMs: now, ttlMs: this.opts.ttlMs },
        this.opts.issuer,
      );
      // Build completely, then swap: listeners see a whole new identity or nothing.
      this.identity = { certificate: Buffer.from(certsToPem([issued.der, ...this.opts.intermediatesDer])), privateKey: Buffer.from(privateKeyPem(key)) };
      this.notAfterMs = issued.notAfterMs;
      this.serialHex = issued.serialHex;
      for (const l of this.identityListeners) l(this.identity);
      this.backoff.reset();
      const refreshIn = Math.max(1_000, (issued.notAfterMs - now) / 2);
      this.opts.log.info({ serial: issued.serialHex, notAfter: new Date(issued.notAfterMs).toISOString(), refreshInMs: Math.round(refreshIn) }, 'serving certificate issued');
      this.timer = this.opts.clock.setTimeout(() => this.renew(), refreshIn);
    } catch (e) {
      const delay = this.backoff.next();
      this.opts.log.error({ code: describe(e).code, err: describe(e).message, retryInMs: delay }, 'serving certificate renewal failed');
      this.timer = this.opts.clock.setTimeout(() => this.renew(), delay);
    }
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    // grpc-js registers its own watcher only after adding provider listeners, so the first value must come later.
    queueMicrotask(() => { if (this.ca && this.caListeners.has(listener)) listener(this.ca); });
  }
  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }
  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => { if (this.identity && this.identityListeners.has(listener)) listener(this.identity); });
  }
  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
}
