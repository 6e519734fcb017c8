// The one place where Workload API failures become gRPC status codes (docs/workload-api.md "Refusals"): the codes
// SPIFFE clients act on (Unavailable is retried; InvalidArgument and PermissionDenied are not).
import { status } from '@grpc/grpc-js';
import { WorkloadApiError, describe } from '../common/errors.js';

/** Stable Workload API codes and their gRPC status. */
export const WORKLOAD_API_CODES = {
  missing_security_header: status.INVALID_ARGUMENT,
  invalid_request: status.INVALID_ARGUMENT,
  jwt_invalid: status.INVALID_ARGUMENT,
  caller_not_admitted: status.PERMISSION_DENIED,
  not_entitled: status.PERMISSION_DENIED,
  no_svid: status.UNAVAILABLE,
  ca_unavailable: status.UNAVAILABLE,
  draining: status.UNAVAILABLE,
  too_many_calls: status.RESOURCE_EXHAUSTED,
  unimplemented: status.UNIMPLEMENTED,
} as const satisfies Record<string, status>;

export type WorkloadApiCode = keyof typeof WORKLOAD_API_CODES;

/** A refusal as the wire and the log see it. */
export interface WorkloadApiFailure {
  grpcCode: status;
  code: string;
  message: string;
}

/** Maps any thrown value to a status; an unknown error is INTERNAL with a generic message. */
export function toWorkloadApiFailure(err: unknown): WorkloadApiFailure {
  if (err instanceof WorkloadApiError && err.code in WORKLOAD_API_CODES) {
    return { grpcCode: WORKLOAD_API_CODES[err.code as WorkloadApiCode], code: err.code, message: err.message };
  }
  return { grpcCode: status.INTERNAL, code: 'internal', message: `internal error (${describe(err).code})` };
}
