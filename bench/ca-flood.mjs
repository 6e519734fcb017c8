#!/usr/bin/env node
// Memory of `ztmesh ca serve` under connection floods, with the caps it ships with (or FLOOD_CA_ARGS): RSS and its peak
// (VmHWM) with FLOOD_CLIENTS silent TCP clients, then as many half-open TLS handshakes (a ClientHello, then silence),
// spread over FLOOD_SOURCES loopback addresses, for FLOOD_ROUNDS rounds; then FLOOD_ESTABLISHED real TLS/HTTP/2
// connections each holding a WatchTrustBundle stream (the legitimate load: one per sidecar).
// Env: FLOOD_CLIENTS (4000), FLOOD_SOURCES (200), FLOOD_ROUNDS (3), FLOOD_ESTABLISHED (2000), FLOOD_CA_ARGS (extra flags).
// Needs FLOOD_CLIENTS + FLOOD_ESTABLISHED open files in this process (`ulimit -n`). Prints a Markdown table.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(root, 'bin/ztmesh.js');
const CLIENTS = Number(process.env.FLOOD_CLIENTS ?? 4000);
const SOURCES = Number(process.env.FLOOD_SOURCES ?? 200);
const ROUNDS = Number(process.env.FLOOD_ROUNDS ?? 3);
const ESTABLISHED = Number(process.env.FLOOD_ESTABLISHED ?? 2000);
const EXTRA = process.env.FLOOD_CA_ARGS ? process.env.FLOOD_CA_ARGS.split(' ') : [];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sources = Array.from({ length: SOURCES }, (_, i) => `127.0.${(i + 2) >> 8}.${(i + 2) & 255}`);

const work = mkdtempSync(join(tmpdir(), 'ztmesh-bench-flood-'));
const dir = join(work, 'ca');
execFileSync(process.execPath, [BIN, 'ca', 'init', '--dir', dir, '--trust-domain', 'cluster.local'], { stdio: 'ignore' });
// As deploy/kubernetes/ca-deployment.yaml runs it: two signing workers and a 192 MB heap cap.
const ca = spawn(process.execPath, ['--max-old-space-size=192', BIN, 'ca', 'serve', '--dir', dir, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--sign-workers', '2', ...EXTRA], { stdio: ['ignore', 'pipe', 'pipe'] });
process.on('exit', () => ca.kill('SIGKILL'));
let logBuf = '';
const info = await new Promise((resolve, reject) => {
  const onData = (d) => { logBuf += d; const l = logBuf.split('\n').find((x) => x.includes('"msg":"ztmesh ca serving"')); if (l) resolve(JSON.parse(l)); };
  ca.stdout.on('data', onData);
  ca.stderr.on('data', onData);
  ca.on('exit', (c) => reject(new Error(`ca exited ${c}: ${logBuf}`)));
});
ca.stdout.on('data', () => undefined);
const port = info.grpcPort;
const ready = JSON.parse(logBuf.split('\n').find((x) => x.includes('"msg":"CA identity ready"')));

const status = () => Object.fromEntries(readFileSync(`/proc/${ca.pid}/status`, 'utf8').split('\n').filter((l) => /^Vm(RSS|HWM)/.test(l)).map((l) => [l.split(':')[0], Number(l.split(/\s+/)[1]) / 1024]));
async function held() {
  const text = await (await fetch(`http://${info.admin}/metrics`)).text();
  const v = (state) => Number(text.split('\n').find((l) => l.startsWith(`ztmesh_ca_connections{state="${state}"}`))?.split(' ').pop() ?? 0);
  return { handshaking: v('handshaking'), established: v('established') };
}

const hello = await new Promise((resolve) => {
  const cap = net.createServer((s) => s.once('data', (d) => { resolve(d); s.destroy(); cap.close(); }));
  cap.listen(0, '127.0.0.1', () => { const c = tls.connect({ port: cap.address().port, host: '127.0.0.1', servername: 'localhost', ALPNProtocols: ['h2'], rejectUnauthorized: false }); c.on('error', () => undefined); });
});

/** Opens `n` sockets over the sources, 200 at a time; each sends `send` (if any) and then nothing. */
async function flood(n, send) {
  const sockets = [];
  let closed = 0;
  for (let i = 0; i < n; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, n - i) }, (_, j) => new Promise((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1', localAddress: sources[(i + j) % sources.length] });
      s.on('error', () => undefined);
      s.on('data', () => undefined);
      s.once('close', () => { closed++; resolve(); });
      s.once('connect', () => { if (send) s.write(send); resolve(); });
      sockets.push(s);
    })));
  }
  return { sockets, closedCount: () => closed };
}

const rows = [];
const row = (what, extra = {}) => { const s = status(); rows.push({ what, rss: s.VmRSS, hwm: s.VmHWM, ...extra }); };
await sleep(2000);
row('idle after start');

for (let round = 1; round <= ROUNDS; round++) {
  for (const [kind, send] of [['silent TCP', undefined], ['half-open TLS', hello]]) {
    const t0 = Date.now();
    const f = await flood(CLIENTS, send);
    await sleep(1000);
    const h = await held();
    row(`round ${round}: ${CLIENTS} ${kind} clients open`, { held: h.handshaking + h.established, openMs: Date.now() - t0 });
    while (f.closedCount() < CLIENTS && Date.now() - t0 < 30_000) await sleep(200);
    row(`round ${round}: all closed by the CA`, { closeMs: Date.now() - t0, stillOpen: CLIENTS - f.closedCount() });
  }
  await sleep(6000); // the CA trims freed native memory at most every 5 s after a burst
  row(`round ${round}: idle 6 s later`);
}

// The legitimate load: N sidecars, each with one TLS/HTTP/2 connection holding a WatchTrustBundle stream.
const bundle = readFileSync(join(dir, 'bundle.pem'));
const sessions = [];
let streams = 0;
for (let i = 0; i < ESTABLISHED; i += 100) {
  await Promise.all(Array.from({ length: Math.min(100, ESTABLISHED - i) }, (_, j) => new Promise((resolve) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: bundle, servername: 'localhost', localAddress: sources[(i + j) % sources.length], checkServerIdentity: () => undefined });
    session.on('error', () => resolve());
    const req = session.request({ ':method': 'POST', ':path': '/ztmesh.ca.v1.CertificateAuthority/WatchTrustBundle', 'content-type': 'application/grpc', te: 'trailers' });
    req.on('error', () => resolve());
    req.once('data', () => { streams++; resolve(); });
    req.end(Buffer.from([0, 0, 0, 0, 0]));
    sessions.push(session);
  })));
}
await sleep(2000);
const h = await held();
row(`${ESTABLISHED} bundle streams held`, { held: h.established, streams });
for (const s of sessions) s.destroy();
await sleep(2000);
row('after the streams closed');
await sleep(6000);
row('idle 6 s later');

console.log(`ca-flood: ${CLIENTS} clients over ${SOURCES} sources, ${ROUNDS} rounds; CA caps: max ${ready.maxConnections}, per source ${ready.maxConnectionsPerSource}, handshake timeout ${ready.handshakeTimeoutMs} ms${EXTRA.length ? `; flags ${EXTRA.join(' ')}` : ''}\n`);
console.log('| step | RSS MB | peak RSS MB | connections held | notes |');
console.log('| --- | ---: | ---: | ---: | --- |');
for (const r of rows) {
  const notes = [r.openMs !== undefined ? `opened in ${r.openMs} ms` : '', r.closeMs !== undefined ? `all closed ${r.closeMs} ms after the first opened` : '', r.stillOpen ? `${r.stillOpen} still open` : '', r.streams !== undefined ? `${r.streams} streams got a bundle` : ''].filter(Boolean).join('; ');
  console.log(`| ${r.what} | ${r.rss.toFixed(1)} | ${r.hwm.toFixed(1)} | ${r.held ?? ''} | ${notes} |`);
}
ca.kill('SIGTERM');
process.exit(0);
