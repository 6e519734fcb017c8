// The CertificateAuthority gRPC handlers: credential extraction, attestation, policy, signing, audit.
// Every refusal goes through toCallFailure() and then IssuanceEvents (the metric, the issuance log, the line; never a token).
import { X509Certificate } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import type { Clock } from '../../common/clock.js';
import { AttestationError, PolicyError, ZtmeshError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { CertificateAuthorityHandlers } from '../../gen/ztmesh/ca/v1/CertificateAuthority.js';
import type { TrustBundle } from '../../gen/ztmesh/ca/v1/TrustBundle.js';
import type { SignCertificateRequest__Output } from '../../gen/ztmesh/ca/v1/SignCertificateRequest.js';
import type { Attestor, AttestationInput } from '../attestors/attestor.js';
import { attest } from '../attestors/run.js';
import { undecodableReason } from './call-guard.js';
import { failureDetails, toCallFailure } from './grpc-status.js';
import type { CaMetrics } from '../metrics.js';
import type { RateLimiter } from '../signing/rate-limit.js';
import type { IssuanceEvents } from '../audit/issuance-events.js';
import type { IssuingSigner } from '../signing/signing-switch.js';
import { assertNotReserved, type ReservedIdPolicy } from '../signing/reserved-ids.js';
import { clampTtl, type TtlPolicy } from '../signing/signing-policy.js';
import type { BundleSnapshot, TrustBundleSource } from '../root/trust-bundle.js';

/** What the CA's TLS listener learnt of a call's client certificate, by the peer grpc-js names (from TlsFrontDoor). */
export interface PeerTlsLookup {
  /** Why TLS did not verify a peer's client certificate. */
  peerCertError?: (peer: string) => string | undefined;
  /** The verified client certificate of a peer, parsed once per connection. */
  peerCertificate?: (peer: string) => X509Certificate | undefined;
}

export interface CaServiceDeps extends PeerTlsLookup {
  attestors: readonly Attestor[];
  /** Signs and says which chain and root the certificate belongs to (it may switch keys while running). */
  signer: IssuingSigner;
  rateLimiter: RateLimiter;
  ttl: TtlPolicy;
  /** Reserved IDs and the grants that lift them; checked after every attestation. */
  reserved: ReservedIdPolicy;
  bundle: TrustBundleSource;
  clock: Clock;
  log: Logger;
  /** Where each issuance and each refused signature goes (the issuance log, the audit line, the fleet view, the metric). */
  events: IssuanceEvents;
  metrics: CaMetrics;
}

/** The bundle as the proto carries it. */
export function bundleMessage(b: BundleSnapshot): TrustBundle {
  return { trustDomain: b.trustDomain, roots: b.rootsDer, sequence: b.sequence, crossCertificates: b.cross.map((c) => c.raw) };
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** What the attestors get from one call. */
export function attestationInput(
  call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>,
  tls: PeerTlsLookup = {},
): AttestationInput {
  const input: AttestationInput = { peer: call.getPeer() };
  const auth = call.metadata.get('authorization')[0];
  if (auth !== undefined) {
    const m = BEARER.exec(String(auth));
    if (!m) throw new AttestationError('malformed_authorization', 'authorization metadata is not "Bearer <token>"');
    input.bearerToken = m[1]!;
  }
  // grpc-js exposes the peer certificate only when TLS verified it against the bundle; the front door
  // remembers why it did not verify otherwise.
  const cert = tls.peerCertificate
    ? tls.peerCertificate(input.peer)
    : ((raw) => (raw ? new X509Certificate(raw) : undefined))(call.getAuthContext()?.sslPeerCertificate?.raw);
  if (cert) input.peerChain = [cert];
  else {
    const why = tls.peerCertError?.(input.peer);
    if (why !== undefined) input.peerCertError = why;
  }
  return input;
}

/** A failure after attestation, carrying the attested ID for the refusal log line. */
class Refusal {
  constructor(readonly error: unknown, readonly spiffeId: string, readonly method: string) {}
}

/** The service implementation plus a drain switch. */
export interface CaService {
  handlers: CertificateAuthorityHandlers;
  /** Refuse new signatures and end every WatchTrustBundle stream. */
  drain(): void;
  activeWatchers(): number;
}

/** Builds the handlers over their dependencies. */
export function createCaService(deps: CaServiceDeps): CaService {
  const watchers = new Set<grpc.ServerWritableStream<unknown, TrustBundle>>();
  let draining = false;

  async function signOnce(call: grpc.ServerUnaryCall<SignCertificateRequest__Output, unknown>) {
    if (draining) throw new ZtmeshError('draining', 'the CA is shutting down; try another replica');
    const undecodable = undecodableReason(call.request);
    if (undecodable !== undefined) throw new PolicyError('malformed_request', `the request is not a valid SignCertificateRequest: ${undecodable}`);
    const input = attestationInput(call, deps);
    const attestation = await attest(deps.attestors, input);
    try {
      // Whoever vouched for the caller, the CA's own IDs stay out of reach (docs/ca.md "Reserved identities").
      assertNotReserved(attestation.spiffeId, deps.reserved);
      deps.rateLimiter.take(attestation.spiffeId);
      const ttlMs = clampTtl(call.request.ttlSeconds, deps.ttl);
      const result = await deps.signer.sign({
        csr: call.request.csr, spiffeId: attestation.spiffeId, allowedDnsNames: attestation.dnsNames ?? [], ttlMs, nowMs: deps.clock.now(),
      });
      // Single-use credentials are used up only now, so a refused CSR leaves a join token valid.
      if (attestation.consume) await attestation.consume();
      return { attestation, result };
    } catch (e) {
      throw new Refusal(e, attestation.spiffeId, attestation.method);
    }
  }

  const handlers: CertificateAuthorityHandlers = {
    SignCertificate(call, callback) {
      const started = process.hrtime.bigint();
      const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
      signOnce(call).then(
        ({ attestation, result }) => {
          deps.metrics.signTotal.inc({ result: 'ok' });
          deps.metrics.signDuration.observe({ result: 'ok' }, elapsed());
          deps.events.issued({
            spiffeId: attestation.spiffeId, serial: result.serialHex, method: attestation.method, peer: call.getPeer(), atMs: deps.clock.now(),
            notAfterMs: result.notAfterMs, root: result.rootSha256, keyType: result.keyType,
          });
          callback(null, { certChain: [result.der, ...result.chainTailDer], trustBundle: bundleMessage(deps.bundle.current()) });
        },
        (thrown: unknown) => {
          const err = thrown instanceof Refusal ? thrown.error : thrown;
          const f = toCallFailure(err);
          deps.metrics.signDuration.observe({ result: 'refused' }, elapsed());
          deps.events.refused({
            peer: call.getPeer(), code: f.code, grpcCode: f.grpcCode, detail: f.message, ...(f.code === 'internal' ? { err } : {}),
            ...(thrown instanceof Refusal ? { spiffeId: thrown.spiffeId, method: thrown.method } : {}),
          });
          callback({ code: f.grpcCode, details: failureDetails(f) });
        },
      );
    },

    WatchTrustBundle(call) {
      if (draining) {
        call.emit('error', { code: toCallFailure(new ZtmeshError('draining', '')).grpcCode, details: 'the CA is shutting down' });
        return;
      }
      watchers.add(call);
      deps.log.debug({ peer: call.getPeer() }, 'trust bundle watcher joined');
      const unsubscribe = deps.bundle.subscribe((b) => {
        if (!call.cancelled && !call.destroyed) call.write(bundleMessage(b));
      });
      const done = () => {
        unsubscribe();
        watchers.delete(call);
      };
      call.on('cancelled', done);
      call.on('close', done);
      call.on('error', done);
    },
  };

  return {
    handlers,
    drain() {
      draining = true;
      for (const w of watchers) w.end();
      watchers.clear();
    },
    activeWatchers: () => watchers.size,
  };
}
