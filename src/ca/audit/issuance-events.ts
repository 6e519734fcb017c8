// The CA's one record of what it signs and refuses. An issuance is one event: the issuance log records it first (its
// place in the hash chain joins the event), then every subscriber gets the same event (the audit line, the fleet
// view). A refused signature, whether its handler or grpc-js refused it, is accounted for here and nowhere else: an
// X.509-SVID (SignCertificate) or a JWT-SVID (SignJwtSvid), each with its own metric.
import type { Clock } from '../../common/clock.js';
import { KeyedLogThrottle } from '../../common/log-throttle.js';
import type { Logger } from '../../common/logger.js';
import type { IssuanceRecorder, Recorded } from './issuance-log.js';

/** One issued certificate, as the fleet view needs it. */
export interface Issued {
  spiffeId: string;
  serial: string;
  /** The attestor's name: join_token, renewal, k8s_token. */
  method: string;
  peer: string;
  atMs: number;
  notAfterMs: number;
}

/** One issued certificate, as every subscriber sees it. */
export interface Issuance extends Issued {
  /** The root the certificate chains to (its SHA-256), when known. */
  root: string | undefined;
  keyType: string;
  /** Its record in the issuance log (`--audit-log`), when there is one. */
  recorded?: Recorded;
}

/** The calls that sign: their refusals are counted apart, and only SignCertificate's join the issuance log. */
export type SigningCall = 'SignCertificate' | 'SignJwtSvid';

/** One refused SignCertificate or SignJwtSvid call. */
export interface SignRefusal {
  /** Default SignCertificate. */
  rpc?: SigningCall;
  peer: string;
  /** The stable refusal code (ztmesh_ca_sign_total{result}, ztmesh_ca_jwt_sign_total{result}). */
  code: string;
  grpcCode: number;
  detail: string;
  /** The attested identity and how it was attested, when the refusal came after attestation. */
  spiffeId?: string | undefined;
  method?: string | undefined;
  /** A failure of ours (code `internal`): its error, whose stack the error line carries. */
  err?: unknown;
}

export interface IssuanceEventsOptions {
  /** The hash-chained issuance log, when configured. */
  recorder?: IssuanceRecorder | undefined;
  /** ztmesh_ca_sign_total (a prom-client Counter). */
  signTotal: { inc(labels: { result: string }): void };
  /** ztmesh_ca_jwt_sign_total; without it SignJwtSvid refusals are counted in signTotal. */
  jwtSignTotal?: { inc(labels: { result: string }): void };
  log: Logger;
  clock: Clock;
}

/**
 * Issuances and refused signatures of one CA process. Invariants: the issuance log records an event before any
 * subscriber sees it, so the audit line can name the record; every refusal is counted, SignCertificate's recorded
 * (the issuance log holds X.509-SVIDs only: JWT-SVIDs are neither recorded issued nor refused), and logged at most
 * DEFAULT_LOG_THROTTLE lines per call, code and window (the next line says how many were `suppressed`).
 */
export class IssuanceEvents {
  private readonly subscribers = new Set<(i: Issuance) => void>();
  private readonly throttles: KeyedLogThrottle;

  constructor(private readonly opts: IssuanceEventsOptions) {
    this.throttles = new KeyedLogThrottle(opts.clock);
  }

  /** Calls `subscriber` with every issuance from now on, after the issuance log recorded it. */
  subscribe(subscriber: (i: Issuance) => void): () => void {
    this.subscribers.add(subscriber);
    return () => void this.subscribers.delete(subscriber);
  }

  issued(i: Issuance): void {
    const recorded = this.opts.recorder?.issued({ spiffeId: i.spiffeId, serial: i.serial, notAfterMs: i.notAfterMs, root: i.root, method: i.method, peer: i.peer });
    const event = recorded ? { ...i, recorded } : i;
    for (const s of this.subscribers) s(event);
  }

  /** The one place a refused signature is accounted for: the metric, the issuance log and the log line. */
  refused(r: SignRefusal): void {
    const rpc = r.rpc ?? 'SignCertificate';
    if (rpc === 'SignJwtSvid') (this.opts.jwtSignTotal ?? this.opts.signTotal).inc({ result: r.code });
    else {
      this.opts.signTotal.inc({ result: r.code });
      this.opts.recorder?.refused({ peer: r.peer, code: r.code, spiffeId: r.spiffeId, method: r.method });
    }
    const suppressed = this.throttles.admit(`${rpc} ${r.code}`);
    if (suppressed === undefined) return;
    const line = {
      peer: r.peer, code: r.code, grpcCode: r.grpcCode, ...(r.spiffeId ? { spiffeId: r.spiffeId } : {}), detail: r.detail, ...(suppressed ? { suppressed } : {}),
    };
    if (r.err !== undefined) this.opts.log.error({ ...line, err: (r.err as Error)?.stack ?? String(r.err) }, `${rpc} failed`);
    else this.opts.log.warn(line, `${rpc} refused`);
  }
}

/** The stdout audit line of an issuance, with its issuance-log record when there is one. */
export function auditLine(audit: Logger): (i: Issuance) => void {
  return (i) => audit.info({
    spiffeId: i.spiffeId, serial: i.serial, method: i.method, peer: i.peer, keyType: i.keyType, notAfter: new Date(i.notAfterMs).toISOString(), ...i.recorded,
  }, 'issued');
}
