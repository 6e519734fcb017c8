#!/usr/bin/env node
// bench/ca-sign: signatures per second and p50/p99 latency of `ztmesh ca serve` (gRPC over TLS) at 1, 16 and 64
// concurrent clients, side by side in the same run with Cloudflare's `cfssl serve` (HTTP API) signing the same CSR
// with the same CA key. Prints both and the ratio. Run with `npm run bench:ca` (builds first).
//
// Fairness notes: one load-generator process drives both servers (same CPU budget for clients), through node core
// clients only: cfssl gets an HTTP/1.1 keep-alive pool with one socket per client, ztmesh one HTTP/2 TLS session per 8 clients. ztmesh authenticates each call
// by renewal (its SVID as TLS client certificate) and runs with --rate-limit 0; cfssl's HTTP API has no authentication.
// Env: BENCH_SECONDS (default 5), BENCH_CONCURRENCY (default "1,16,64"), BENCH_SIGN_WORKERS (ztmesh --sign-workers),
// BENCH_CA_NODE_ARGS (extra node flags for the CA, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"), BENCH_CA_PROCESSES
// (N CA processes on one --dir, like replicas; sessions are spread over them).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(root, 'bin/ztmesh.js');
const { loadCaProto } = await import(join(root, 'dist/common/ca-proto.js'));
const pki = await import(join(root, 'dist/pki/index.js'));

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const LEVELS = (process.env.BENCH_CONCURRENCY ?? '1,16,64').split(',').map(Number);
const WARMUP_MS = 1000;
const TD = 'bench.local';
const ID = `spiffe://${TD}/ns/bench/sa/client`;

function ensureCfssl() {
  if (spawnSync('cfssl', ['version']).status === 0) return;
  console.error('cfssl not found; installing golang-cfssl with apt-get');
  execFileSync('apt-get', ['install', '-y', '-qq', 'golang-cfssl'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function freePort() {
  return new Promise((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
}

function waitForLine(child, re, what) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d) => { buf += d; const m = buf.split('\n').find((l) => re.test(l)); if (m) resolve(m); };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${what} exited with ${code}:\n${buf}`)));
    setTimeout(() => reject(new Error(`${what} did not start:\n${buf}`)), 20_000).unref();
  });
}

/** CPU seconds (user+sys) a process has used so far, from /proc (Linux); undefined elsewhere. */
function cpuSeconds(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN;
}

/** Runs `concurrency` closed loops of `once()` for SECONDS after a warm-up; returns rate and latency percentiles. */
async function load(concurrency, once, pids) {
  const cpuAll = () => [pids].flat().reduce((sum, pid) => (sum === undefined ? undefined : ((c) => (c === undefined ? undefined : sum + c))(cpuSeconds(pid))), 0);
  let measuring = false;
  let stop = false;
  const lat = [];
  let errors = 0;
  const loop = async () => {
    while (!stop) {
      const t = process.hrtime.bigint();
      try { await once(); } catch (e) { errors++; if (errors < 3) console.error(`  error: ${e.message}`); }
      if (measuring) lat.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  measuring = true;
  const cpu0 = cpuAll();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu1 = cpuAll();
  const done = lat.length;
  stop = true;
  await Promise.all(loops);
  lat.sort((a, b) => a - b);
  const cpuMsPerSig = cpu0 !== undefined && cpu1 !== undefined && done > 0 ? ((cpu1 - cpu0) * 1000) / done : NaN;
  return { rate: done / elapsed, p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), errors, cpuMsPerSig };
}

ensureCfssl();
const children = [];
process.on('exit', () => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); });
const work = mkdtempSync(join(tmpdir(), 'ztmesh-bench-ca-'));
const dir = join(work, 'ca');
execFileSync(process.execPath, [BIN, 'ca', 'init', '--dir', dir, '--trust-domain', TD], { stdio: 'ignore' });

// One CSR, signed by both CAs again and again.
const key = pki.generateKeySync('ec-p256');
const csrDer = pki.buildCsr(key, { uris: [ID] });
const csrPem = pki.toPem(csrDer, 'CERTIFICATE REQUEST');

// --- ztmesh ca serve
const caArgs = [...(process.env.BENCH_CA_NODE_ARGS ? process.env.BENCH_CA_NODE_ARGS.split(' ') : []), BIN, 'ca', 'serve', '--dir', dir, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--rate-limit', '0', '--max-ttl', '24h'];
if (process.env.BENCH_SIGN_WORKERS) caArgs.push('--sign-workers', process.env.BENCH_SIGN_WORKERS);
// Info level on purpose: the audit line per issuance is part of the cost of signing.
// BENCH_CA_PROCESSES=N starts N CA processes on the same --dir (like N replicas) and spreads sessions over them.
const caProcs = [];
for (let i = 0; i < Number(process.env.BENCH_CA_PROCESSES ?? 1); i++) {
  const p = spawn(process.execPath, caArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(p);
  caProcs.push(p);
}
const ca = caProcs[0];
const ready = spawn(process.execPath, [BIN, 'ca', 'token', 'create', '--dir', dir, '--spiffe-id', ID], { stdio: ['ignore', 'pipe', 'pipe'] });
const token = (await new Promise((r) => { let o = ''; ready.stdout.on('data', (d) => (o += d)); ready.on('exit', () => r(o.trim())); }));
const caInfos = await Promise.all(caProcs.map((p) => waitForLine(p, /"msg":"ztmesh ca serving"/, 'ztmesh ca serve').then((l) => JSON.parse(l))));
const caAddresses = caInfos.map((i) => i.grpc);
const caAddress = caAddresses[0];
const signer = `${caInfos[0].signer}${caProcs.length > 1 ? ` x ${caProcs.length} processes` : ''}`;
const bundlePem = readFileSync(join(dir, 'bundle.pem'));
const { proto } = loadCaProto();
const opts = { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost', 'grpc.use_local_subchannel_pool': 1 };
const bootstrap = new proto.ztmesh.ca.v1.CertificateAuthority(caAddress, grpc.credentials.createSsl(bundlePem), opts);
const md = new grpc.Metadata();
md.set('authorization', `Bearer ${token}`);
const first = await new Promise((res, rej) => bootstrap.SignCertificate({ csr: csrDer, ttlSeconds: 3600 }, md, (e, r) => (e ? rej(e) : res(r))));
bootstrap.close();
const clientCert = Buffer.from(pki.certsToPem(first.certChain));
const clientKey = Buffer.from(pki.privateKeyPem(key));

// The load generator speaks gRPC over node:http2 directly (a 5-byte frame around a hand-encoded request): grpc-js's
// client costs more CPU per call than the CA spends serving it, and load generator and servers share the 2 cores.
// The first call above went through grpc-js, so the wire format is the real one.
function varint(n) {
  const out = [];
  while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n >>>= 7; }
  out.push(n);
  return Buffer.from(out);
}
const message = Buffer.concat([Buffer.from([0x0a]), varint(csrDer.length), csrDer, Buffer.from([0x10]), varint(3600)]);
const grpcFrame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), message]);
grpcFrame.writeUInt32BE(message.length, 1);

function ztmeshClients(concurrency) {
  const sessions = Array.from({ length: Math.max(caAddresses.length, Math.ceil(concurrency / 8)) }, (_, i) =>
    http2.connect(`https://${caAddresses[i % caAddresses.length]}`, { ca: bundlePem, cert: clientCert, key: clientKey, servername: 'localhost' }));
  for (const s of sessions) s.on('error', () => undefined);
  let i = 0;
  const once = () => new Promise((res, rej) => {
    const stream = sessions[i++ % sessions.length].request({
      ':method': 'POST', ':path': '/ztmesh.ca.v1.CertificateAuthority/SignCertificate', 'content-type': 'application/grpc', te: 'trailers',
    });
    let bytes = 0;
    let settled = false;
    const finish = (headers) => {
      if (settled || headers['grpc-status'] === undefined) return;
      settled = true;
      if (headers['grpc-status'] === '0' && bytes > 100) res();
      else rej(new Error(`grpc-status ${headers['grpc-status']}: ${headers['grpc-message']}`));
    };
    stream.on('response', finish);
    stream.on('trailers', finish);
    stream.on('data', (d) => (bytes += d.length));
    stream.on('error', (e) => { if (!settled) { settled = true; rej(e); } });
    stream.on('close', () => { if (!settled) { settled = true; rej(new Error('stream closed without status')); } });
    stream.end(grpcFrame);
  });
  return { once, close: () => sessions.forEach((s) => s.close()) };
}

// --- cfssl serve, same CA key and certificate
const cfPort = await freePort();
writeFileSync(join(work, 'cfssl.json'), JSON.stringify({ signing: { default: { expiry: '1h', usages: ['digital signature', 'server auth', 'client auth'] } } }));
const cf = spawn('cfssl', ['serve', '-address', '127.0.0.1', '-port', String(cfPort), '-ca', join(dir, 'ca.pem'), '-ca-key', join(dir, 'ca.key'), '-config', join(work, 'cfssl.json'), '-loglevel', '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
children.push(cf);
cf.stderr.resume();
cf.stdout.resume();
for (let i = 0; ; i++) {
  const up = await new Promise((r) => net.connect(cfPort, '127.0.0.1').on('connect', function () { this.destroy(); r(true); }).on('error', () => r(false)));
  if (up) break;
  if (i > 100 || cf.exitCode !== null) throw new Error('cfssl serve did not start');
  await new Promise((r) => setTimeout(r, 100));
}
const cfBody = JSON.stringify({ certificate_request: csrPem });

function cfsslClients(concurrency) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const once = () => new Promise((res, rej) => {
    const req = http.request({ host: '127.0.0.1', port: cfPort, path: '/api/v1/cfssl/sign', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(cfBody) } }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (d) => (body += d));
      r.on('end', () => (r.statusCode === 200 && body.includes('"success":true') ? res() : rej(new Error(`cfssl ${r.statusCode}: ${body.slice(0, 200)}`))));
    });
    req.on('error', rej);
    req.end(cfBody);
  });
  return { once, close: () => agent.destroy() };
}

const rows = [];
console.log(`ca-sign: ${SECONDS}s per run after ${WARMUP_MS}ms warm-up; ztmesh signer ${signer}; ${process.env.BENCH_NOTE ?? ''}`);
for (const c of LEVELS) {
  const z = ztmeshClients(c);
  const zr = await load(c, z.once, caProcs.map((p) => p.pid));
  z.close();
  const f = cfsslClients(c);
  const fr = await load(c, f.once, cf.pid);
  f.close();
  rows.push({ clients: c, ztmesh: zr, cfssl: fr, ratio: zr.rate / fr.rate });
  console.log(`  ${String(c).padStart(2)} clients: ztmesh ${zr.rate.toFixed(0)}/s (p50 ${zr.p50.toFixed(2)} ms, p99 ${zr.p99.toFixed(2)} ms) | cfssl ${fr.rate.toFixed(0)}/s (p50 ${fr.p50.toFixed(2)} ms, p99 ${fr.p99.toFixed(2)} ms) | ratio ${(zr.rate / fr.rate).toFixed(2)}x | server CPU per signature: ztmesh ${zr.cpuMsPerSig.toFixed(3)} ms, cfssl ${fr.cpuMsPerSig.toFixed(3)} ms`);
}
console.log(`\nload average at end: ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')} (${(await import('node:os')).availableParallelism()} cores)`);
console.log('\n| clients | ztmesh sig/s | ztmesh p50 / p99 (ms) | cfssl sig/s | cfssl p50 / p99 (ms) | ztmesh ÷ cfssl | server CPU ms/sig ztmesh / cfssl |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(`| ${r.clients} | ${r.ztmesh.rate.toFixed(0)} | ${r.ztmesh.p50.toFixed(2)} / ${r.ztmesh.p99.toFixed(2)} | ${r.cfssl.rate.toFixed(0)} | ${r.cfssl.p50.toFixed(2)} / ${r.cfssl.p99.toFixed(2)} | ${r.ratio.toFixed(2)}× | ${r.ztmesh.cpuMsPerSig.toFixed(3)} / ${r.cfssl.cpuMsPerSig.toFixed(3)} |`);
}
for (const c of children) c.kill('SIGTERM');
await Promise.race([Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r() : c.on('exit', r))))), new Promise((r) => setTimeout(r, 10_000))]);
process.exit(0);
