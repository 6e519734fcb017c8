#!/usr/bin/env node
// bench/mesh-scale: issue 20's scale targets for membership, measured with real processes. The stand-in Kubernetes API
// server (test/helpers/fake-apiserver.ts, compiled here with tsc) holds 10,000 meshed pods behind 2,000 Services; a real
// `ztmesh ca serve --k8s-mesh-watch` lists and watches them; subscriber processes (bench/lib/mesh-subscriber.mjs: the
// sidecar's own mesh client and membership code) hold BENCH_SIDECARS mesh streams. It reports:
//   - the heap one sidecar's membership takes (set and stream client; target ≤ 5 MB for the set),
//   - how long a change (a pod added, then deleted) takes to reach every connected sidecar (target ≤ 2 s),
//   - the CA's CPU per churn event with that many streams connected.
// Env: BENCH_SIDECARS (default 100), BENCH_PER_PROCESS (streams per subscriber process, default 10), BENCH_CHURN
// (churn events, default 200), BENCH_PODS / BENCH_SERVICES (default 10000 / 2000). Run: npm run bench:mesh.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(root, 'bin/ztmesh.js');
const SIDECARS = Number(process.env.BENCH_SIDECARS ?? 100);
const PER_PROCESS = Number(process.env.BENCH_PER_PROCESS ?? 10);
const CHURN = Number(process.env.BENCH_CHURN ?? 200);
const PODS = Number(process.env.BENCH_PODS ?? 10_000);
const SERVICES = Number(process.env.BENCH_SERVICES ?? 2_000);
const TD = 'cluster.local';

// The stand-in API server is TypeScript; compile it (and what it imports) next to node_modules so imports resolve.
const build = join(root, 'node_modules', '.cache', 'ztmesh-bench');
execFileSync(join(root, 'node_modules', '.bin', 'tsc'), [
  '--ignoreConfig', '--outDir', build, '--rootDir', root, '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022',
  '--skipLibCheck', '--strict', '--types', 'node', join(root, 'test/helpers/fake-apiserver.ts'),
], { stdio: 'inherit' });
const { startFakeApiServer } = await import(join(build, 'test/helpers/fake-apiserver.js'));
const { JoinTokenStore } = await import(join(root, 'dist/ca/attestors/join-tokens.js'));
const { LineProcess } = await import(join(root, 'dist/common/line-process.js'));
const { writeMeshSection } = await import('./lib/mesh-report.mjs');
const { cpuSeconds, statusKb } = await import('./lib/sys.mjs');

const children = [];
process.on('exit', () => { for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL'); });
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
const ms = (v) => `${v.toFixed(0)} ms`;
/** A child node process whose output lines are kept (src/common/line-process.ts, as the demo and the tests use it). */
const child = (argv, name) => {
  const p = new LineProcess([process.execPath, ...argv], { name });
  children.push(p);
  return p;
};

// --- the cluster: 10,000 meshed pods, 2,000 Services with 5 endpoints each
const api = await startFakeApiServer();
const ipOf = (i) => `10.${2 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const pod = (i, name = `app${i % SERVICES}-${i}`, ip = ipOf(i)) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: `ns-${i % 50}`, labels: { app: `app${i % SERVICES}`, 'ztmesh.io/meshed': 'true' } },
  spec: { serviceAccountName: `app${i % SERVICES}`, containers: [{ name: 'app', image: 'x' }] },
  status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True' }] },
});
let t = performance.now();
for (let i = 0; i < PODS; i++) api.apply(pod(i));
for (let j = 0; j < SERVICES; j++) {
  const ns = `ns-${j % 50}`;
  api.apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: `app${j}`, namespace: ns }, spec: { clusterIP: `10.200.${j >> 8}.${j & 255}`, ports: [{ port: 80 }, { port: 443 }] } });
  api.apply({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4', metadata: { name: `app${j}-x`, namespace: ns, labels: { 'kubernetes.io/service-name': `app${j}` } },
    endpoints: [0, 1, 2, 3, 4].map((k) => j + k * SERVICES).filter((i) => i < PODS).map((i) => ({ addresses: [ipOf(i)], conditions: { ready: true } })),
  });
}
console.log(`stand-in API server: ${PODS} pods, ${SERVICES} Services and EndpointSlices stored (${ms(performance.now() - t)})`);

// --- the CA
const work = mkdtempSync(join(tmpdir(), 'ztmesh-bench-mesh-'));
const dir = join(work, 'ca');
execFileSync(process.execPath, [BIN, 'ca', 'init', '--dir', dir, '--trust-domain', TD], { stdio: 'ignore' });
const ca = child([BIN, 'ca', 'serve', '--dir', dir, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--rate-limit', '0', '--sign-workers', '1',
  '--max-connections-per-source', '100000', '--max-connections', '100000', '--k8s-mesh-watch', '--k8s-api', api.url, '--k8s-token-file', api.tokenFile,
  '--k8s-ca-file', api.caFile, '--k8s-server-name', api.serverName], 'ca');
const caPid = ca.child.pid;
const serving = JSON.parse(await ca.waitFor(/"msg":"ztmesh ca serving"/, 60_000));
t = performance.now();
await ca.waitFor(/Kubernetes membership listed: serving it/, 60_000);
console.log(`CA ${serving.grpc}: membership listed and served after ${ms(performance.now() - t)}; RSS ${(statusKb(caPid, 'VmRSS') / 1e6).toFixed(0)} MB`);

// --- the sidecars
const tokens = new JoinTokenStore(dir);
const tokenDir = join(work, 'tokens');
mkdirSync(tokenDir);
const bundlePem = readFileSync(join(dir, 'bundle.pem'), 'utf8');
const procs = [];
t = performance.now();
for (let p = 0; p * PER_PROCESS < SIDECARS; p++) {
  const streams = [];
  for (let i = p * PER_PROCESS; i < Math.min(SIDECARS, (p + 1) * PER_PROCESS); i++) {
    const spiffeId = `spiffe://${TD}/ns/bench/sa/sidecar-${i}`;
    const tokenFile = join(tokenDir, `t${i}`);
    writeFileSync(tokenFile, (await tokens.create(spiffeId, 600_000, Date.now())).token, { mode: 0o600 });
    streams.push({ spiffeId, tokenFile });
  }
  const specFile = join(work, `sub-${p}.json`);
  writeFileSync(specFile, JSON.stringify({ caAddress: serving.grpc, bundlePem, trustDomain: TD, tokens: streams }));
  procs.push(child(['--expose-gc', join(root, 'bench/lib/mesh-subscriber.mjs'), specFile], `subscriber ${p}`));
}
const heaps = await Promise.all(procs.map(async (c) => JSON.parse(await c.waitFor(/"heap"/, 300_000)).heap));
const snapshotMs = performance.now() - t;
const perSet = heaps.map((h) => h.perSetBytes).sort((a, b) => a - b);
/** Every update the subscribers applied since `from` (line counts per process), as { t, keys }. */
const updatesSince = (from) => procs.flatMap((c, i) => c.lines.slice(from[i]).filter((l) => l.startsWith('{"update"')).map((l) => JSON.parse(l)));
console.log(`${SIDECARS} sidecars (${procs.length} processes) hold the snapshot after ${ms(snapshotMs)}; heap per sidecar (set and stream client): median ${(pct(perSet, 0.5) / 1e6).toFixed(2)} MB, max ${(perSet.at(-1) / 1e6).toFixed(2)} MB`);

// --- churn: one pod at a time, added then deleted; each waits until every sidecar applied it
async function reachAll(key, change) {
  const from = procs.map((c) => c.lines.length);
  const t0 = Date.now();
  change();
  for (;;) {
    const seen = updatesSince(from).filter((u) => u.keys.includes(key));
    if (seen.length >= SIDECARS) return Math.max(...seen.map((u) => u.t)) - t0;
    if (Date.now() - t0 > 30_000) throw new Error(`${key}: reached ${seen.length} of ${SIDECARS} sidecars in 30 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
const latencies = [];
const cpu0 = cpuSeconds(caPid);
const churnT0 = performance.now();
for (let n = 0; n < CHURN; n++) {
  const i = PODS + n;
  const name = `churn-${n}`;
  const key = `pod/ns-${i % 50}/${name}`;
  const ip = ipOf(i);
  latencies.push(await reachAll(key, () => api.apply(pod(i, name, ip))));
  latencies.push(await reachAll(key, () => api.remove('Pod', name, `ns-${i % 50}`)));
}
const churnSeconds = (performance.now() - churnT0) / 1000;
const cpuMsPerEvent = ((cpuSeconds(caPid) - cpu0) * 1000) / (2 * CHURN);
latencies.sort((a, b) => a - b);
const result = {
  at: new Date().toISOString(), node: process.version, pods: PODS, services: SERVICES, sidecars: SIDECARS, processes: procs.length, churnEvents: 2 * CHURN,
  snapshotToAllMs: Math.round(snapshotMs),
  heapPerSidecarBytes: { median: pct(perSet, 0.5), max: perSet.at(-1) },
  changeToAllSidecarsMs: { p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), max: latencies.at(-1) },
  caCpuMsPerEvent: Number(cpuMsPerEvent.toFixed(3)),
  caRssBytes: statusKb(caPid, 'VmRSS'), caPeakRssBytes: statusKb(caPid, 'VmHWM'), churnSeconds: Number(churnSeconds.toFixed(1)),
};
console.log(`a change reaches all ${SIDECARS} sidecars: p50 ${ms(result.changeToAllSidecarsMs.p50)}, p99 ${ms(result.changeToAllSidecarsMs.p99)}, max ${ms(result.changeToAllSidecarsMs.max)} (target ≤ 2000 ms)`);
console.log(`CA CPU per churn event with ${SIDECARS} streams: ${result.caCpuMsPerEvent} ms; CA RSS ${(result.caRssBytes / 1e6).toFixed(0)} MB (peak ${(result.caPeakRssBytes / 1e6).toFixed(0)} MB)`);
const name = `mesh-scale-${result.at.replace(/[:.]/g, '-').slice(0, 19)}Z.json`;
writeFileSync(join(root, 'bench', 'results', name), `${JSON.stringify(result, null, 2)}\n`);
writeMeshSection(join(root, 'docs', 'bench.md'), { file: name, result });
console.log(`results: bench/results/${name}; docs/bench.md "Mesh stream at scale" updated`);
await Promise.all(children.map((c) => c.stop()));
await api.close();
process.exit(0);
