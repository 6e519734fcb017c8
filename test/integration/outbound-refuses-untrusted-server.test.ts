// Outbound refuses an upstream whose certificate does not chain to our bundle (untrusted_chain), even when it
// claims the expected SPIFFE ID; the app connection is reset and the upstream receives no application bytes.
import tls from 'node:tls';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, connect, makeCa, makeLeaf, metric, outboundConfig, portOf, readAllOrReset, sidecarShared, TestIdentity, WEB } from '../helpers/datapath.js';
import { startOutbound } from '../../src/sidecar/listeners.js';

describe('outbound refuses an untrusted server', () => {
  const received: Buffer[] = [];
  let impostor: tls.Server;
  let shared: ReturnType<typeof sidecarShared>;
  let outbound: Awaited<ReturnType<typeof startOutbound>>;
  beforeAll(async () => {
    const foreign = makeCa('cluster.local');
    const leaf = makeLeaf(foreign, API);
    impostor = tls.createServer({ key: leaf.keyPem, cert: leaf.certPem, minVersion: 'TLSv1.3' }, (t) => t.on('data', (d: Buffer) => received.push(d)));
    impostor.on('tlsClientError', () => {});
    await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r));
    shared = sidecarShared(new TestIdentity(makeCa(), WEB));
    outbound = await startOutbound(outboundConfig({ upstream: `127.0.0.1:${(impostor.address() as net.AddressInfo).port}`, expect: API }), shared);
  });
  afterAll(async () => { await outbound.stopAccepting(); outbound.handler.destroyAll(); impostor.close(); });

  it('refuses with untrusted_chain', async () => {
    const s = await connect(portOf(outbound.address));
    s.write('secret');
    const { data, error } = await readAllOrReset(s);
    expect(data.length).toBe(0);
    expect(error?.code).toBe('ECONNRESET');
    const line = await shared.logs.waitFor((l) => l.msg === 'connection refused');
    expect(line).toMatchObject({ level: 'warn', direction: 'outbound', reason: 'untrusted_chain' });
    expect(await metric(shared.registry, 'ztmesh_handshake_failures_total', { direction: 'outbound', reason: 'untrusted_chain' })).toBe(1);
    expect(Buffer.concat(received).length).toBe(0);
  });
});
