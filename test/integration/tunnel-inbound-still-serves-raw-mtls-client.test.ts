// The inbound port takes tunnels and raw mTLS alike, told apart by ALPN: while web's tunnel is open on api's port,
// `openssl s_client` with a client certificate (no ALPN, or ALPN http/1.1 only) still reaches the app as before, and
// one without a certificate is still refused with no_client_cert; the tunnel keeps carrying its streams.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpServer } from '../helpers/datapath.js';
import { OPENSSL_MISSING, sClient } from '../helpers/openssl.js';
import { clientCert, echoRoundTrip, payload, startTunnelPair, WEB_ID, type TunnelPair } from '../helpers/tunnel.js';

describe.skipIf(OPENSSL_MISSING)('tunnel and raw mTLS on one inbound port', () => {
  let app: Awaited<ReturnType<typeof tcpServer>>;
  let pair: TunnelPair;
  let dir: string;
  let caFile: string;
  let web: { cert: string; key: string };
  beforeAll(async () => {
    // An app that answers a "ping <x>" line with "pong:ping <x>" and closes; anything else it echoes to EOF.
    app = await tcpServer((s) => {
      s.on('error', () => {});
      s.on('data', (d: Buffer) => (d.toString().startsWith('ping') ? s.end(`pong:${d.toString().trim()}\n`) : s.write(d)));
      s.on('end', () => s.end());
    });
    pair = await startTunnelPair({ app, allow: [WEB_ID] });
    dir = mkdtempSync(join(tmpdir(), 'ztmesh-raw-'));
    caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, pair.ca.bundlePem);
    web = await clientCert(pair.ca, WEB_ID, dir);
  });
  afterAll(async () => {
    await pair?.close();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves openssl s_client (no ALPN, and ALPN http/1.1) while a tunnel is open on the same port', async () => {
    const tunnelled = await echoRoundTrip(pair.webPort, payload(8192));
    expect(tunnelled.received).toBe(tunnelled.sent);
    expect((await pair.api.status()).listeners[0]!.tunnelConnections).toBe(1);

    const plain = await sClient({ port: pair.apiPort, caFile, cert: web, args: ['-tls1_3'], input: 'ping one\n' });
    expect(plain.stdout).toContain('pong:ping one');
    const withAlpn = await sClient({ port: pair.apiPort, caFile, cert: web, args: ['-tls1_3', '-alpn', 'http/1.1'], input: 'ping two\n' });
    expect(withAlpn.stdout).toContain('pong:ping two');

    const again = await echoRoundTrip(pair.webPort, payload(8192));
    expect(again.received).toBe(again.sent);
    const listener = (await pair.api.status()).listeners[0]!;
    expect(listener).toMatchObject({ connectionsTotal: 4, denied: 0, tunnelConnections: 1 });
    expect((await pair.web.status()).tunnelPools![0]).toMatchObject({ connections: 1, streamsTotal: 2 });
  });

  it('still refuses a raw client without a certificate, naming it', async () => {
    const r = await sClient({ port: pair.apiPort, caFile, args: ['-tls1_3'], input: 'ping three\n' });
    expect(r.stdout).not.toContain('pong');
    const line = JSON.parse(await pair.api.proc.waitFor(/"reason":"no_client_cert"/));
    expect(line).toMatchObject({ msg: 'connection refused', reason: 'no_client_cert' });
    const ok = await echoRoundTrip(pair.webPort, payload(100));
    expect(ok.received).toBe(ok.sent);
  });
});
