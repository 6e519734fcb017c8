// The one place where ztmesh errors become gRPC status codes (docs/design.md "CA gRPC").
import { status } from '@grpc/grpc-js';
import { AttestationError, PkiError, PolicyError, ZtmeshError } from '../../common/errors.js';

/** A refusal as the wire and the logs see it. */
export interface CallFailure {
  grpcCode: status;
  /** The stable ztmesh code, also the `result` label of ztmesh_ca_sign_total. */
  code: string;
  message: string;
}

/** The status details a caller sees: the stable code first, so a client can show and match it ("identity_mismatch: …"). */
export function failureDetails(f: CallFailure): string {
  return `${f.code}: ${f.message}`;
}

/** Attestation codes that mean "you may be right, but I cannot check now": the caller should retry. */
function isUpstreamFailure(code: string): boolean {
  return code === 'upstream_unavailable' || code.endsWith('_unavailable');
}

/** Maps any thrown value to a gRPC status. Unknown errors become INTERNAL with a generic message. */
export function toCallFailure(err: unknown): CallFailure {
  if (err instanceof AttestationError) {
    if (err.code === 'token_reused') return { grpcCode: status.PERMISSION_DENIED, code: err.code, message: err.message };
    if (isUpstreamFailure(err.code)) return { grpcCode: status.UNAVAILABLE, code: err.code, message: err.message };
    return { grpcCode: status.UNAUTHENTICATED, code: err.code, message: err.message };
  }
  if (err instanceof PolicyError) {
    if (err.code === 'rate_limited') return { grpcCode: status.RESOURCE_EXHAUSTED, code: err.code, message: err.message };
    if (err.code === 'bad_ttl' || err.code === 'malformed_request') return { grpcCode: status.INVALID_ARGUMENT, code: err.code, message: err.message };
    return { grpcCode: status.PERMISSION_DENIED, code: err.code, message: err.message };
  }
  if (err instanceof PkiError) {
    if (err.code === 'issuer_expired') return { grpcCode: status.UNAVAILABLE, code: err.code, message: err.message };
    return { grpcCode: status.INVALID_ARGUMENT, code: err.code, message: err.message };
  }
  if (err instanceof ZtmeshError && (err.code === 'draining' || err.code === 'signer_unavailable')) {
    return { grpcCode: status.UNAVAILABLE, code: err.code, message: err.message };
  }
  return { grpcCode: status.INTERNAL, code: 'internal', message: 'internal error' };
}
