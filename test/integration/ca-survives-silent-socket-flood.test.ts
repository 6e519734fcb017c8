// A real `ztmesh ca serve` limited to 600 file descriptors closes every one of 1,500 silent TCP clients within its
// handshake timeout + 2 s, while a real GrpcCaClient renews its SVID and the admin /healthz answers during the flood.
// The flood comes from 40 other loopback addresses (127.0.0.2-41, about 38 sockets each, in a row): the per-source
// cap (32) refuses some at once, the total cap (lowered to fit the 600 descriptors) makes the oldest silent sockets
// give way to newcomers, and the deadline closes the rest. The legitimate client dials from 127.0.0.1, as a pod has
// its own IP.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcCaClient } from '../../src/identity/ca-client.js';
import { makeTrustBundle } from '../../src/identity/credentials.js';
import { buildSvid } from '../../src/identity/svid-material.js';
import { silentLogger } from '../../src/common/logger.js';
import { DEFAULT_LOG_THROTTLE } from '../../src/common/log-throttle.js';
import { certsFromPem } from '../../src/pki/pem.js';
import { buildCsr, generateKeySync } from '../../src/pki/index.js';
import { CA_TLS_NAME, startCa, type TestCaServer } from '../helpers/ca.js';
import { ensureFdLimit } from '../helpers/fd-limit.js';
import { captureClientHello, flood } from '../helpers/flood.js';
import { tempDir } from '../helpers/temp-dir.js';

const HANDSHAKE_TIMEOUT_MS = 2_000;
const MARGIN_MS = 2_000;
const FLOOD = 1_500;
const ID = 'spiffe://example.org/ns/default/sa/web';
const NO_FDS = ensureFdLimit(4 * FLOOD); // the flood's sockets live in this process
if (NO_FDS) console.warn(`skipping the CA silent-socket flood: ${NO_FDS}`);
let ca: TestCaServer;

beforeAll(async () => {
  if (NO_FDS) return;
  ca = await startCa({ wrap: ['prlimit', '--nofile=600:600'], args: ['--handshake-timeout', `${HANDSHAKE_TIMEOUT_MS}ms`] });
});
afterAll(async () => { await ca?.stop(); });

async function metricValue(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://${ca.adminAddress}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe.skipIf(NO_FDS)('ca under a silent-socket flood with 600 file descriptors', () => {
  it(`closes all ${FLOOD} silent clients within handshake timeout + ${MARGIN_MS} ms; a renewal and /healthz succeed meanwhile`, async () => {
    const started = await ca.process.waitFor(/"msg":"CA identity ready"/);
    expect(JSON.parse(started)).toMatchObject({ maxConnections: 600 - 128, handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS });

    // A real client of ours, holding an SVID from before the flood.
    const dir = tempDir('ztmesh-flood-');
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${await ca.mintToken(ID)}\n`);
    const bundle = makeTrustBundle(ca.trustDomain, certsFromPem(ca.bundlePem, 'bundle'), 0);
    const client = new GrpcCaClient({ addresses: [ca.address], trustDomain: ca.trustDomain, tokenFile, serverName: CA_TLS_NAME, log: silentLogger() });
    const key = generateKeySync();
    const svid = buildSvid({ key, chainDer: (await client.sign(buildCsr(key), 600, { method: 'token', roots: bundle })).chainDer, bundle, trustDomain: ca.trustDomain, nowMs: Date.now() });

    // Each source opens its ~38 sockets in a row, so it runs into the per-source cap; half-way through (the CA's cap
    // long full), a renewal with the current SVID and the admin health check.
    const sources = Array.from({ length: 40 }, (_, i) => Array<string>(Math.ceil(FLOOD / 40)).fill(`127.0.0.${i + 2}`)).flat();
    let renewed = 0;
    let health = 0;
    const result = await flood({
      port: Number(ca.address.split(':').pop()), count: FLOOD, sources, payload: () => 'nothing', hello: await captureClientHello(),
      midway: async () => {
        renewed = (await client.sign(buildCsr(generateKeySync()), 600, { method: 'svid', svid, roots: bundle })).chainDer.length;
        health = (await fetch(`http://${ca.adminAddress}/healthz`, { signal: AbortSignal.timeout(5_000) })).status;
      },
    }, HANDSHAKE_TIMEOUT_MS + 10_000);
    expect(renewed).toBeGreaterThan(0);
    expect(health).toBe(200);
    const held = result.heldMs.filter((ms): ms is number => ms !== undefined).sort((a, b) => a - b);
    expect(held).toHaveLength(FLOOD);
    expect(held.at(-1)).toBeLessThanOrEqual(HANDSHAKE_TIMEOUT_MS + MARGIN_MS);

    // Each mechanism played its part, was counted, and the log stayed short.
    const timeouts = await metricValue('ztmesh_ca_connections_refused_total', 'reason="handshake_timeout"');
    const evicted = await metricValue('ztmesh_ca_connections_refused_total', 'reason="handshake_limit"');
    const perSource = await metricValue('ztmesh_ca_connections_refused_total', 'reason="source_connection_limit"');
    expect(timeouts).toBeGreaterThan(0);
    expect(evicted).toBeGreaterThan(0);
    expect(perSource).toBeGreaterThan(0);
    expect(timeouts + evicted + perSource).toBeGreaterThanOrEqual(FLOOD - 1); // the renewal's connection may have evicted one
    const refusalLines = ca.process.json().filter((l) => l.msg === 'connection refused');
    expect(refusalLines.length).toBeLessThanOrEqual(3 * DEFAULT_LOG_THROTTLE.max); // per code and 10 s window
    expect(refusalLines[0]).toMatchObject({ peer: expect.stringMatching(/^127\.0\.0\.\d+:\d+$/) });
    console.log(`CA silent flood: close latency p50 ${held[Math.floor(held.length / 2)]} ms, max ${held.at(-1)} ms, all closed after ${result.totalMs} ms; ` +
      `timeouts ${timeouts}, evicted ${evicted}, per-source refusals ${perSource}`);

    // And after it, the client is served as usual.
    expect((await client.sign(buildCsr(generateKeySync()), 600, { method: 'svid', svid, roots: bundle })).chainDer.length).toBeGreaterThan(0);
  });
});
