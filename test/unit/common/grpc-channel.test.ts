// The error text of a failed gRPC call: what grpc-js says, reduced to the part an operator can act on, and never
// "undefined" where the reason belongs (it says so when a proxy from the environment refused the connection).
import { describe, expect, it } from 'vitest';
import { cleanGrpcDetails, NO_REASON } from '../../../src/common/grpc-channel.js';

describe('cleanGrpcDetails', () => {
  it.each([
    ['No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: ', 'connect ECONNREFUSED 127.0.0.1:1'],
    ['No connection established. Last error: Error: ca_identity_mismatch: the CA presented x, expected y. Resolution note: ', 'ca_identity_mismatch: the CA presented x, expected y'],
    ['No connection established. Last error: connect ETIMEDOUT. Resolution note: DNS said so', 'connect ETIMEDOUT (DNS said so)'],
    ['No connection established. Last error: undefined. Resolution note: ', NO_REASON],
    ['No connection established. Last error: . Resolution note: ', NO_REASON],
    ['', NO_REASON],
    ['Name resolution failed for target dns:ca.example.org:15012', 'cannot resolve ca.example.org:15012'],
    ['unknown_token: join token is not known', 'unknown_token: join token is not known'],
  ])('%j → %j', (details, clean) => expect(cleanGrpcDetails(details)).toBe(clean));
});
