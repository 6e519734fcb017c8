// Refusals grpc-js makes before a handler: stable codes for its statuses, and decoders that never throw.
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { tolerantDecoders, transportRefusalCode, undecodableReason } from '../../../src/common/grpc-call-guard.js';
import { loadCaProto } from '../../../src/common/ca-proto.js';

describe('transportRefusalCode', () => {
  it.each([
    [grpc.status.RESOURCE_EXHAUSTED, 'Received message larger than max (4194304 vs 65536)', 'message_too_large'],
    [grpc.status.RESOURCE_EXHAUSTED, 'Received message that decompresses to a size larger than 65536', 'message_too_large'],
    [grpc.status.UNIMPLEMENTED, 'Received message compressed with unsupported encoding "br"', 'unsupported_encoding'],
    [grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded', 'deadline_exceeded'],
    [grpc.status.INTERNAL, 'Invalid grpc-timeout value "x"', 'malformed_call'],
  ])('%i %s → %s', (code, details, expected) => {
    expect(transportRefusalCode({ code, details })).toBe(expected);
  });
});

describe('tolerantDecoders', () => {
  const service = tolerantDecoders(loadCaProto().proto.ztmesh.ca.v1.CertificateAuthority.service);
  const decode = service.SignCertificate!.requestDeserialize;

  it('decodes a good request as before', () => {
    const bytes = service.SignCertificate!.requestSerialize({ csr: Buffer.from('abc'), ttlSeconds: 60 });
    const req = decode(bytes) as { csr: Buffer; ttlSeconds: number };
    expect(req.ttlSeconds).toBe(60);
    expect(undecodableReason(req)).toBeUndefined();
  });

  it('turns a decoder error into a marker the handler refuses, instead of throwing', () => {
    const req = decode(Buffer.from([0x0a, 0x03, 0x61, 0x62, 0x63, 0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20])); // ttl = 2^40
    expect(undecodableReason(req)).toMatch(/index out of range|invalid/i);
  });
});
