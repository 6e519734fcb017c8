// The CertificateAuthority gRPC handlers: credential extraction, attestation, policy, signing, audit.
// Every refusal goes through toCallFailure() and then IssuanceEvents (the metric, the issuance log, the line; never a token).
import { X509Certificate } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { Clock } from '../../common/clock.js';
import { AttestationError, PolicyError, ZtmeshError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { CertificateAuthorityHandlers } from '../../gen/ztmesh/ca/v1/CertificateAuthority.js';
import type { TrustBundle } from '../../gen/ztmesh/ca/v1/TrustBundle.js';
import type { SignCertificateRequest__Output } from '../../gen/ztmesh/ca/v1/SignCertificateRequest.js';
import type { SignJwtSvidRequest__Output } from '../../gen/ztmesh/ca/v1/SignJwtSvidRequest.js';
import type { WireBundle, WireJwtAuthority } from '../../mesh/codec.js';
import type { JwtAuthority } from '../../pki/jwt-authority.js';
import type { Attestor, AttestationInput } from '../attestors/attestor.js';
import { attest } from '../attestors/run.js';
import { undecodableReason } from '../../common/grpc-call-guard.js';
import { failureDetails, toCallFailure } from './grpc-status.js';
import type { CaMetrics } from '../metrics.js';
import type { RateLimiter } from '../signing/rate-limit.js';
import type { IssuanceEvents } from '../audit/issuance-events.js';
import type { IssuingSigner } from '../signing/signing-switch.js';
import { assertNotReserved, type ReservedIdPolicy } from '../signing/reserved-ids.js';
import { clampTtl, type TtlPolicy } from '../signing/signing-policy.js';
import type { BundleSnapshot, TrustBundleSource } from '../root/trust-bundle.js';
import type { JwtAuthoritySource } from '../jwt/jwt-authorities.js';
import { clampJwtTtl, signJwtSvid, type JwtTtlPolicy } from '../jwt/jwt-svid.js';
import { checkAudiences } from '../../pki/jwt-svid.js';

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
  /** JWT-SVIDs (SignJwtSvid, and the authorities on the bundle streams); without it SignJwtSvid is UNIMPLEMENTED. */
  jwt?: JwtServiceDeps;
}

/**
 * What SignJwtSvid needs: the keys, the lifetimes, the X.509-SVID attestor (no other credential), its own rate limit,
 * and the audit logger its issuance line goes to (a JWT-SVID is not an X.509 issuance: the issuance log keeps none).
 */
export interface JwtServiceDeps {
  authorities: JwtAuthoritySource;
  ttl: JwtTtlPolicy;
  svidAttestor: Attestor;
  rateLimiter: RateLimiter;
  audit: Logger;
}

/** A JWT authority as the proto carries it. */
export function jwtAuthorityMessage(a: JwtAuthority): WireJwtAuthority {
  return { keyId: a.keyId, publicKey: a.publicKeySpki, notAfter: String(Math.floor(a.notAfterMs / 1000)), signature: a.signature, signerChain: a.signerChainDer };
}

/** The bundle as the proto carries it, with the JWT authorities published now. */
export function bundleMessage(b: BundleSnapshot, jwtAuthorities: readonly JwtAuthority[] = []): WireBundle {
  return {
    trustDomain: b.trustDomain, roots: b.rootsDer, sequence: String(b.sequence), crossCertificates: b.cross.map((c) => c.raw),
    jwtAuthorities: jwtAuthorities.map(jwtAuthorityMessage),
  };
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
  const jwtAuthorities = () => deps.jwt?.authorities.current() ?? [];
  const currentBundle = () => bundleMessage(deps.bundle.current(), jwtAuthorities());

  /** SignJwtSvid: the caller's X.509-SVID is the only credential; the token names exactly that ID. */
  async function signJwtOnce(call: grpc.ServerUnaryCall<SignJwtSvidRequest__Output, unknown>, jwt: JwtServiceDeps) {
    if (draining) throw new ZtmeshError('draining', 'the CA is shutting down; try another replica');
    const undecodable = undecodableReason(call.request);
    if (undecodable !== undefined) throw new PolicyError('malformed_request', `the request is not a valid SignJwtSvidRequest: ${undecodable}`);
    const audiences = checkAudiences(call.request.audience);
    const { bearerToken: _ignored, ...input } = attestationInput(call, deps);
    const attestation = await attest([jwt.svidAttestor], input);
    try {
      jwt.rateLimiter.take(attestation.spiffeId);
      const nowMs = deps.clock.now();
      const signed = await signJwtSvid({
        spiffeId: attestation.spiffeId, audiences, ttlMs: clampJwtTtl(call.request.ttlSeconds, jwt.ttl), key: jwt.authorities.signingKey(nowMs), nowMs,
      });
      return { attestation, audiences, signed };
    } catch (e) {
      throw new Refusal(e, attestation.spiffeId, attestation.method);
    }
  }

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
          callback(null, { certChain: [result.der, ...result.chainTailDer], trustBundle: currentBundle() });
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

    SignJwtSvid(call, callback) {
      const jwt = deps.jwt;
      if (!jwt) {
        callback({ code: grpcStatus.UNIMPLEMENTED, details: 'jwt_disabled: this CA signs no JWT-SVIDs' });
        return;
      }
      signJwtOnce(call, jwt).then(
        ({ attestation, audiences, signed }) => {
          deps.metrics.jwtSignTotal.inc({ result: 'ok' });
          jwt.audit.info({
            spiffeId: attestation.spiffeId, kind: 'jwt-svid', audiences, keyId: signed.keyId, peer: call.getPeer(), notAfter: new Date(signed.expiresAtMs).toISOString(),
          }, 'issued');
          callback(null, { token: signed.token });
        },
        (thrown: unknown) => {
          const err = thrown instanceof Refusal ? thrown.error : thrown;
          const f = toCallFailure(err);
          deps.events.refused({
            rpc: 'SignJwtSvid', peer: call.getPeer(), code: f.code, grpcCode: f.grpcCode, detail: f.message, ...(f.code === 'internal' ? { err } : {}),
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
      // One message now, then one per change of the roots or of the JWT authorities (each carries both).
      let subscribed = false;
      const send = () => {
        if (subscribed && !call.cancelled && !call.destroyed) call.write(currentBundle());
      };
      const unsubscribe = deps.bundle.subscribe(send);
      const unsubscribeJwt = deps.jwt?.authorities.subscribe(send);
      subscribed = true;
      send();
      const done = () => {
        unsubscribe();
        unsubscribeJwt?.();
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
