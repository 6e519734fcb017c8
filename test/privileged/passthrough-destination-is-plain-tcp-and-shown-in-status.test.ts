// A destination listed under transparent.passthrough (here the hub, which has no sidecar) is forwarded as plain
// TCP: the echo works, the bytes are visible on the wire, and A's /status lists it as a passthrough entry with
// its counters. Meshed destinations of the same pod still go over mTLS (not checked again here).
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createMesh, skipPrivileged, type Mesh } from '../helpers/netns.js';
import { capture, client, count, fixture, startEcho, startIssuer, startPod, type Issuer, type Pod } from './scenario.js';

const skip = skipPrivileged('passthrough-destination-is-plain-tcp-and-shown-in-status');
let mesh: Mesh;
let issuer: Issuer;
let a: Pod;

describe.skipIf(skip)('transparent passthrough', () => {
  beforeAll(async () => {
    mesh = await createMesh('passthrough', ['a']);
    issuer = await startIssuer(mesh);
    a = await startPod(mesh, issuer, 'a', { sa: 'web', transparent: { passthrough: { cidrs: [`${mesh.hubAddr}/32`], ports: [] } } });
  }, 90_000);
  afterAll(async () => { await mesh?.destroy(); });

  it('plain TCP reaches the unmeshed destination and /status shows it as passthrough', async () => {
    onTestFailed(() => console.error(`A:\n${a.sidecar.output()}`));
    const echo = await startEcho(mesh, 'hub', 9000);
    const cap = await capture(mesh, 'a', mesh.addr.a!, mesh.hubAddr, 'passthrough');
    const marker = `PASSTHROUGH-MARKER-${Date.now()}`;
    expect(await client(mesh, 'a', mesh.hubAddr, 9000, marker)).toMatchObject({ data: marker });
    const pcap = await cap.stop();
    expect(count(pcap, marker)).toBeGreaterThan(0);
    // It went through the sidecar (redirected, then forwarded plain), not around it.
    await a.sidecar.waitFor(/"mode":"passthrough"/);
    const status = await mesh.run('a', [process.execPath, fixture('http-get.mjs'), 'http://127.0.0.1:15000/status']);
    const doc = JSON.parse(status.stdout) as { listeners: { name: string; kind: string; address: string; connectionsTotal: number }[] };
    expect(doc.listeners).toContainEqual(expect.objectContaining({
      name: 'transparent-passthrough', kind: 'passthrough', address: `${mesh.hubAddr}/32`, connectionsTotal: 1,
    }));
    expect(doc.listeners.map((l) => l.kind)).toEqual(expect.arrayContaining(['transparent-inbound', 'transparent-outbound']));
    await echo.stop();
  });
});
