// The gRPC CA client against an in-process TLS gRPC server on 127.0.0.1:0: CA verified by SPIFFE ID, token re-read
// on every use, SVID as client certificate for renewals, failover in address order, gRPC status → stable code.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCaProto } from '../../../src/common/ca-proto.js';
import { silentLogger } from '../../../src/common/logger.js';
import { caSpiffeId } from '../../../src/common/mesh.js';
import { fromGrpcError, GrpcCaClient } from '../../../src/identity/ca-client.js';
import { makeTrustBundle } from '../../../src/identity/credentials.js';
import { buildSvid } from '../../../src/identity/svid-material.js';
import { buildCsr, generateKeySync, issueSvid, parseAndVerifyCsr } from '../../../src/pki/index.js';
import { makeCa, makeLeaf, type TestCa } from '../../helpers/pki.js';
import { tempDir } from '../../helpers/temp-dir.js';

const TD = 'example.org';
const WEB = `spiffe://${TD}/ns/default/sa/web`;

interface Seen { authorization?: string; peerCert: boolean }

async function startFakeCa(ca: TestCa, servingId: string, reply: (seen: Seen) => grpc.StatusObject | null, requireClientCert = false) {
  const seen: Seen[] = [];
  const server = new grpc.Server();
  const { proto } = loadCaProto();
  server.addService(proto.ztmesh.ca.v1.CertificateAuthority.service, {
    SignCertificate(call: grpc.ServerUnaryCall<{ csr: Buffer; ttlSeconds: number }, unknown>, cb: grpc.sendUnaryData<unknown>) {
      const s: Seen = { peerCert: !!call.getAuthContext()?.sslPeerCertificate };
      const auth = call.metadata.get('authorization')[0];
      if (auth) s.authorization = String(auth);
      seen.push(s);
      const err = reply(s);
      if (err) return cb(err as grpc.ServiceError);
      const csr = parseAndVerifyCsr(call.request.csr);
      const issued = issueSvid({ spki: csr.spki, spiffeId: WEB, nowMs: Date.now(), ttlMs: call.request.ttlSeconds * 1000 }, ca.issuer);
      cb(null, { certChain: [issued.der], trustBundle: { trustDomain: TD, roots: [ca.certDer], sequence: 7 } });
    },
    WatchTrustBundle(call: grpc.ServerWritableStream<unknown, unknown>) {
      call.write({ trustDomain: TD, roots: [ca.certDer], sequence: 3 });
    },
  });
  const leaf = makeLeaf(ca, servingId);
  const creds = grpc.ServerCredentials.createSsl(Buffer.from(ca.certPem), [{ private_key: Buffer.from(leaf.keyPem), cert_chain: Buffer.from(leaf.certPem) }], requireClientCert);
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', creds, (e, p) => (e ? rej(e) : res(p))));
  return { address: `127.0.0.1:${port}`, seen, close: () => server.forceShutdown() };
}

describe('GrpcCaClient', () => {
  const dir = tempDir('ztmesh-caclient-');
  const tokenFile = join(dir, 'token');
  const ca = makeCa(TD);
  const bundle = makeTrustBundle(TD, [ca.certDer], 0);
  let good: Awaited<ReturnType<typeof startFakeCa>>;
  let impostor: Awaited<ReturnType<typeof startFakeCa>>;
  let refusing: Awaited<ReturnType<typeof startFakeCa>>;
  let mtls: Awaited<ReturnType<typeof startFakeCa>>;
  let dead: string;
  const client = (addresses: string[]) => new GrpcCaClient({ addresses, trustDomain: TD, tokenFile, log: silentLogger(), deadlineMs: 5_000 });
  const token = { method: 'token', roots: bundle } as const;
  const csr = () => {
    const key = generateKeySync();
    return { key, csr: buildCsr(key) };
  };

  beforeAll(async () => {
    good = await startFakeCa(ca, caSpiffeId(TD), () => null);
    impostor = await startFakeCa(ca, `spiffe://${TD}/ns/default/sa/not-the-ca`, () => null);
    refusing = await startFakeCa(ca, caSpiffeId(TD), () => ({ code: grpc.status.UNAUTHENTICATED, details: 'unknown token' } as grpc.StatusObject));
    mtls = await startFakeCa(ca, caSpiffeId(TD), () => null, true);
    const probe = await startFakeCa(ca, caSpiffeId(TD), () => null);
    dead = probe.address;
    probe.close();
  });
  afterAll(() => {
    for (const s of [good, impostor, refusing, mtls]) s?.close();
  });

  it('signs with the token read from the file on every call', async () => {
    writeFileSync(tokenFile, 'first-token\n');
    const c = client([good.address]);
    const r = await c.sign(csr().csr, 600, token);
    expect(r.chainDer).toHaveLength(1);
    expect(r.bundle).toEqual({ trustDomain: TD, rootsDer: [ca.certDer], sequence: 7 });
    expect(r.address).toBe(good.address);
    expect(r.method).toBe('k8s_token'); // not a join token (ztjt_…): a Kubernetes one
    writeFileSync(tokenFile, 'second-token\n');
    await c.sign(csr().csr, 600, token);
    expect(good.seen.slice(-2).map((s) => s.authorization)).toEqual(['Bearer first-token', 'Bearer second-token']);
    expect(good.seen.at(-1)!.peerCert).toBe(false);
  });

  it('renews with the SVID as client certificate and no token', async () => {
    writeFileSync(tokenFile, 'first-token\n');
    const c = client([good.address]);
    const { key, csr: der } = csr();
    const r = await c.sign(der, 600, token);
    const svid = buildSvid({ key, chainDer: r.chainDer, bundle, trustDomain: TD, nowMs: Date.now() });
    // This CA requires a client certificate, so a signature proves the SVID was presented.
    expect((await client([mtls.address]).sign(csr().csr, 600, { method: 'svid', svid, roots: bundle })).method).toBe('renewal');
    expect(mtls.seen.at(-1)).toEqual({ peerCert: true });
    await expect(client([mtls.address]).sign(csr().csr, 600, token)).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('fails over to the next address when one does not answer', async () => {
    writeFileSync(tokenFile, 'tok\n');
    const r = await client([dead, good.address]).sign(csr().csr, 600, token);
    expect(r.address).toBe(good.address);
  });

  it('refuses a CA that does not present the CA SPIFFE ID', async () => {
    writeFileSync(tokenFile, 'tok\n');
    const before = impostor.seen.length;
    await expect(client([impostor.address]).sign(csr().csr, 600, token)).rejects.toMatchObject({ code: 'ca_identity_mismatch' });
    expect(impostor.seen.length).toBe(before);
  });

  it('names a CA whose certificate does not chain to the bundle ca_untrusted (reached, not trusted) and tries the next address', async () => {
    writeFileSync(tokenFile, 'tok\n');
    const foreign = { method: 'token', roots: makeTrustBundle(TD, [makeCa(TD).certDer], 0) } as const;
    const err = await client([good.address]).sign(csr().csr, 600, foreign).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ca_untrusted', caCode: 'ca_untrusted', message: expect.stringMatching(/certificate/) });
    const r = await client([good.address, mtls.address]).sign(csr().csr, 600, foreign).catch((e: unknown) => e);
    expect(r).toMatchObject({ code: 'ca_untrusted', message: expect.stringContaining(mtls.address) });
  });

  it('maps a refusal to its stable code and does not fail over on it', async () => {
    writeFileSync(tokenFile, 'tok\n');
    const before = good.seen.length;
    await expect(client([refusing.address, good.address]).sign(csr().csr, 600, token)).rejects.toMatchObject({ code: 'unauthenticated' });
    expect(good.seen.length).toBe(before);
  });

  it('reports an unreadable token file without reading anything else', async () => {
    const c = new GrpcCaClient({ addresses: [good.address], trustDomain: TD, tokenFile: join(dir, 'missing'), log: silentLogger() });
    await expect(c.sign(csr().csr, 600, token)).rejects.toMatchObject({ code: 'token_unreadable' });
  });

  it('streams the trust bundle', async () => {
    const got = await new Promise<number>((resolve, reject) => {
      const h = client([dead, good.address]).watchBundle({
        onBundle: (b) => { h.cancel(); resolve(b.sequence); },
        onClose: (e) => reject(e),
      }, { roots: bundle });
    });
    expect(got).toBe(3);
  });

  it.each([
    [grpc.status.UNAUTHENTICATED, 'unauthenticated'],
    [grpc.status.PERMISSION_DENIED, 'permission_denied'],
    [grpc.status.INVALID_ARGUMENT, 'invalid_argument'],
    [grpc.status.RESOURCE_EXHAUSTED, 'resource_exhausted'],
    [grpc.status.UNAVAILABLE, 'unavailable'],
    [grpc.status.DEADLINE_EXCEEDED, 'deadline_exceeded'],
    [grpc.status.INTERNAL, 'internal'],
  ])('maps gRPC status %d to %s', (code, expected) => {
    const e = fromGrpcError(Object.assign(new Error('x'), { code, details: 'why', metadata: new grpc.Metadata() }) as grpc.ServiceError, '127.0.0.1:1');
    expect(e.code).toBe(expected);
    expect(e.message).toBe('CA 127.0.0.1:1: why');
  });
});

describe('errors we wrap from grpc-js', () => {
  it('keeps the CA\'s own code of a refusal', () => {
    const e = fromGrpcError(Object.assign(new Error('x'), { code: grpc.status.PERMISSION_DENIED, details: 'identity_mismatch: CSR asks for a', metadata: new grpc.Metadata() }) as grpc.ServiceError, 'h:1');
    expect(e).toMatchObject({ code: 'permission_denied', caCode: 'identity_mismatch', message: 'CA h:1: identity_mismatch: CSR asks for a' });
  });
});
