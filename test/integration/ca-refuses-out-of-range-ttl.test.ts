// ttl_seconds is a uint32. Whatever a client puts on the wire there, the CA clamps it into [--min-ttl, --max-ttl] or
// refuses the request with INVALID_ARGUMENT (code malformed_request, one log line naming the peer, counted): never
// INTERNAL. 2^40 as a 6-byte varint used to make protobufjs throw inside grpc-js, which answered INTERNAL.
import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStillServing, makeCsr, refusalLogged, startCa, type TestCaServer } from '../helpers/ca.js';

const MAX_TTL_S = 3_600;
let ca: TestCaServer;
beforeAll(async () => { ca = await startCa({ args: ['--max-ttl', `${MAX_TTL_S}s`, '--default-ttl', '10m'] }); });
afterAll(async () => { await ca?.stop(); });

const varint = (n: bigint): Buffer => {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v ? b | 0x80 : b);
  } while (v);
  return Buffer.from(out);
};
const csrField = (csr: Buffer) => Buffer.concat([Buffer.from([0x0a]), varint(BigInt(csr.length)), csr]);
const ttlField = (ttl: bigint) => Buffer.concat([Buffer.from([0x10]), varint(ttl)]);

/** SignCertificate with hand-made request bytes; resolves with the leaf or the gRPC error. */
function rawSign(body: Buffer, token: string): Promise<{ leaf?: X509Certificate; err?: grpc.ServiceError }> {
  const client = ca.client() as unknown as grpc.Client;
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    client.makeUnaryRequest('/ztmesh.ca.v1.CertificateAuthority/SignCertificate', (b: Buffer) => b, (b: Buffer) => b, body, md,
      { deadline: Date.now() + 10_000 }, (err, res) => {
        if (err) return resolve({ err });
        // SignCertificateResponse: field 1 (cert_chain) first, the leaf DER.
        const lenStart = 1;
        let len = 0;
        let shift = 0;
        let i = lenStart;
        for (; ; i++) { len |= (res![i]! & 0x7f) << shift; shift += 7; if (!(res![i]! & 0x80)) break; }
        resolve({ leaf: new X509Certificate(res!.subarray(i + 1, i + 1 + len)) });
      });
  });
}

const id = `spiffe://example.org/ns/default/sa/ttl`;
/** Seconds from now to notAfter (notBefore is backdated for clock skew, so it says nothing about the TTL). */
const secondsLeft = (leaf: X509Certificate) => (Date.parse(leaf.validTo) - Date.now()) / 1000;

describe('ca and out-of-range ttl_seconds', () => {
  it('refuses ttl_seconds = 2^40 (a 6-byte varint) with INVALID_ARGUMENT malformed_request, in either field order', async () => {
    const token = await ca.mintToken(id);
    const { csr } = makeCsr(id);
    for (const body of [Buffer.concat([csrField(csr), ttlField(2n ** 40n)]), Buffer.concat([ttlField(2n ** 40n), csrField(csr)])]) {
      const { err } = await rawSign(body, token);
      expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    }
    const line = await refusalLogged(ca, 'malformed_request');
    expect(String(line.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
    const metrics = await (await fetch(`http://${ca.adminAddress}/metrics`)).text();
    expect(metrics).toMatch(/ztmesh_ca_sign_total\{result="malformed_request"\} [1-9]/);
    // The refusal did not use the token up.
    expect((await rawSign(csrField(csr), token)).leaf).toBeDefined();
  });

  it.each([
    ['2^32 - 1', 2n ** 32n - 1n, MAX_TTL_S],
    ['-1 as a 10-byte varint', -1n, MAX_TTL_S],
    ['2^64 - 1', 2n ** 64n - 1n, MAX_TTL_S],
    ['0 (the default)', 0n, 600],
  ])('clamps ttl_seconds = %s', async (_what, ttl, expected) => {
    const { csr } = makeCsr(id);
    const { leaf, err } = await rawSign(Buffer.concat([csrField(csr), ttlField(ttl)]), await ca.mintToken(id));
    expect(err).toBeUndefined();
    expect(Math.abs(secondsLeft(leaf!) - expected)).toBeLessThan(5);
  });

  it('refuses bytes that are no SignCertificateRequest at all with INVALID_ARGUMENT, and keeps serving', async () => {
    const { err } = await rawSign(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), await ca.mintToken(id));
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    await expectStillServing(ca);
  });
});
