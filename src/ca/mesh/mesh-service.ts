// The Mesh gRPC service on the CA (proto/ztmesh/mesh/v1/mesh.proto): authenticates each stream by the sidecar's
// SVID, enforces the stream's rules and bounds, and runs a MeshStream per sidecar. Invariants:
// - The peer is the ID its TLS client certificate proves (the renewal rules: roots in force, validity at clock
//   time, leaf-SVID rules); nothing a sidecar sends names an identity. No certificate, no stream.
// - Subscribe comes first, within SUBSCRIBE_TIMEOUT_MS, and once; at most MAX_STREAMS_PER_CONNECTION streams per
//   connection; announcements are bounded (16 routable addresses) and rate-limited per stream.
// - Every refusal has a stable code, a throttled log line naming the peer, and a metric; a refused announcement or
//   a stray ack keeps the stream, anything else ends it with a gRPC status whose details start with the code.
// - A stream ends when its peer's certificate expires, so the sidecar reconnects with the certificate it holds now.
import * as grpc from '@grpc/grpc-js';
import type { Clock, TimerHandle } from '../../common/clock.js';
import { AttestationError, PolicyError, ZtmeshError, describe as describeError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { LogThrottle } from '../../common/log-throttle.js';
import type { MeshHandlers } from '../../gen/ztmesh/mesh/v1/Mesh.js';
import type { MeshRequest__Output } from '../../gen/ztmesh/mesh/v1/MeshRequest.js';
import type { MeshUpdate } from '../../gen/ztmesh/mesh/v1/MeshUpdate.js';
import { checkAnnounced, decodeRequest, encodeUpdate, type MeshRequest, type MeshUpdate as TypedUpdate } from '../../mesh/codec.js';
import { isKnownKind } from '../../mesh/kinds.js';
import { certNotAfterMs } from '../../pki/validity.js';
import type { Attestor } from '../attestors/attestor.js';
import type { CaMetrics } from '../metrics.js';
import type { RateLimiter } from '../signing/rate-limit.js';
import { undecodableReason } from '../../common/grpc-call-guard.js';
import { failureDetails, toCallFailure } from '../serving/grpc-status.js';
import { attestationInput, type PeerTlsLookup } from '../serving/service.js';
import type { KindSource, MeshPeer } from './kind-source.js';
import { MeshStream } from './mesh-stream.js';
import type { StreamRecord, StreamRegistry } from './stream-registry.js';

/** The stable codes of the mesh stream's refusals (docs/design.md "Mesh stream"); the attestor adds its renewal_* codes. */
export const MESH_REFUSALS = [
  'no_credential', 'peer_cert_expired', 'malformed_request', 'not_subscribed', 'subscribed_twice', 'mesh_stream_limit',
  'subscribe_timeout', 'ack_timeout', 'draining', 'announce_too_many_addresses', 'announce_bad_address',
  'announce_rate_limited', 'ack_unknown_kind', 'ack_unexpected_version',
] as const;
export type MeshRefusalCode = (typeof MESH_REFUSALS)[number];

/** How long a stream may stay open without its Subscribe. */
export const SUBSCRIBE_TIMEOUT_MS = 10_000;
/** Mesh streams one connection may hold (a sidecar needs one). */
export const MAX_STREAMS_PER_CONNECTION = 4;

/**
 * The Mesh service definition for grpc-js, sending a Buffer as it is: an update many streams share (a membership
 * snapshot of 10,000 pods is 1 MB and 50-100 ms to encode) is encoded once, not once per stream.
 */
export function preEncodedMesh<S extends grpc.ServiceDefinition>(service: S): S {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, def] of Object.entries(service) as [string, grpc.MethodDefinition<unknown, unknown>][]) {
    out[name] = { ...def, responseSerialize: (v: unknown) => (Buffer.isBuffer(v) ? v : def.responseSerialize(v)) };
  }
  return out as S;
}

export interface MeshServiceDeps extends PeerTlsLookup {
  /** Encodes an update for the wire (the proto definition's serializer); the result is written as it is. */
  encode: (u: MeshUpdate) => Buffer;
  /** The renewal attestor: the same chain rules as renewing an SVID. */
  renewal: Attestor;
  /** Every kind the CA serves; a stream gets those it subscribed to. */
  sources: readonly KindSource[];
  registry: StreamRegistry;
  /** Announced addresses (outside Kubernetes); absent when membership comes from elsewhere (Kubernetes). */
  announce?: (spiffeId: string, addresses: string[], notAfterMs: number) => void;
  /** One token per Announce, per stream. */
  announceLimiter: RateLimiter;
  clock: Clock;
  log: Logger;
  metrics: Pick<CaMetrics, 'meshStreams' | 'meshRefusals' | 'meshUpdates' | 'meshAcks'>;
}

/** A refusal of the mesh stream: its code, gRPC status and sentence. */
class MeshRefusal extends ZtmeshError {
  constructor(code: string, readonly grpcCode: grpc.status, message: string) {
    super(code, message);
  }
}

type Call = grpc.ServerDuplexStream<MeshRequest__Output, MeshUpdate>;

/** The service's handlers and a drain switch. */
export interface MeshService {
  handlers: MeshHandlers;
  /** Ends every stream (the sidecars reconnect to another replica) and refuses new ones. */
  drain(): void;
}

export function createMeshService(deps: MeshServiceDeps): MeshService {
  const throttle = new LogThrottle(deps.clock);
  // Kinds hand every stream on the same version and base the same update object: encode it once.
  const encoded = new WeakMap<TypedUpdate, Buffer>();
  const bytesOf = (u: TypedUpdate) => {
    let b = encoded.get(u);
    if (!b) {
      b = deps.encode(encodeUpdate(u));
      encoded.set(u, b);
    }
    return b;
  };
  const live = new Set<Call>();
  /** Streams held per connection (grpc-js names a connection by its peer address:port), subscribed or not. */
  const perConnection = new Map<string, number>();
  let draining = false;
  let streamIds = 0;

  const refuse = (peer: string, spiffeId: string | undefined, code: string, detail: string) => {
    deps.metrics.meshRefusals.inc({ code });
    const suppressed = throttle.admit();
    if (suppressed !== undefined) deps.log.warn({ peer, ...(spiffeId ? { spiffeId } : {}), code, detail, ...(suppressed ? { suppressed } : {}) }, 'mesh stream refusal');
  };

  const end = (call: Call, code: string, grpcCode: grpc.status, detail: string) => {
    if (call.cancelled || call.destroyed) return;
    call.emit('error', { code: grpcCode, details: `${code}: ${detail}` });
  };

  async function authenticate(call: Call): Promise<{ peer: MeshPeer; notAfterMs: number }> {
    const input = attestationInput(call as unknown as grpc.ServerWritableStream<unknown, unknown>, deps);
    // The stream takes no token: only the SVID proves who streams.
    delete input.bearerToken;
    const attestation = await deps.renewal.attest(input);
    if (!attestation) throw new AttestationError('no_credential', 'the mesh stream needs the sidecar\'s SVID as TLS client certificate');
    return { peer: { spiffeId: attestation.spiffeId, address: call.getPeer() }, notAfterMs: certNotAfterMs(input.peerChain![0]!) };
  }

  function serve(call: Call, peer: MeshPeer, notAfterMs: number): void {
    const address = call.getPeer();
    const held = perConnection.get(address) ?? 0;
    if (held >= MAX_STREAMS_PER_CONNECTION) {
      throw new MeshRefusal('mesh_stream_limit', grpc.status.RESOURCE_EXHAUSTED, `at most ${MAX_STREAMS_PER_CONNECTION} mesh streams per connection`);
    }
    perConnection.set(address, held + 1);
    const streamKey = `${peer.spiffeId} ${address} ${++streamIds}`;
    let stream: MeshStream | undefined;
    let record: StreamRecord | undefined;
    let unregister = () => {};
    let done = false;
    const timers: TimerHandle[] = [];
    const finish = () => {
      if (done) return;
      done = true;
      const n = (perConnection.get(address) ?? 1) - 1;
      if (n > 0) perConnection.set(address, n);
      else perConnection.delete(address);
      for (const t of timers) t.cancel();
      stream?.close();
      unregister();
      live.delete(call);
      deps.metrics.meshStreams.set(deps.registry.size);
    };
    const fail = (code: string, grpcCode: grpc.status, detail: string) => {
      refuse(address, peer.spiffeId, code, detail);
      end(call, code, grpcCode, detail);
      finish();
    };
    timers.push(deps.clock.setTimeout(() => {
      if (!stream) fail('subscribe_timeout', grpc.status.DEADLINE_EXCEEDED, `no Subscribe within ${SUBSCRIBE_TIMEOUT_MS / 1000} s`);
    }, SUBSCRIBE_TIMEOUT_MS));
    // The peer's certificate ends, and with it what proved who streams: the sidecar reconnects with its new one.
    timers.push(deps.clock.setTimeout(() => {
      end(call, 'peer_cert_expired', grpc.status.UNAUTHENTICATED, 'the client certificate of this stream has expired; reconnect with the current one');
      finish();
    }, Math.max(0, notAfterMs - deps.clock.now())));

    const announce = (addresses: string[]) => {
      if (!deps.announce || addresses.length === 0) return;
      const checked = checkAnnounced(addresses);
      if (!checked.ok) return refuse(address, peer.spiffeId, checked.refusal.code, checked.refusal.detail);
      try {
        deps.announceLimiter.take(streamKey);
      } catch (e) {
        return refuse(address, peer.spiffeId, 'announce_rate_limited', (e as Error).message);
      }
      if (record) record.announced = checked.value;
      deps.announce(peer.spiffeId, checked.value, notAfterMs);
    };

    const onRequest = (r: MeshRequest) => {
      if (r.type === 'subscribe') {
        if (stream) return fail('subscribed_twice', grpc.status.FAILED_PRECONDITION, 'Subscribe may come only once per stream');
        const kinds = new Set(r.kinds.filter(isKnownKind));
        stream = new MeshStream({
          peer, clock: deps.clock, sources: deps.sources.filter((s) => kinds.has(s.kind)),
          write: (u) => { if (!done) call.write(bytesOf(u) as unknown as MeshUpdate); },
          end: (code, detail) => fail(code, grpc.status.DEADLINE_EXCEEDED, detail),
          onSent: (kind, snapshot) => deps.metrics.meshUpdates.inc({ kind, type: snapshot ? 'snapshot' : 'delta' }),
          onAck: (kind, applied) => deps.metrics.meshAcks.inc({ kind, result: applied ? 'applied' : 'refused' }),
        });
        const s = stream;
        record = { peer, sidecarVersion: r.sidecarVersion, sinceMs: deps.clock.now(), announced: [], kinds: () => s.kinds() };
        unregister = deps.registry.add(record);
        deps.metrics.meshStreams.set(deps.registry.size);
        deps.log.debug({ peer: address, spiffeId: peer.spiffeId, kinds: [...kinds], sidecarVersion: r.sidecarVersion }, 'mesh stream subscribed');
        announce(r.addresses);
        stream.start();
        return;
      }
      if (!stream) return fail('not_subscribed', grpc.status.FAILED_PRECONDITION, `a ${r.type} before Subscribe`);
      if (r.type === 'ack') {
        const stray = stream.ack(r);
        if (stray) refuse(address, peer.spiffeId, stray, `ack of ${r.kind.slice(0, 40)} version ${r.version.slice(0, 80)}, which is not in flight`);
        else if (!r.applied) deps.log.warn({ peer: address, spiffeId: peer.spiffeId, kind: r.kind, version: r.version, code: r.errorCode, detail: r.errorDetail.slice(0, 300) }, 'mesh update refused by the sidecar');
        return;
      }
      announce(r.addresses);
    };

    call.on('data', (msg: MeshRequest__Output) => {
      if (done) return;
      const undecodable = undecodableReason(msg);
      const decoded = undecodable !== undefined ? { ok: false as const, refusal: { code: 'malformed_request', detail: undecodable } } : decodeRequest(msg);
      if (!decoded.ok) return fail(decoded.refusal.code, grpc.status.INVALID_ARGUMENT, decoded.refusal.detail);
      onRequest(decoded.value);
    });
    call.on('end', () => {
      if (!done) call.end();
      finish();
    });
    call.on('cancelled', finish);
    call.on('close', finish);
    call.on('error', finish);
  }

  const handlers: MeshHandlers = {
    Stream(call: Call) {
      const address = call.getPeer();
      if (draining) return end(call, 'draining', grpc.status.UNAVAILABLE, 'the CA is shutting down; reconnect to another replica');
      live.add(call);
      call.on('close', () => live.delete(call));
      authenticate(call).then(
        ({ peer, notAfterMs }) => {
          if (call.cancelled || call.destroyed) return;
          try {
            serve(call, peer, notAfterMs);
          } catch (e) {
            const r = e as MeshRefusal;
            refuse(address, peer.spiffeId, r.code, r.message);
            end(call, r.code, r.grpcCode, r.message);
          }
        },
        (e: unknown) => {
          const f = e instanceof MeshRefusal ? { code: e.code, grpcCode: e.grpcCode, message: e.message }
            : e instanceof AttestationError || e instanceof PolicyError ? toCallFailure(e)
              : { code: 'internal', grpcCode: grpc.status.INTERNAL, message: describeError(e).message };
          refuse(address, undefined, f.code, f.message);
          end(call, f.code, f.grpcCode, failureDetails(f).slice(f.code.length + 2));
          live.delete(call);
        },
      );
    },
  };

  return {
    handlers,
    drain() {
      draining = true;
      for (const call of [...live]) {
        end(call, 'draining', grpc.status.UNAVAILABLE, 'the CA is shutting down; reconnect to another replica');
      }
      live.clear();
    },
  };
}
