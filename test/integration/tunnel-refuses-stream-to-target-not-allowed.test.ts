// A tunnel is never an open proxy: a peer with a valid, allowed certificate opens its own HTTP/2 tunnel to api's
// inbound port (node's http2 client, as another implementation would) and asks for targets. Streams naming anything
// but this listener are refused with target_not_allowed (403, the reason header, RST_STREAM, api's log line and
// metric); a request that is not CONNECT with tunnel_malformed; the listener itself is reached on the same connection.
import http2 from 'node:http2';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpServer } from '../helpers/datapath.js';
import { clientCert, startTunnelPair, WEB_ID, type TunnelPair } from '../helpers/tunnel.js';

interface Answer { status?: number; reason?: string; rstCode?: number; data: string }

/** One CONNECT (or other) stream on `session`: writes `send`, ends, and collects the answer. */
function ask(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, send = 'hello'): Promise<Answer> {
  return new Promise((resolve) => {
    const req = session.request(headers, { endStream: false });
    const out: Answer = { data: '' };
    req.on('response', (h) => { out.status = Number(h[':status']); out.reason = h['ztmesh-reason'] as string | undefined; });
    req.on('data', (d: Buffer) => { out.data += d.toString(); });
    req.on('error', () => {});
    req.on('close', () => resolve({ ...out, rstCode: req.rstCode }));
    req.end(send);
  });
}

describe('tunnel: a stream to a target that is not allowed', () => {
  let app: Awaited<ReturnType<typeof tcpServer>>;
  let appConnections = 0;
  let pair: TunnelPair;
  let dir: string;
  let session: http2.ClientHttp2Session;
  beforeAll(async () => {
    app = await tcpServer((s) => { appConnections++; s.on('error', () => {}); s.pipe(s); });
    pair = await startTunnelPair({ app, allow: [WEB_ID] });
    dir = mkdtempSync(join(tmpdir(), 'ztmesh-h2-'));
    const web = await clientCert(pair.ca, WEB_ID, dir);
    session = http2.connect(`https://127.0.0.1:${pair.apiPort}`, {
      key: web.keyPem, cert: web.certPem, ca: pair.ca.bundlePem, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined,
    });
    session.on('error', () => {});
    await new Promise((r) => session.once('connect', r));
  });
  afterAll(async () => {
    session?.destroy();
    await pair?.close();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses other hosts and ports, and non-CONNECT requests; serves the listener itself', async () => {
    const elsewhere = await ask(session, { ':method': 'CONNECT', ':authority': '10.0.0.1:22' });
    expect(elsewhere).toMatchObject({ status: 403, reason: 'target_not_allowed', rstCode: http2.constants.NGHTTP2_REFUSED_STREAM, data: '' });
    const otherLocal = await ask(session, { ':method': 'CONNECT', ':authority': '127.0.0.1:22' });
    expect(otherLocal).toMatchObject({ status: 403, reason: 'target_not_allowed' });
    const notConnect = await ask(session, { ':method': 'POST', ':path': '/', ':scheme': 'https', ':authority': `127.0.0.1:${pair.apiPort}` });
    expect(notConnect).toMatchObject({ status: 400, reason: 'tunnel_malformed' });
    expect(appConnections).toBe(0);

    const own = await ask(session, { ':method': 'CONNECT', ':authority': `api.example:${pair.apiPort}` }, 'to the listener');
    expect(own).toMatchObject({ status: 200, data: 'to the listener', rstCode: http2.constants.NGHTTP2_NO_ERROR });
    expect(appConnections).toBe(1);

    // The sidecar's JSON log is written asynchronously: the last refusal's line may come after its answer.
    await expect.poll(() => pair.api.proc.json().filter((l) => l.msg === 'connection refused').length).toBe(3);
    const refusals = pair.api.proc.json().filter((l) => l.msg === 'connection refused');
    expect(refusals.map((l) => l.reason)).toEqual(['target_not_allowed', 'target_not_allowed', 'tunnel_malformed']);
    expect(refusals[0]).toMatchObject({ peerId: WEB_ID, level: 'warn' });
    expect(String(refusals[0]!.detail)).toContain('10.0.0.1:22');
    const metrics = (await pair.api.get('/metrics')).text;
    expect(metrics).toMatch(/ztmesh_handshake_failures_total\{direction="inbound",reason="target_not_allowed"\} 2/);
    expect(metrics).toMatch(/ztmesh_tunnel_streams_total\{direction="inbound",result="accepted"\} 1/);
    expect((await pair.api.status()).listeners[0]).toMatchObject({ denied: 3, tunnelConnections: 1 });
  });
});
