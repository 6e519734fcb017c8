// The data path's TLS material: one secure context per (SVID, bundle) pair, behind one reference.
// Built completely on every identity change, then swapped; a failed build keeps the last good one.
import tls from 'node:tls';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { hasValidSvid, type IdentitySource, type Svid, type TrustBundle } from '../identity/credentials.js';

/** Between sidecars only TLS 1.3 is spoken. */
export const TLS_VERSION = 'TLSv1.3' as const;
/**
 * TLS 1.3 suites, AES-128-GCM first: with AES-NI it moves bulk data faster than OpenSSL's default first
 * choice (AES-256-GCM), and every TLS 1.3 peer must implement it (RFC 8446, section 9.1), so every peer can negotiate it.
 */
export const TLS13_CIPHERSUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

/** One generation of TLS material; immutable once published. */
export interface TlsMaterial {
  /** Grows by one on every swap; outbound session caches are keyed by it. */
  readonly generation: number;
  readonly svid: Svid;
  readonly bundle: TrustBundle;
  /** Options for tls.Server#setSecureContext (servers rebuild from options; see inbound.ts). */
  readonly serverOptions: tls.SecureContextOptions;
  /** The one client context every outbound dial shares. */
  readonly clientContext: tls.SecureContext;
}

function buildMaterial(generation: number, svid: Svid, bundle: TrustBundle): TlsMaterial {
  const options: tls.SecureContextOptions = {
    key: svid.keyPem,
    cert: svid.chainPem,
    ca: bundle.rootsPem,
    minVersion: TLS_VERSION,
    maxVersion: TLS_VERSION,
    ciphers: TLS13_CIPHERSUITES,
  };
  const clientContext = tls.createSecureContext(options);
  return Object.freeze({ generation, svid, bundle, serverOptions: Object.freeze({ ...options }), clientContext });
}

/** Follows an IdentitySource and keeps the current TLS material; listeners subscribe to swaps. */
export class TlsContextHolder {
  private material: TlsMaterial | undefined;
  private generation = 0;
  private readonly listeners = new Set<(m: TlsMaterial) => void>();
  private readonly unsubscribe: () => void;

  constructor(private readonly identity: IdentitySource, private readonly clock: Clock, private readonly log: Logger) {
    this.unsubscribe = identity.subscribe((snap) => {
      const { svid, bundle } = snap;
      if (!svid || !bundle) return;
      if (this.material && this.material.svid === svid && this.material.bundle === bundle) return;
      let next: TlsMaterial;
      try {
        next = buildMaterial(this.generation + 1, svid, bundle);
      } catch (err) {
        // Keep serving with the last good context; the identity part reports the bad credential.
        this.log.error({ code: 'tls_context_failed', err: (err as Error).message, serial: svid.serialHex }, 'could not build a TLS context; keeping the previous one');
        return;
      }
      this.generation = next.generation;
      this.material = next;
      this.log.debug({ generation: next.generation, serial: svid.serialHex, bundleSequence: bundle.sequence }, 'TLS context swapped');
      for (const l of [...this.listeners]) l(next);
    });
  }

  /** The material in force, or undefined before the first SVID. */
  current(): TlsMaterial | undefined {
    return this.material;
  }

  /** The fail-closed check, made on every new connection: a valid SVID now and material built for it. */
  usable(): TlsMaterial | undefined {
    const m = this.material;
    if (!m) return undefined;
    const snap = this.identity.current();
    if (!hasValidSvid(snap, this.clock.now())) return undefined;
    return m;
  }

  /** Calls `listener` now (if material exists) and on every swap. Returns unsubscribe. */
  subscribe(listener: (m: TlsMaterial) => void): () => void {
    this.listeners.add(listener);
    if (this.material) listener(this.material);
    return () => void this.listeners.delete(listener);
  }

  close(): void {
    this.unsubscribe();
    this.listeners.clear();
  }
}
