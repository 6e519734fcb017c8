#!/usr/bin/env node
// Quick data-path regression benchmark (not a test): pushes N bytes (1 GiB by default) one way through
//   client → outbound sidecar (process A) → mTLS 1.3 → inbound sidecar (process B) → sink
// and prints MB/s next to a direct client → sink connection, plus new connections/s with and without
// TLS session resumption. The full side-by-side harness against stunnel/HAProxy/nginx is `npm run bench`.
//
//   npm run build && node bench/datapath.mjs [--size 1GiB] [--rounds 3] [--conns 300] [--idle 1000]
import { fork } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const DIST = new URL('../dist/', import.meta.url);
const imp = (p) => import(new URL(p, DIST).href);

function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kib|mib|gib)?$/i.exec(text);
  if (!m) throw new Error(`bad size ${text}`);
  return Math.round(Number(m[1]) * { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase()]);
}
function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

// ---------------------------------------------------------------------------------------------- sidecar side
async function runSidecar(role, material, target) {
  const { X509Certificate, createPrivateKey } = await import('node:crypto');
  const { Registry } = await import('prom-client');
  const { Watchable } = await imp('common/watchable.js');
  const { systemClock } = await imp('common/clock.js');
  const { silentLogger } = await imp('common/logger.js');
  const { makeTrustBundle } = await imp('identity/credentials.js');
  const { certsFromPem } = await imp('pki/pem.js');
  const { DataPath } = await imp('sidecar/datapath.js');
  const { startInbound, startOutbound } = await imp('sidecar/listeners.js');
  const { inboundSchema, outboundSchema } = await imp('sidecar/config-schema.js');

  const leaf = material[role];
  const cert = new X509Certificate(leaf.certPem);
  const svid = {
    spiffeId: leaf.spiffeId, key: createPrivateKey(leaf.keyPem), keyPem: leaf.keyPem, chainDer: certsFromPem(leaf.certPem, 'leaf'),
    chainPem: leaf.certPem, serialHex: cert.serialNumber, notBeforeMs: Date.parse(cert.validFrom), notAfterMs: Date.parse(cert.validTo),
    publicKeySha256: '',
  };
  const bundle = makeTrustBundle('cluster.local', certsFromPem(material.caPem, 'ca'), 1);
  const watch = new Watchable({ state: 'available', svid, bundle });
  const identity = { current: () => watch.get(), subscribe: (l) => watch.subscribe(l) };
  const log = silentLogger();
  const shared = new DataPath({ identity, clock: systemClock, registry: new Registry(), log, trustDomain: 'cluster.local' });
  const l = role === 'inbound'
    ? await startInbound(inboundSchema.parse({ name: 'bench', listen: '127.0.0.1:0', forward: target }), shared)
    : await startOutbound(outboundSchema.parse({ name: 'bench', listen: '127.0.0.1:0', upstream: target, expect: material.inbound.spiffeId }), shared);
  process.send({ address: l.address });
  process.on('SIGINT', () => process.exit(0)); // exit normally so --cpu-prof writes its profile
  process.on('message', (m) => {
    if (m === 'clear-sessions') {
      shared.dialer.clearSessions();
      process.send({ cleared: true });
    }
    if (m === 'usage') global.gc?.();
    if (m === 'usage') process.send({ usage: process.cpuUsage(), ...process.memoryUsage(), active: l.handler.activeCount() });
  });
}

// ---------------------------------------------------------------------------------------------- load side
function startSink() {
  return new Promise((resolve) => {
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      let n = 0;
      s.on('data', (d) => { n += d.length; });
      s.on('end', () => s.end(String(n)));
      s.on('error', () => {});
    });
    server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port }));
  });
}

/** Writes `size` bytes to port, half-closes, and waits for the sink's byte count. */
function push(port, size) {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(1024 * 1024, 0x5a);
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true, noDelay: true });
    const start = process.hrtime.bigint();
    let left = size;
    let reply = '';
    const write = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return s.once('drain', write);
      }
      s.end();
    };
    s.on('connect', write);
    s.on('data', (d) => { reply += d; });
    s.on('end', () => {
      const secs = Number(process.hrtime.bigint() - start) / 1e9;
      if (Number(reply) !== size) return reject(new Error(`sink got ${reply} bytes, sent ${size}`));
      resolve(size / 1e6 / secs);
      s.end();
    });
    s.on('error', reject);
  });
}

/** Opens `count` sequential connections, each doing one tiny exchange; returns connections/s. */
async function connRate(port, count) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    await new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true, noDelay: true }, () => s.end('x'));
      s.on('data', () => {});
      s.on('end', () => { s.end(); resolve(); });
      s.on('error', reject);
    });
  }
  return count / (Number(process.hrtime.bigint() - start) / 1e9);
}

function spawnSidecar(role, material, target) {
  // BENCH_CPU_PROF=dir writes a V8 CPU profile of each sidecar process there.
  const execArgv = ['--expose-gc', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [])];
  const child = fork(fileURLToPath(import.meta.url), ['--child', role], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
  child.send({ material, target });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve({ child, address: m.address, port: Number(m.address.split(':').pop()) }));
    child.once('exit', (code) => reject(new Error(`${role} exited with ${code}`)));
  });
}
const ask = (child, msg, key) => new Promise((resolve) => { child.on('message', function on(m) { if (key in m) { child.off('message', on); resolve(m); } }); child.send(msg); });

async function main() {
  const size = parseSize(arg('size', '1GiB'));
  const rounds = Number(arg('rounds', '3'));
  const conns = Number(arg('conns', '300'));
  const { generateKeySync, privateKeyPem, createRootCa, loadIssuer, issueSvid, spkiOf, toPem } = await imp('pki/index.js');
  const now = Date.now();
  const caKey = generateKeySync();
  const caDer = createRootCa({ trustDomain: 'cluster.local', key: caKey, nowMs: now });
  const issuer = loadIssuer(caDer, caKey);
  const leaf = (spiffeId) => {
    const key = generateKeySync();
    const issued = issueSvid({ spki: spkiOf(key), spiffeId, nowMs: now, ttlMs: 3_600_000, dnsNames: [] }, issuer);
    return { spiffeId, keyPem: privateKeyPem(key), certPem: toPem(issued.der) };
  };
  const material = { caPem: toPem(caDer), inbound: leaf('spiffe://cluster.local/ns/bench/sa/sink'), outbound: leaf('spiffe://cluster.local/ns/bench/sa/client') };

  const sink = await startSink();
  const inbound = await spawnSidecar('inbound', material, `127.0.0.1:${sink.port}`);
  const outbound = await spawnSidecar('outbound', material, inbound.address);
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const fmt = (xs, unit) => `${median(xs).toFixed(0)} ${unit} (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;

  console.log(`ztmesh data-path bench: ${(size / 2 ** 20).toFixed(0)} MiB one way, ${rounds} rounds, node ${process.version}`);
  await push(sink.port, 8 * 2 ** 20); // warm-up
  await push(outbound.port, 8 * 2 ** 20);
  const direct = [];
  const mesh = [];
  const before = await Promise.all([inbound, outbound].map((s) => ask(s.child, 'usage', 'usage')));
  for (let r = 0; r < rounds; r++) {
    direct.push(await push(sink.port, size));
    mesh.push(await push(outbound.port, size));
  }
  const after = await Promise.all([inbound, outbound].map((s) => ask(s.child, 'usage', 'usage')));
  const cpuPerGb = after.map((a, i) => ((a.usage.user + a.usage.system - before[i].usage.user - before[i].usage.system) / 1e6) / ((size * rounds) / 1e9));
  console.log(`bulk   direct: ${fmt(direct, 'MB/s')}`);
  console.log(`bulk   mesh:   ${fmt(mesh, 'MB/s')}  = ${(median(mesh) / median(direct)).toFixed(2)}× direct`);
  const mib = (b) => (b / 2 ** 20).toFixed(0);
  console.log(`       CPU s/GB: inbound ${cpuPerGb[0].toFixed(2)}, outbound ${cpuPerGb[1].toFixed(2)}; RSS (after warm-up → after bulk) inbound ${mib(before[0].rss)} → ${mib(after[0].rss)} MiB, outbound ${mib(before[1].rss)} → ${mib(after[1].rss)} MiB`);

  const directConn = await connRate(sink.port, conns);
  const resumed = await connRate(outbound.port, conns);
  // Without resumption: clear the outbound's session cache before every connection.
  const fullStart = process.hrtime.bigint();
  const fullCount = Math.max(50, Math.floor(conns / 3));
  for (let i = 0; i < fullCount; i++) {
    await ask(outbound.child, 'clear-sessions', 'cleared');
    await connRate(outbound.port, 1);
  }
  const full = fullCount / (Number(process.hrtime.bigint() - fullStart) / 1e9);
  console.log(`conn1  direct: ${directConn.toFixed(0)}/s   mesh resumed: ${resumed.toFixed(0)}/s   mesh full handshake: ${full.toFixed(0)}/s (incl. one IPC round trip each)`);

  // Idle connections held through both sidecars: RSS per connection on each side.
  const idleCount = Number(arg('idle', '1000'));
  if (idleCount > 0) {
    const base = await Promise.all([inbound, outbound].map((s) => ask(s.child, 'usage', 'usage')));
    const held = [];
    for (let i = 0; i < idleCount; i++) {
      held.push(await new Promise((resolve, reject) => {
        const s = net.connect({ host: '127.0.0.1', port: outbound.port, allowHalfOpen: true }, () => resolve(s));
        s.on('error', reject);
      }));
    }
    // Wait until every connection went through both sidecars to the sink.
    for (let tries = 0; tries < 200 && (await ask(inbound.child, 'usage', 'usage')).active < idleCount; tries++) await new Promise((r) => setTimeout(r, 50));
    const loaded = await Promise.all([inbound, outbound].map((s) => ask(s.child, 'usage', 'usage')));
    const per = (k) => loaded.map((l, i) => ((l[k] - base[i][k]) / idleCount / 1024).toFixed(1));
    const [rss, heap, ext] = [per('rss'), per('heapUsed'), per('external')];
    console.log(`idle   ${idleCount} connections held, per connection: RSS inbound ${rss[0]} KiB, outbound ${rss[1]} KiB (JS heap ${heap[0]}/${heap[1]} KiB, external ${ext[0]}/${ext[1]} KiB)`);
    for (const s of held) s.destroy();
  }

  for (const s of [inbound, outbound]) s.child.kill('SIGINT');
  sink.server.close();
}

if (process.argv[2] === '--child') {
  process.once('message', ({ material, target }) => runSidecar(process.argv[3], material, target).catch((e) => { console.error(e); process.exit(1); }));
} else {
  main().catch((e) => { console.error(e); process.exit(1); });
}
