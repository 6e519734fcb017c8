// An upstream presenting a CA=true certificate that chains to the bundle and carries exactly the expected ID is
// refused with invalid_svid: the app connection is reset and nothing it wrote is sent. The same upstream with a
// proper SVID is served. The upstream is a real `openssl s_server`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, connect, makeCa, makeLeaf, metric, outboundConfig, portOf, readAllOrReset, sidecarShared, TD, TestIdentity, WEB } from '../helpers/datapath.js';
import { makeOddLeaf } from '../helpers/odd-leaf.js';
import { OPENSSL_MISSING, PemDir, sServer, type SServer } from '../helpers/openssl.js';
import { startOutbound } from '../../src/sidecar/listeners.js';

describe.skipIf(OPENSSL_MISSING)('outbound refuses an upstream whose certificate is not a leaf SVID', () => {
  const ca = makeCa(TD);
  const pem = new PemDir();
  const web = sidecarShared(new TestIdentity(ca, WEB));
  const servers: SServer[] = [];
  let odd: SServer;
  let proper: SServer;
  beforeAll(async () => {
    const caLeaf = await makeOddLeaf(ca, { uris: [API], isCa: true, keyUsage: 0x01 | 0x20 });
    odd = await sServer({ cert: pem.leaf(caLeaf, 'ca-true') });
    proper = await sServer({ cert: pem.leaf(makeLeaf(ca, API), 'api') });
    servers.push(odd, proper);
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    web.contexts.close();
    pem.remove();
  });

  async function outboundTo(port: number) {
    return startOutbound(outboundConfig({ upstream: `127.0.0.1:${port}`, expect: API }), web);
  }

  it('resets the app connection with invalid_svid, naming the upstream ID, and sends nothing', async () => {
    const out = await outboundTo(odd.port);
    try {
      const s = await connect(portOf(out.address));
      // The first thing the app sees: a reset, not the upstream's answer (s_server -rev would send one).
      const first = new Promise<{ data?: Buffer; error?: NodeJS.ErrnoException }>((resolve) => {
        s.once('data', (data: Buffer) => resolve({ data }));
        s.once('error', (error: NodeJS.ErrnoException) => resolve({ error }));
        s.once('close', () => resolve({}));
      });
      s.write('secret request\n');
      const { data, error } = await first;
      expect(data?.toString()).toBeUndefined();
      expect(error?.code).toBe('ECONNRESET');
      const line = await web.logs.waitFor((l) => l.msg === 'connection refused');
      expect(line).toMatchObject({ level: 'warn', direction: 'outbound', reason: 'invalid_svid', peerId: API });
      expect(String(line.detail)).toContain('not_a_leaf');
      expect(String(line.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(await metric(web.registry, 'ztmesh_handshake_failures_total', { direction: 'outbound', reason: 'invalid_svid' })).toBe(1);
      expect(odd.proc.output()).not.toContain('secret');
    } finally {
      await out.stopAccepting();
      out.handler.destroyAll();
    }
  });

  it('serves the same expectation when the upstream holds a proper SVID', async () => {
    const out = await outboundTo(proper.port);
    try {
      const s = await connect(portOf(out.address));
      const r = readAllOrReset(s);
      s.write('olleh\n');
      await new Promise<void>((resolve) => s.once('data', () => resolve()));
      s.destroy();
      expect((await r).data.toString()).toContain('hello');
      expect(web.logs.refusals()).toHaveLength(1);
    } finally {
      await out.stopAccepting();
      out.handler.destroyAll();
    }
  });
});
