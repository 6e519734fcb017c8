// The CA's own TLS identity: an SVID for the CA's SPIFFE ID (common/mesh.ts) issued by its own signer, renewed at
// half-life with jitter (common/refresh.ts), plus the roots that renewal client certificates must chain to.
// Both end up in one tls.SecureContext, rebuilt completely and swapped; the next handshake uses the new one.
import type { SecureContextOptions } from 'node:tls';
import type { Clock, TimerHandle } from '../../common/clock.js';
import { Backoff } from '../../common/backoff.js';
import { describe } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { caSpiffeId } from '../../common/mesh.js';
import { nextRefresh } from '../../common/refresh.js';
import { generateKeySync, privateKeyPem } from '../../pki/keys.js';
import { certsToPem } from '../../pki/pem.js';
import { spkiOf, type IssuerMaterial } from '../../pki/certificate.js';
import { issueSvid } from '../../pki/svid.js';

/** Serving certificate + client-verification roots as one swappable SecureContext; renews itself at half-life. */
export class ServingIdentity {
  private certPem = '';
  private keyPem = '';
  private clientRootsPem = '';
  private context: SecureContextOptions | undefined;
  private readonly listeners = new Set<(c: SecureContextOptions) => void>();
  private timer: TimerHandle | undefined;
  private readonly backoff = new Backoff();
  private issuer: IssuerMaterial;
  private intermediatesDer: readonly Buffer[];
  private bridgeDer: readonly Buffer[] = [];
  private leafDer: Buffer | undefined;
  /** notAfter of the serving certificate in force, for logs and metrics. */
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
      /** Jitter source for the renewal time; tests pass a fixed one. */
      random?: () => number;
    },
  ) {
    this.issuer = opts.issuer;
    this.intermediatesDer = opts.intermediatesDer;
  }

  /** Issues the first certificate and schedules renewals. */
  start(): void {
    this.renew();
  }

  /** Key, certificate chain and client roots for the next handshake. */
  secureContext(): SecureContextOptions {
    if (!this.context) throw new Error('BUG: serving identity used before start()');
    return this.context;
  }

  /** Called with the new context options after every renewal or bundle change. */
  onChange(listener: (c: SecureContextOptions) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Replaces the roots that client certificates must chain to. */
  setClientRoots(pem: string): void {
    this.clientRootsPem = pem;
    if (this.certPem) this.rebuild();
  }

  /** The CA switched signing keys (`ca root activate`): a certificate from the new one now. */
  setIssuer(issuer: IssuerMaterial, intermediatesDer: readonly Buffer[], bridgeDer: readonly Buffer[]): void {
    this.issuer = issuer;
    this.intermediatesDer = intermediatesDer;
    this.bridgeDer = bridgeDer;
    this.timer?.cancel();
    this.renew();
  }

  /**
   * Cross-certificates sent after the chain, so that clients still trusting only the previous root reach this one
   * (docs/ca.md "Root rotation"); empty once that root is retired.
   */
  setBridge(bridgeDer: readonly Buffer[]): void {
    if (bridgeDer.length === this.bridgeDer.length && bridgeDer.every((d, i) => d.equals(this.bridgeDer[i]!))) return;
    this.bridgeDer = bridgeDer;
    if (!this.leafDer) return;
    this.certPem = certsToPem([this.leafDer, ...this.intermediatesDer, ...this.bridgeDer]);
    this.rebuild();
  }

  stop(): void {
    this.timer?.cancel();
  }

  private rebuild(): void {
    // TLS 1.3 only: every client of ours speaks it, and it leaves no CBC or SHA-1 suites to offer.
    const rootsPem = this.clientRootsPem ? this.clientRootsPem + certsToPem(this.intermediatesDer) : '';
    this.context = { cert: this.certPem, key: this.keyPem, ...(rootsPem ? { ca: rootsPem } : {}), minVersion: 'TLSv1.3' };
    for (const l of this.listeners) l(this.context);
  }

  private renew(): void {
    try {
      const key = generateKeySync();
      const now = this.opts.clock.now();
      const issued = issueSvid(
        { spki: spkiOf(key), spiffeId: caSpiffeId(this.opts.trustDomain), dnsNames: this.opts.dnsNames, nowMs: now, ttlMs: this.opts.ttlMs },
        this.issuer,
      );
      // Build completely, then swap: handshakes see the whole new identity or the old one.
      const certPem = certsToPem([issued.der, ...this.intermediatesDer, ...this.bridgeDer]);
      const keyPem = privateKeyPem(key);
      this.leafDer = issued.der;
      this.certPem = certPem;
      this.keyPem = keyPem;
      this.rebuild();
      this.notAfterMs = issued.notAfterMs;
      this.serialHex = issued.serialHex;
      this.backoff.reset();
      const refreshIn = nextRefresh(issued.notBeforeMs, issued.notAfterMs, now, (this.opts.random ?? Math.random)()) - now;
      this.opts.log.info({ serial: issued.serialHex, notAfter: new Date(issued.notAfterMs).toISOString(), refreshInMs: refreshIn }, 'serving certificate issued');
      this.timer = this.opts.clock.setTimeout(() => this.renew(), refreshIn);
    } catch (e) {
      const delay = this.backoff.next();
      this.opts.log.error({ code: describe(e).code, err: describe(e).message, retryInMs: delay }, 'serving certificate renewal failed');
      this.timer = this.opts.clock.setTimeout(() => this.renew(), delay);
    }
  }
}
