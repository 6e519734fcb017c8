// Half-open TLS handshakes (a real ClientHello, then silence) hold the CA's TLS state, not just a socket. With
// --max-connections 200, 1,000 of them from 20 other loopback addresses are all closed within the handshake timeout
// + 2 s (per-source cap, eviction of the oldest handshake, deadline), the CA's memory grows by what 200 handshakes
// cost and no more, and a client with a join token is signed during the flood.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCsr, signCsr, startCa, type TestCaServer } from '../helpers/ca.js';
import { clientHello, flood, loopbackSources } from '../helpers/flood.js';

const HANDSHAKE_TIMEOUT_MS = 2_000;
const FLOOD = 1_000;
let ca: TestCaServer;
beforeAll(async () => {
  ca = await startCa({ args: ['--handshake-timeout', `${HANDSHAKE_TIMEOUT_MS}ms`, '--max-connections', '200'] });
});
afterAll(async () => { await ca?.stop(); });

const rssMb = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${ca.process.child.pid}/status`, 'utf8'))![1]) / 1024;

describe('ca under a half-open handshake flood', () => {
  it('closes all 1,000 within handshake timeout + 2 s with bounded memory, and signs for a real client meanwhile', async () => {
    const before = rssMb();
    const sources = loopbackSources(20).flatMap((s) => Array<string>(FLOOD / 20).fill(s));
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/web`;
    const [sockets, signed] = await Promise.all([
      flood({ port: Number(ca.address.split(':').pop()), count: FLOOD, sources, send: await clientHello() }),
      (async () => signCsr(ca.client(), makeCsr(id).csr, { token: await ca.mintToken(id) }))(),
    ]);
    expect(signed.certChain.length).toBeGreaterThan(0);
    const peak = rssMb();
    await Promise.race([
      Promise.all(sockets.map((s) => s.closed)),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`${sockets.filter((s) => s.closedAtMs === undefined).length} still open`)), HANDSHAKE_TIMEOUT_MS + 5_000)),
    ]);
    const latencies = sockets.map((s) => s.closedAtMs! - (s.connectedAtMs ?? s.openedAtMs)).sort((a, b) => a - b);
    expect(latencies.at(-1)).toBeLessThanOrEqual(HANDSHAKE_TIMEOUT_MS + 2_000);
    // 200 held handshakes cost ~15 MB (docs/ca.md "Limits": ~60 KB each); 1,000 would cost four times that.
    expect(peak - before).toBeLessThan(40);
    const metrics = await (await fetch(`http://${ca.adminAddress}/metrics`)).text();
    for (const reason of ['handshake_timeout', 'handshake_evicted', 'source_connection_limit']) {
      expect(metrics).toMatch(new RegExp(`ztmesh_ca_connections_refused_total\\{reason="${reason}"\\} [1-9]`));
    }
    process.stdout.write(`half-open flood: RSS ${before.toFixed(1)} → ${peak.toFixed(1)} MB; close latency p50 ${latencies[FLOOD / 2]} ms, max ${latencies.at(-1)} ms\n`);
  });
});
