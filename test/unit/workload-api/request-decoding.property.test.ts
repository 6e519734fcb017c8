// The Workload API's request decoding, fuzzed: for any bytes, every method's decoder returns a request or the
// undecodable marker (grpc-js would answer INTERNAL to a throw), the audience rules refuse only with PolicyError, and
// ValidateJWTSVID refuses any string that is not a valid token with `jwt_invalid`, never anything else.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PolicyError, WorkloadApiError } from '../../../src/common/errors.js';
import { tolerantDecoders, undecodableReason } from '../../../src/common/grpc-call-guard.js';
import { checkAudiences } from '../../../src/pki/jwt-svid.js';
import { loadWorkloadApiProto } from '../../../src/workload-api/proto.js';
import { validateJwtSvid } from '../../../src/workload-api/jwt-validate.js';

const service = tolerantDecoders(loadWorkloadApiProto().SpiffeWorkloadAPI.service);
const bundle = { trustDomain: 'example.org', authorities: [], sequence: 1 };

describe('Workload API request decoding (fast-check)', () => {
  it('every method decodes any bytes to a request or the undecodable marker', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
      for (const def of Object.values(service)) {
        const req = def.requestDeserialize(Buffer.from(bytes));
        expect(req !== null && typeof req === 'object').toBe(true);
      }
    }), { numRuns: 2000 });
    expect(undecodableReason(service.FetchJWTSVID!.requestDeserialize(Buffer.from([0xff])))).toMatch(/index out of range/);
  });

  it('a decoded FetchJWTSVID request passes the audience rules or is refused with PolicyError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      const req = service.FetchJWTSVID!.requestDeserialize(Buffer.from(bytes)) as { audience?: string[] };
      if (undecodableReason(req) !== undefined) return;
      try {
        const audiences = checkAudiences(req.audience!);
        expect(audiences.length).toBeGreaterThan(0);
      } catch (e) {
        expect(e).toBeInstanceOf(PolicyError);
      }
    }), { numRuns: 2000 });
  });

  it('ValidateJWTSVID refuses any string that is no valid token with jwt_invalid', async () => {
    const jwtish = fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map((p) => p.join('.'));
    await fc.assert(fc.asyncProperty(fc.oneof(fc.string(), jwtish, fc.string({ unit: 'binary' })), async (token) => {
      await expect(validateJwtSvid(token, 'db', bundle, Date.now())).rejects.toSatisfy((e: unknown) => e instanceof WorkloadApiError && e.code === 'jwt_invalid');
    }), { numRuns: 500 });
  });
});
