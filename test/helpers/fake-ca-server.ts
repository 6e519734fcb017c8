// A stand-in CA that speaks the real ztmesh proto over real TLS with whatever serving certificate a test gives it,
// and answers with a bundle of the test's choosing: an impostor for tests of what clients accept from a CA.
import net from 'node:net';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { loadCaProto } from '../../src/common/ca-proto.js';
import { parseAndVerifyCsr, issueSvid } from '../../src/pki/index.js';
import type { TestCa, TestLeaf } from './pki.js';

export interface FakeCaServer {
  /** "127.0.0.1:PORT" */
  address: string;
  /** TCP connections clients opened to it. */
  connections: number;
  /** RPCs that reached the stand-in (a client that refused its identity makes none). */
  calls: { method: string; authorization?: string }[];
  close(): void;
}

/**
 * Serves SignCertificate (signs any CSR for `signedId` with `signer`) and WatchTrustBundle (sends `bundleRoots` and
 * `crossCerts` under `sequence`), presenting `serving` and verifying client certificates against `clientRootsPem`.
 */
export async function startFakeCaServer(opts: {
  serving: TestLeaf;
  clientRootsPem: string;
  trustDomain: string;
  signer: Pick<TestCa, 'issuer'>;
  signedId: string;
  bundleRoots: Buffer[];
  crossCerts?: Buffer[];
  sequence?: number;
}): Promise<FakeCaServer> {
  const fake: FakeCaServer = { address: '', connections: 0, calls: [], close: () => undefined };
  const bundle = { trustDomain: opts.trustDomain, roots: opts.bundleRoots, sequence: opts.sequence ?? 1_000_000, crossCertificates: opts.crossCerts ?? [] };
  const server = new grpc.Server();
  const { proto } = loadCaProto();
  server.addService(proto.ztmesh.ca.v1.CertificateAuthority.service, {
    SignCertificate(call: grpc.ServerUnaryCall<{ csr: Buffer }, unknown>, cb: grpc.sendUnaryData<unknown>) {
      const auth = call.metadata.get('authorization')[0];
      fake.calls.push({ method: 'SignCertificate', ...(auth ? { authorization: String(auth) } : {}) });
      const csr = parseAndVerifyCsr(call.request.csr);
      const issued = issueSvid({ spki: csr.spki, spiffeId: opts.signedId, nowMs: Date.now(), ttlMs: 3_600_000 }, opts.signer.issuer);
      cb(null, { certChain: [issued.der], trustBundle: bundle });
    },
    WatchTrustBundle(call: grpc.ServerWritableStream<unknown, unknown>) {
      fake.calls.push({ method: 'WatchTrustBundle' });
      call.write(bundle);
    },
  });
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const tlsServer = tls.createServer({
    cert: opts.serving.certPem, key: opts.serving.keyPem, ca: opts.clientRootsPem, requestCert: true, rejectUnauthorized: false, ALPNProtocols: ['h2'],
  }, (socket) => injector.injectConnection(socket));
  tlsServer.on('connection', () => { fake.connections++; });
  tlsServer.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  fake.address = `127.0.0.1:${(tlsServer.address() as net.AddressInfo).port}`;
  fake.close = () => {
    injector.destroy();
    server.forceShutdown();
    tlsServer.close();
  };
  return fake;
}
