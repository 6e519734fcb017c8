// A long-lived connection keeps streaming across two rotations of both sidecars' SVIDs; every new
// connection after a rotation presents the new certificate, checked from the peer's side.
import tls from 'node:tls';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, echoApp, outboundConfig, portOf, startMesh } from '../helpers/datapath.js';
import { startOutbound } from '../../src/sidecar/listeners.js';

const norm = (hex: string) => hex.toLowerCase().replace(/^0+/, '');

describe('data path survives rotation', () => {
  let app: Awaited<ReturnType<typeof echoApp>>;
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  beforeAll(async () => {
    app = await echoApp();
    mesh = await startMesh({ app });
  });
  afterAll(async () => { await mesh.close(); await app.close(); });

  /** The serial the inbound listener presents to a new client. */
  const inboundSerial = () => new Promise<string>((resolve, reject) => {
    const leaf = mesh.web.svid();
    const t = tls.connect({ host: '127.0.0.1', port: portOf(mesh.inbound.address), key: leaf.keyPem, cert: leaf.chainPem, ca: mesh.ca.certPem, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    t.once('secureConnect', () => { resolve(norm(t.getPeerX509Certificate()!.serialNumber)); t.destroy(); });
    t.once('error', reject);
  });

  it('streams across two rotations while new connections get the new certificates', async () => {
    // A peer-side TLS server, standing in for an upstream sidecar, records the client certificate the outbound presents.
    const seenClientSerials: string[] = [];
    const apiSvid = mesh.api.svid();
    const upstream = tls.createServer({ key: apiSvid.keyPem, cert: apiSvid.chainPem, ca: mesh.ca.certPem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (t) => {
      seenClientSerials.push(norm(t.getPeerX509Certificate()!.serialNumber));
      t.end();
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const probe = await startOutbound(outboundConfig({ name: 'probe', upstream: `127.0.0.1:${(upstream.address() as net.AddressInfo).port}` }), mesh.client);
    const outboundSerial = async () => {
      const s = await connect(portOf(probe.address));
      s.resume();
      s.end();
      await new Promise((r) => s.once('close', r));
      return seenClientSerials.at(-1);
    };

    const stream = await connect(portOf(mesh.outbound.address));
    let received = 0;
    stream.on('data', (d: Buffer) => { received += d.length; });
    const errors: Error[] = [];
    stream.on('error', (e) => errors.push(e));
    const chunk = Buffer.alloc(256 * 1024, 7);
    let sent = 0;
    const pump = async () => {
      sent += chunk.length;
      stream.write(chunk);
      while (received < sent) await new Promise((r) => setImmediate(r));
    };

    await pump();
    expect(await inboundSerial()).toBe(norm(mesh.api.svid().serialHex));
    expect(await outboundSerial()).toBe(norm(mesh.web.svid().serialHex));
    const serials = new Set<string>();
    for (let round = 0; round < 2; round++) {
      const api = mesh.api.rotate();
      const web = mesh.web.rotate();
      await pump();
      expect(await inboundSerial()).toBe(norm(api.serialHex));
      expect(await outboundSerial()).toBe(norm(web.serialHex));
      serials.add(api.serialHex).add(web.serialHex);
      await pump();
    }
    expect(serials.size).toBe(4);
    // And the mesh itself still connects end to end with the new certificates.
    const fresh = await connect(portOf(mesh.outbound.address));
    const echoed = new Promise<string>((r) => fresh.once('data', (d: Buffer) => r(d.toString())));
    fresh.write('after');
    expect(await echoed).toBe('after');
    fresh.destroy();

    stream.end();
    await new Promise((r) => stream.once('close', r));
    expect(errors).toEqual([]);
    expect(received).toBe(sent);
    expect(mesh.server.logs.refusals()).toEqual([]);
    expect(mesh.client.logs.refusals()).toEqual([]);
    await probe.stopAccepting();
    probe.handler.destroyAll();
    upstream.close();
  });
});
