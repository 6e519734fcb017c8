// go-spiffe v2's spiffetls with an X509Source from a sidecar's Workload API meets ztmesh's data path as a peer: a
// go-spiffe client dials a ztmesh sidecar's inbound by mTLS and is authorized by its SPIFFE ID (and refused when the
// inbound allows another ID), and a go-spiffe server accepts a ztmesh sidecar's outbound by its SPIFFE ID.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { echoApp, portOf } from '../helpers/datapath.js';
import { interopTool, runTool } from '../helpers/interop.js';
import { LineProcess } from '../helpers/line-process.js';
import { startSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { startWorkloadApiSidecar, type WorkloadApiSidecar } from '../helpers/workload-api.js';

const GO_ID = 'spiffe://example.org/ns/default/sa/go-app';
const MESH_ID = 'spiffe://example.org/ns/default/sa/api';
let ca: TestCaServer;
let goSide: WorkloadApiSidecar;
let mesh: TestSidecar;
let goClient: string;
let goServer: LineProcess;
let app: Awaited<ReturnType<typeof echoApp>>;
let inboundPort: number;
let deniedPort: number;
let outboundPort: number;

beforeAll(async () => {
  [goClient, ca, app] = await Promise.all([interopTool('go'), startCa(), echoApp()]);
  // The Go app's identity comes from its own sidecar's Workload API.
  goSide = await startWorkloadApiSidecar({ ca, spiffeId: GO_ID });
  await goSide.sidecar.waitForStatus((s) => s.identity.state === 'available');
  goServer = new LineProcess([goClient, 'serve', '-addr', '127.0.0.1:0', '-id', MESH_ID, '-timeout', '120s'], { SPIFFE_ENDPOINT_SOCKET: goSide.endpoint });
  const goAddr = (JSON.parse(await goServer.waitFor(/"listening"/)) as { listening: string }).listening;
  const inbound = [
    { name: 'in', listen: '127.0.0.1:0', forward: `127.0.0.1:${app.port}`, allow: [GO_ID], defaultPolicy: 'deny' },
    { name: 'in-other', listen: '127.0.0.1:0', forward: `127.0.0.1:${app.port}`, allow: ['spiffe://example.org/ns/default/sa/someone-else'], defaultPolicy: 'deny' },
  ];
  const outbound = [{ name: 'to-go', listen: '127.0.0.1:0', upstream: goAddr, expect: GO_ID }];
  mesh = await startSidecar({ ca, spiffeId: MESH_ID, args: ['--inbound', JSON.stringify(inbound), '--outbound', JSON.stringify(outbound)] });
  const st = await mesh.waitForStatus((s) => s.identity.state === 'available' && s.listeners.length === 3);
  const port = (name: string) => portOf(st.listeners.find((l) => l.name === name)!.address);
  [inboundPort, deniedPort, outboundPort] = [port('in'), port('in-other'), port('to-go')];
}, 15 * 60_000);
afterAll(async () => {
  await goServer?.stop();
  await Promise.all([mesh?.stop(), goSide?.stop(), app?.close()]);
  await ca?.stop();
});

describe('go-spiffe spiffetls and a ztmesh sidecar', () => {
  it('a go-spiffe client (NewX509Source + spiffetls) reaches the app through the inbound, authorized by its SPIFFE ID', async () => {
    const r = await runTool([goClient, 'dial', '-addr', `127.0.0.1:${inboundPort}`, '-id', MESH_ID], { SPIFFE_ENDPOINT_SOCKET: goSide.endpoint });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json[0]).toEqual({ reply: 'ping from go-spiffe' });
  });

  it('the inbound refuses the same client where its ID is not allowed, and the client refuses a server with another ID', async () => {
    const denied = await runTool([goClient, 'dial', '-addr', `127.0.0.1:${deniedPort}`, '-id', MESH_ID, '-timeout', '5s'], { SPIFFE_ENDPOINT_SOCKET: goSide.endpoint });
    expect(denied.code).not.toBe(0);
    await mesh.waitForStatus((s) => s.listeners.find((l) => l.name === 'in-other')!.lastRefusal?.reason === 'spiffe_id_denied');
    const wrongServer = await runTool([goClient, 'dial', '-addr', `127.0.0.1:${inboundPort}`, '-id', 'spiffe://example.org/ns/default/sa/not-api', '-timeout', '5s'], { SPIFFE_ENDPOINT_SOCKET: goSide.endpoint });
    expect(wrongServer.json[0]).toMatchObject({ error: expect.stringContaining('unexpected ID') });
  });

  it('a go-spiffe server (spiffetls.Listen) accepts the sidecar\'s outbound by its SPIFFE ID', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const c = net.connect(outboundPort, '127.0.0.1', () => c.write('hi from a plain app\n'));
      let got = '';
      c.on('data', (d) => { got += d; if (got.includes('\n')) { c.destroy(); resolve(got.trim()); } });
      c.on('error', reject);
    });
    expect(reply).toBe(`hello ${MESH_ID}`);
    await goServer.waitFor(/"peerId"/);
    expect(goServer.json().find((l) => l.peerId)).toEqual({ peerId: MESH_ID, got: 'hi from a plain app' });
  });
});
