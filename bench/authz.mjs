#!/usr/bin/env node
// bench/authz: issue 21's two speed targets for authorization policy.
//   1. The decision (src/policy/decide.ts, compiled once per version): 1,000 policies selecting one workload with
//      10,000 principal patterns between them (exact IDs, prefixes, namespaces; ALLOW, DENY and dry-run), decided for
//      random peers and ports (peers seen before: their parsed keys are memoized per compiled set), each call timed
//      alone; and once for peers never seen. Target: p99 ≤ 5 µs.
//   2. Propagation: a real `ztmesh ca serve --policy-dir` and BENCH_SIDECARS (default 50) real `ztmesh sidecar`
//      processes; a policy file selecting all of them is edited BENCH_CHANGES times (default 10), and each change is
//      timed from the write until every sidecar logged that it applied the new version (and the CA saw them all ack it).
//      Target: every sidecar within 2 s. The sidecars start BENCH_START_BATCH (default 10) at a time.
// Writes bench/results/authz-<date>.json and the "Authorization policy" section of docs/bench.md. Run: npm run bench:authz
// (BENCH_SIDECARS=0 runs the decision alone).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(root, 'bin/ztmesh.js');
const SIDECARS = Number(process.env.BENCH_SIDECARS ?? 50);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 10);
const BATCH = Number(process.env.BENCH_START_BATCH ?? 10);
const POLICIES = 1_000;
const PRINCIPALS = 10_000;
const DECISIONS = 200_000;
const TD = 'cluster.local';

const { compilePolicies } = await import(join(root, 'dist/policy/compile.js'));
const { decide } = await import(join(root, 'dist/policy/decide.js'));
const { JoinTokenStore } = await import(join(root, 'dist/ca/attestors/join-tokens.js'));
const { LineProcess } = await import(join(root, 'dist/common/line-process.js'));
const { writeAuthzSection } = await import('./lib/authz-report.mjs');

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
// A fixed-seed generator: every run decides the same set and the same connections.
let seed = 21;
const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
const pick = (list) => list[Math.floor(rand() * list.length)];

const loadAtStart = Number(loadavg()[0].toFixed(1));

// --- 1. the decision
const WORKLOAD = `spiffe://${TD}/ns/shop/sa/db`;
const namespaces = Array.from({ length: 200 }, (_, i) => `ns${i}`);
const peers = Array.from({ length: 5_000 }, (_, i) => `spiffe://${TD}/ns/${namespaces[i % 200]}/sa/svc${i}`);
const ports = Array.from({ length: 20 }, (_, i) => 8000 + i);
const policies = [];
let patterns = 0;
for (let i = 0; i < POLICIES; i++) {
  const principals = [];
  for (let k = 0; k < PRINCIPALS / POLICIES; k++) {
    principals.push(rand() < 0.7 ? pick(peers) : `spiffe://${TD}/ns/${pick(namespaces)}/*`);
    patterns++;
  }
  const deny = i % 20 === 0;
  policies.push({
    namespace: i % 10 === 0 ? 'ztmesh-system' : 'shop', name: `p${i}`, action: deny ? 'DENY' : 'ALLOW', dryRun: i % 100 === 1,
    ...(i % 10 === 0 ? {} : { selector: { serviceAccounts: ['db', `sa${i}`] } }),
    rules: [{ from: [{ principals }, ...(i % 7 === 0 ? [{ namespaces: [pick(namespaces)] }] : [])], ...(deny ? {} : { to: [{ ports: [pick(ports), pick(ports)] }] }) }],
  });
}
let t = performance.now();
const compiled = compilePolicies({ defaultPolicy: 'deny', policies }, { trustDomain: TD, workload: WORKLOAD });
const compileMs = performance.now() - t;
if (compiled.policies.length !== POLICIES) throw new Error(`only ${compiled.policies.length} policies select the workload`);
const requests = Array.from({ length: 4_096 }, () => ({ peerId: rand() < 0.9 ? pick(peers) : `spiffe://${TD}/ns/unknown/sa/x${Math.floor(rand() * 1e6)}`, port: pick(ports) }));
let allowed = 0;
for (let i = 0; i < 50_000; i++) decide(compiled, requests[i & 4095]); // warm-up: the JIT settles
const samples = new Float64Array(DECISIONS);
for (let i = 0; i < DECISIONS; i++) {
  const r = requests[i & 4095];
  const t0 = process.hrtime.bigint();
  const d = decide(compiled, r);
  samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
  if (d.allow) allowed++;
}
// Peers never seen before (each ID parsed and its index keys built: the memo misses), timed the same way.
const cold = Array.from({ length: DECISIONS / 4 }, (_, i) => ({ peerId: `spiffe://${TD}/ns/${namespaces[i % 200]}/sa/cold${i}`, port: pick(ports) }));
const coldSamples = new Float64Array(cold.length);
for (let i = 0; i < cold.length; i++) {
  const t0 = process.hrtime.bigint();
  decide(compiled, cold[i]);
  coldSamples[i] = Number(process.hrtime.bigint() - t0) / 1000;
}
const coldSorted = Array.from(coldSamples).sort((a, b) => a - b);
// The timer's own cost, measured the same way around nothing, is reported beside (not subtracted).
const empty = new Float64Array(50_000);
for (let i = 0; i < empty.length; i++) {
  const t0 = process.hrtime.bigint();
  empty[i] = Number(process.hrtime.bigint() - t0) / 1000;
}
const sorted = Array.from(samples).sort((a, b) => a - b);
const timer = Array.from(empty).sort((a, b) => a - b);
t = performance.now();
for (let i = 0; i < DECISIONS; i++) decide(compiled, requests[i & 4095]);
const meanUs = ((performance.now() - t) * 1000) / DECISIONS;
const decision = {
  policies: POLICIES, principalPatterns: patterns, decisions: DECISIONS, allowedShare: Number((allowed / DECISIONS).toFixed(3)), compileMs: Number(compileMs.toFixed(1)),
  us: { p50: Number(pct(sorted, 0.5).toFixed(2)), p99: Number(pct(sorted, 0.99).toFixed(2)), p999: Number(pct(sorted, 0.999).toFixed(2)), meanUntimed: Number(meanUs.toFixed(3)) },
  coldPeerUs: { p50: Number(pct(coldSorted, 0.5).toFixed(2)), p99: Number(pct(coldSorted, 0.99).toFixed(2)) },
  timerUs: { p50: Number(pct(timer, 0.5).toFixed(2)), p99: Number(pct(timer, 0.99).toFixed(2)) },
};
console.log(`decision: ${POLICIES} policies, ${patterns} principal patterns, compiled in ${decision.compileMs} ms; p50 ${decision.us.p50} µs, p99 ${decision.us.p99} µs, p99.9 ${decision.us.p999} µs, mean ${decision.us.meanUntimed} µs untimed; a peer never seen: p50 ${decision.coldPeerUs.p50} µs, p99 ${decision.coldPeerUs.p99} µs (timer alone p99 ${decision.timerUs.p99} µs; target p99 ≤ 5 µs)`);

// --- 2. propagation to real sidecar processes
let propagation;
if (SIDECARS > 0) {
  const work = mkdtempSync(join(tmpdir(), 'ztmesh-bench-authz-'));
  const children = [];
  process.on('exit', () => { for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL'); });
  const child = (argv, name) => {
    const p = new LineProcess([process.execPath, BIN, ...argv], { name, env: { ZTMESH_LOG_FORMAT: 'json' } });
    children.push(p);
    return p;
  };
  const dir = join(work, 'ca');
  const policyDir = join(work, 'policies');
  mkdirSync(policyDir);
  const writePolicy = (port) => {
    const doc = {
      apiVersion: 'ztmesh.io/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name: 'bench', namespace: 'bench' },
      spec: { rules: [{ from: [{ namespaces: ['bench'] }], to: [{ ports: [port] }] }] },
    };
    writeFileSync(join(policyDir, '.bench.json'), JSON.stringify(doc));
    renameSync(join(policyDir, '.bench.json'), join(policyDir, 'bench.json'));
  };
  writePolicy(1);
  execFileSync(process.execPath, [BIN, 'ca', 'init', '--dir', dir, '--trust-domain', TD], { stdio: 'ignore' });
  const ca = child(['ca', 'serve', '--dir', dir, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--rate-limit', '0', '--sign-workers', '1',
    '--max-connections-per-source', '10000', '--policy-dir', policyDir, '--default-policy', 'deny'], 'ca');
  const serving = JSON.parse(await ca.waitFor(/"msg":"ztmesh ca serving"/, 60_000));
  const tokens = new JoinTokenStore(dir);
  writeFileSync(join(work, 'roots.pem'), readFileSync(join(dir, 'bundle.pem')));
  t = performance.now();
  const sidecars = [];
  const applied = /"msg":"authorization policy applied/;
  // Started BATCH at a time: 50 node processes starting at once on 2 shared cores push a first signature past its
  // deadline, after the CA has already spent the single-use join token.
  for (let i = 0; i < SIDECARS; i++) {
    const spiffeId = `spiffe://${TD}/ns/bench/sa/s${i}`;
    const tokenFile = join(work, `t${i}`);
    writeFileSync(tokenFile, (await tokens.create(spiffeId, 600_000, Date.now())).token, { mode: 0o600 });
    sidecars.push(child(['sidecar', '--trust-domain', TD, '--ca-address', serving.grpc, '--ca-bundle', join(work, 'roots.pem'), '--token-file', tokenFile,
      '--ca-server-name', 'localhost', '--spiffe-id', spiffeId, '--admin', '127.0.0.1:0', '--health', '127.0.0.1:0',
      '--inbound', JSON.stringify([{ name: 'in', listen: '127.0.0.1:0', forward: '127.0.0.1:9' }])], `sidecar ${i}`));
    if (sidecars.length % BATCH === 0) await Promise.all(sidecars.slice(-BATCH).map((s) => s.waitFor(applied, 300_000)));
  }
  await Promise.all(sidecars.map((s) => s.waitFor(applied, 300_000)));
  const startMs = performance.now() - t;
  console.log(`${SIDECARS} sidecar processes hold their first policy set after ${(startMs / 1000).toFixed(1)} s`);
  const policiesReport = async () => (await fetch(`http://${serving.admin}/policies`)).json();
  const latencies = [];
  const ackLatencies = [];
  for (let n = 0; n < CHANGES; n++) {
    const from = sidecars.map((s) => s.lines.length);
    const t0 = Date.now();
    writePolicy(2 + n);
    let all;
    for (;;) {
      const times = sidecars.map((s, i) => s.lines.slice(from[i]).find((l) => applied.test(l))).filter(Boolean).map((l) => Date.parse(JSON.parse(l).time));
      if (times.length === SIDECARS) { all = Math.max(...times) - t0; break; }
      if (Date.now() - t0 > 30_000) throw new Error(`change ${n}: ${times.length} of ${SIDECARS} sidecars applied it within 30 s`);
      await new Promise((r) => setTimeout(r, 10));
    }
    // The CA's view: every sidecar acknowledged the version it is owed.
    for (;;) {
      const r = await policiesReport();
      if (r.sidecars.length >= SIDECARS && r.sidecars.every((s) => s.upToDate)) { ackLatencies.push(Date.now() - t0); break; }
      if (Date.now() - t0 > 30_000) throw new Error(`change ${n}: the CA did not see every ack within 30 s`);
      await new Promise((r2) => setTimeout(r2, 10));
    }
    latencies.push(all);
  }
  latencies.sort((a, b) => a - b);
  ackLatencies.sort((a, b) => a - b);
  propagation = {
    sidecars: SIDECARS, changes: CHANGES, firstSetToAllMs: Math.round(startMs),
    changeToAllSidecarsMs: { p50: pct(latencies, 0.5), max: latencies.at(-1) }, ackedAtCaMs: { p50: pct(ackLatencies, 0.5), max: ackLatencies.at(-1) },
  };
  console.log(`a policy change reaches all ${SIDECARS} sidecars: p50 ${propagation.changeToAllSidecarsMs.p50} ms, max ${propagation.changeToAllSidecarsMs.max} ms (target ≤ 2000 ms); every ack at the CA: p50 ${propagation.ackedAtCaMs.p50} ms, max ${propagation.ackedAtCaMs.max} ms`);
  await Promise.all(children.map((c) => c.stop()));
  rmSync(work, { recursive: true, force: true });
}

const result = { at: new Date().toISOString(), node: process.version, loadAtStart, decision, ...(propagation ? { propagation } : {}) };
const name = `authz-${result.at.replace(/[:.]/g, '-').slice(0, 19)}Z.json`;
writeFileSync(join(root, 'bench', 'results', name), `${JSON.stringify(result, null, 2)}\n`);
if (propagation) {
  writeAuthzSection(join(root, 'docs', 'bench.md'), { file: name, result });
  console.log(`results: bench/results/${name}; docs/bench.md "Authorization policy" updated`);
} else console.log(`results: bench/results/${name} (docs/bench.md keeps its section: it needs a propagation run)`);
process.exit(0);
