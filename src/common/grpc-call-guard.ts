// Refusals that grpc-js makes before a handler runs (an oversized message, a request that does not decode) get a
// stable code, a log line naming the peer and a metric, like every refusal the handlers make themselves (the CA's
// gRPC service and the sidecar's Workload API).
import * as grpc from '@grpc/grpc-js';

/** Marks a request message that did not decode; the handler refuses it with INVALID_ARGUMENT. */
export const UNDECODABLE = Symbol('undecodable request');

/** What the decoder hands the handler instead of a message it could not decode. */
export interface UndecodableRequest {
  [UNDECODABLE]: string;
}

/** The decoder's reason when `request` did not decode, else undefined. */
export function undecodableReason(request: unknown): string | undefined {
  return request !== null && typeof request === 'object' && UNDECODABLE in request ? (request as UndecodableRequest)[UNDECODABLE] : undefined;
}

/**
 * A copy of `service` whose request decoders never throw. grpc-js answers a decoder error with INTERNAL; protobufjs
 * throws, for example, on a uint32 field sent as a 6-byte varint (ttl_seconds = 2^40). The handler sees a marker
 * instead and refuses with INVALID_ARGUMENT.
 */
export function tolerantDecoders<S extends grpc.ServiceDefinition>(service: S): S {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, def] of Object.entries(service) as [string, grpc.MethodDefinition<unknown, unknown>][]) {
    out[name] = {
      ...def,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return def.requestDeserialize(bytes);
        } catch (e) {
          return { [UNDECODABLE]: String((e as Error)?.message ?? e).slice(0, 200) } satisfies UndecodableRequest;
        }
      },
    };
  }
  return out as S;
}

/** A status grpc-js sent by itself, as the refusal log and metrics see it. */
export interface TransportRefusal {
  /** Full method path, e.g. /ztmesh.ca.v1.CertificateAuthority/SignCertificate. */
  method: string;
  peer: string;
  /** Stable code: message_too_large, unsupported_encoding, deadline_exceeded, malformed_call. */
  code: string;
  grpcCode: grpc.status;
  details: string;
}

/** The stable code of a status grpc-js sends without a handler. Pure. */
export function transportRefusalCode(status: { code: grpc.status; details?: string }): string {
  const details = status.details ?? '';
  if (status.code === grpc.status.RESOURCE_EXHAUSTED && /larger than/i.test(details)) return 'message_too_large';
  if (status.code === grpc.status.UNIMPLEMENTED && /compress/i.test(details)) return 'unsupported_encoding';
  if (status.code === grpc.status.DEADLINE_EXCEEDED) return 'deadline_exceeded';
  return 'malformed_call';
}

/**
 * A server interceptor that reports every status grpc-js sends on its own. It must be the first interceptor: the call
 * it wraps is then grpc-js's base call, whose own refusals (e.g. a length prefix above grpc.max_receive_message_length,
 * checked before the message is buffered) go through its sendStatus; statuses from handlers pass through this
 * interceptor's responder first and are not reported twice.
 */
export function transportRefusalInterceptor(report: (r: TransportRefusal) => void): grpc.ServerInterceptor {
  return (method, call) => {
    let fromHandler = false;
    let reported = false;
    const send = call.sendStatus.bind(call);
    call.sendStatus = (status) => {
      if (!fromHandler && !reported && status.code !== grpc.status.OK && status.code !== undefined) {
        reported = true;
        const full = { code: status.code, details: status.details ?? '' };
        report({ method: method.path, peer: call.getPeer(), code: transportRefusalCode(full), grpcCode: full.code, details: full.details.slice(0, 200) });
      }
      send(status);
    };
    return new grpc.ServerInterceptingCall(call, {
      sendStatus(status, next) {
        fromHandler = true;
        next(status);
      },
    });
  };
}
