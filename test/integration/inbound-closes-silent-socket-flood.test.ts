// 1,500 TCP clients that connect to an inbound from three addresses and send nothing are all closed by the sidecar
// within handshakeTimeout + 2 s, each refused with a reason (handshake_timeout, or handshake_limit when a bound
// made room), while a real mesh client connecting in the middle of the flood is served.
import tls from 'node:tls';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, echoApp, inboundConfig, makeCa, makeLeaf, metric, portOf, readAll, sidecarShared, TestIdentity, WEB } from '../helpers/datapath.js';
import { ensureFdLimit } from '../helpers/fd-limit.js';
import { captureClientHello, flood } from '../helpers/flood.js';
import { startInbound } from '../../src/sidecar/listeners.js';

const FLOOD = 1_500;
const HANDSHAKE_TIMEOUT_MS = 1_000;
const MARGIN_MS = 2_000;
const NO_FDS = ensureFdLimit(4 * FLOOD);
if (NO_FDS) console.warn(`skipping the silent-socket flood: ${NO_FDS}`);

describe.skipIf(NO_FDS)('inbound closes a flood of silent sockets', () => {
  const ca = makeCa();
  let app: Awaited<ReturnType<typeof echoApp>>;
  let shared: ReturnType<typeof sidecarShared>;
  let inbound: Awaited<ReturnType<typeof startInbound>>;
  beforeAll(async () => {
    app = await echoApp();
    shared = sidecarShared(new TestIdentity(ca, API));
    inbound = await startInbound(inboundConfig({ forward: `127.0.0.1:${app.port}`, handshakeTimeout: `${HANDSHAKE_TIMEOUT_MS}ms` }), shared);
  });
  afterAll(async () => {
    await inbound.stopAccepting();
    inbound.handler.destroyAll();
    inbound.handler.dispose();
    await app.close();
  });

  async function meshClient(): Promise<string> {
    const leaf = makeLeaf(ca, WEB);
    const raw = net.connect({ host: '127.0.0.1', port: portOf(inbound.address), localAddress: '127.0.0.200' });
    const t = tls.connect({ socket: raw, key: leaf.keyPem, cert: leaf.certPem, ca: ca.certPem, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    const r = readAll(t);
    t.end('still serving');
    return (await r).data.toString();
  }

  it(`closes all ${FLOOD} within handshakeTimeout + ${MARGIN_MS} ms and serves a real client meanwhile`, async () => {
    let served: string | undefined;
    const result = await flood({
      port: portOf(inbound.address), count: FLOOD, hello: await captureClientHello(), payload: () => 'nothing',
      sources: ['127.0.0.1', '127.0.0.2', '127.0.0.3'],
      midway: async () => { served = await meshClient(); },
    });
    expect(served).toBe('still serving');
    const held = result.heldMs.filter((ms): ms is number => ms !== undefined);
    console.log(`silent flood: ${held.length} connected, longest held ${Math.max(...held)} ms, all closed after ${result.totalMs} ms`);
    expect(Math.max(...held)).toBeLessThanOrEqual(HANDSHAKE_TIMEOUT_MS + MARGIN_MS);
    const timeouts = await metric(shared.registry, 'ztmesh_handshake_failures_total', { direction: 'inbound', reason: 'handshake_timeout' });
    const cut = await metric(shared.registry, 'ztmesh_handshake_failures_total', { direction: 'inbound', reason: 'handshake_limit' });
    expect(timeouts + cut).toBe(FLOOD);
    expect(timeouts).toBeGreaterThan(0);
    // Every one is counted; the lines are throttled: 20 per code (handshake_timeout, handshake_limit) per 10 s.
    expect(shared.logs.refusals().length).toBeGreaterThan(0);
    expect(shared.logs.refusals().length).toBeLessThanOrEqual(40);
    expect(inbound.handler.pendingCount()).toBe(0);
  });
});
