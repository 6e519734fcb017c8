// The one error → gRPC status mapping (docs/design.md "CA gRPC").
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { toCallFailure } from '../../../../src/ca/serving/grpc-status.js';
import { AttestationError, PkiError, PolicyError, ZtmeshError } from '../../../../src/common/errors.js';

describe('toCallFailure', () => {
  it.each([
    [new AttestationError('no_credential', 'x'), status.UNAUTHENTICATED],
    [new AttestationError('unknown_token', 'x'), status.UNAUTHENTICATED],
    [new AttestationError('token_expired', 'x'), status.UNAUTHENTICATED],
    [new AttestationError('renewal_cert_expired', 'x'), status.UNAUTHENTICATED],
    [new AttestationError('token_reused', 'x'), status.PERMISSION_DENIED],
    [new AttestationError('upstream_unavailable', 'x'), status.UNAVAILABLE],
    [new AttestationError('tokenreview_unavailable', 'x'), status.UNAVAILABLE],
    [new PolicyError('identity_mismatch', 'x'), status.PERMISSION_DENIED],
    [new PolicyError('rate_limited', 'x'), status.RESOURCE_EXHAUSTED],
    [new PolicyError('bad_ttl', 'x'), status.INVALID_ARGUMENT],
    [new PolicyError('malformed_request', 'x'), status.INVALID_ARGUMENT],
    [new PolicyError('reserved_identity', 'x'), status.PERMISSION_DENIED],
    [new PkiError('malformed_csr', 'x'), status.INVALID_ARGUMENT],
    [new PkiError('bad_csr_signature', 'x'), status.INVALID_ARGUMENT],
    [new PkiError('weak_key', 'x'), status.INVALID_ARGUMENT],
    [new PkiError('issuer_expired', 'x'), status.UNAVAILABLE],
    [new ZtmeshError('draining', 'x'), status.UNAVAILABLE],
  ])('%s → %s', (err, code) => {
    expect(toCallFailure(err)).toEqual({ grpcCode: code, code: err.code, message: 'x' });
  });

  it('hides unknown errors behind INTERNAL', () => {
    expect(toCallFailure(new Error('secret detail'))).toEqual({ grpcCode: status.INTERNAL, code: 'internal', message: 'internal error' });
  });
});
