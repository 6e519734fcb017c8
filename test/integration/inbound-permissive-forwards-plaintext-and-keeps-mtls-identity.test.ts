// Permissive inbound mode over real sockets: a plaintext client is forwarded to the app without an identity and
// counted; a client that sends nothing first (a server-speaks-first protocol) is forwarded once the detection timeout
// passes (fake clock); an mTLS client is still authorized with its identity; strict mode refuses the same plaintext
// (not_tls); and with an allow-list a plaintext client, which has no identity, is refused (spiffe_id_denied).
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/sidecar/authz.js';
import { startOutbound } from '../../src/sidecar/listeners.js';
import type { InboundHandler } from '../../src/sidecar/inbound/inbound.js';
import { API, TD, TestIdentity, WEB, connect, makeCa, outboundConfig, readAll, sidecarShared, tcpServer, until } from '../helpers/datapath.js';
import { FakeClock } from '../helpers/fake-clock.js';

const DETECTION_MS = 1_000;
let mode: 'strict' | 'permissive' = 'permissive';
let plaintext = 0;
const clock = new FakeClock(Date.now());
const ca = makeCa(TD);
const server = sidecarShared(new TestIdentity(ca, API), { clock });
const client = sidecarShared(new TestIdentity(ca, WEB));
let app: Awaited<ReturnType<typeof tcpServer>>;
let open: InboundHandler;
let listOnly: InboundHandler;
let listener: net.Server;
let outboundPort = 0;
let port = 0;
let useListOnly = false;

beforeAll(async () => {
  // The app greets first (as MySQL and SMTP servers do), then echoes. The mTLS client dials raw mTLS (tunnel: off): this
  // handler is given no tunnel targets.
  app = await tcpServer((s) => { s.on('error', () => {}); s.write('220 ready\n'); s.pipe(s); });
  const reporter = server.reporter('inbound', server.logs.log);
  const options = (allow?: string[]) => ({
    policy: compilePolicy(TD, allow, 'allow'), handshakeTimeoutMs: 10_000, idleTimeoutMs: 60_000, limits: { maxPending: 64, maxPendingPerSource: 64 },
    permissive: { mode: () => mode, detectionTimeoutMs: DETECTION_MS, onPlaintext: () => { plaintext++; } },
  });
  open = server.inboundHandler(reporter, options());
  listOnly = server.inboundHandler(reporter, options([WEB]));
  listener = net.createServer({ allowHalfOpen: true }, (raw) => (useListOnly ? listOnly : open).handle(raw, { forward: { host: '127.0.0.1', port: app.port } }));
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  port = (listener.address() as net.AddressInfo).port;
  outboundPort = Number((await startOutbound(outboundConfig({ upstream: `127.0.0.1:${port}`, tunnel: 'off' }), client)).address.split(':').pop());
});
afterAll(async () => {
  listener?.close();
  await server.close();
  await client.close();
  await app?.close();
});

/** A plain client that sends `text` (if any) and reads until the app's echo of it arrives, then ends. */
async function plainClient(text: string | undefined, until: string): Promise<string> {
  const s = await connect(port);
  let got = '';
  s.on('data', (d: Buffer) => { got += d; if (got.includes(until)) s.end(); });
  if (text) s.write(text);
  return (await readAll(s), got);
}

describe('permissive inbound', () => {
  it('forwards a plaintext client without an identity, and counts it', async () => {
    const got = await plainClient('hello plain\n', 'hello plain');
    expect(got).toBe('220 ready\nhello plain\n');
    expect(plaintext).toBe(1);
    expect(server.logs.lines.some((l) => l.msg === 'inbound plaintext: forwarded without an identity')).toBe(true);
  });

  it('forwards a client that sends nothing first once the detection timeout has passed (server-speaks-first)', async () => {
    const s = await connect(port);
    let got = '';
    s.on('data', (d: Buffer) => { got += d; });
    await until(() => open.pendingCount() === 1);
    await clock.advance(DETECTION_MS - 1);
    expect(got).toBe('');
    await clock.advance(1);
    await until(() => got === '220 ready\n');
    s.end('quit\n');
    await readAll(s);
    expect(plaintext).toBe(2);
  });

  it('still authorizes an mTLS client with its identity', async () => {
    const s = await connect(outboundPort);
    let got = '';
    s.on('data', (d: Buffer) => { got += d; if (got.includes('over mtls')) s.end(); });
    s.write('over mtls\n');
    await readAll(s);
    expect(got).toBe('220 ready\nover mtls\n');
    expect(server.logs.lines.filter((l) => l.msg === 'inbound connection forwarded').map((l) => l.peerId)).toContain(WEB);
    expect(plaintext).toBe(2);
  });

  it('refuses a plaintext client when the inbound names who may connect (it has no identity)', async () => {
    useListOnly = true;
    try {
      const got = await plainClient('no id\n', 'no id');
      expect(got).not.toContain('no id');
      await until(() => server.logs.lines.some((l) => l.reason === 'spiffe_id_denied' && String(l.detail).includes('plaintext')));
      expect(plaintext).toBe(2);
    } finally {
      useListOnly = false;
    }
  });

  it('strict mode refuses the same plaintext client (not_tls)', async () => {
    mode = 'strict';
    const got = await plainClient('hello strict\n', 'hello strict');
    expect(got).not.toContain('hello strict');
    await until(() => server.logs.lines.some((l) => l.reason === 'not_tls'));
    expect(plaintext).toBe(2);
  });
});
