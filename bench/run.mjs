#!/usr/bin/env node
// `npm run bench`: the side-by-side benchmark of issue 7. Starts an app, then for every workload, round and
// contender a fresh pair of proxies (A: plain in, mTLS out; B: mTLS in, plain out), measures, and writes
// bench/results/<date>.md and .json. Flags: --quick (smoke run), --rounds N, --idle-rounds N,
// --contenders a,b  --workloads x,y  --no-profile  --no-docs  --out DIR  --ztmesh-root DIR.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir, loadavg, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  ensurePackages, raiseLimits, nofileLimit, machineInfo, versions, loadSnapshot, killAllStarted, freePort, sampleMemory,
} from './lib/sys.mjs';
import { makeBenchCerts } from './lib/certs.mjs';
import { startHttpApp, startEchoSink } from './lib/apps.mjs';
import { sanityCheck } from './lib/sanity.mjs';
import { WORKLOADS, plan as makePlan } from './lib/workloads.mjs';
import { direct } from './lib/contenders/direct.mjs';
import { stunnel } from './lib/contenders/stunnel.mjs';
import { haproxy } from './lib/contenders/haproxy.mjs';
import { nginx } from './lib/contenders/nginx.mjs';
import { ztmesh, ztmeshRaw, makeZtmesh, ztmeshAvailable } from './lib/contenders/ztmesh.mjs';
import { profileZtmesh } from './lib/profile.mjs';
import { renderReport, renderDocsSummary } from './lib/report.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');

function parseArgs(argv) {
  const o = { render: undefined, nice: 0, profileWorkloads: ['rr32', 'conn16', 'bulk'], variants: [], ztmeshRoot: undefined, quick: false, rounds: undefined, idleRounds: undefined, contenders: undefined, workloads: undefined, profile: true, out: undefined, docs: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--quick') o.quick = true;
    else if (a === '--rounds') o.rounds = Number(next());
    else if (a === '--idle-rounds') o.idleRounds = Number(next());
    else if (a === '--contenders') o.contenders = next().split(',');
    else if (a === '--workloads') o.workloads = next().split(',');
    else if (a === '--no-profile') o.profile = false;
    else if (a === '--nice') o.nice = Number(next());
    else if (a === '--render') o.render = next();
    else if (a === '--profile-workloads') o.profileWorkloads = next().split(',');
    else if (a === '--no-docs') o.docs = false;
    else if (a === '--out') o.out = next();
    else if (a === '--ztmesh-root') o.ztmeshRoot = next();
    else if (a === '--variant') {
      const [dir, name, flags] = next().split(':');
      o.variants.push({ dir: dir || undefined, name: name || `ztmesh-v${o.variants.length + 1}`, flags: flags ? flags.split(' ') : [] });
    }
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: node bench/run.mjs [--quick] [--rounds N] [--idle-rounds N] [--contenders direct,ztmesh,ztmesh-raw,stunnel,haproxy,nginx] [--workloads bulk,rr1,rr32,conn1,conn16,idle] [--nice N] [--render RESULTS.json] [--no-profile] [--profile-workloads rr32,conn16,bulk] [--no-docs] [--out DIR] [--ztmesh-root DIR] [--variant [DIR]:NAME[:NODE_FLAGS] ...]\n  --ztmesh-root: run ztmesh from another copy (bin/ + dist/); --variant: add that copy as one more contender, side by side\n\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  // Smoke runs go to the git-ignored results/tmp so that only full runs land next to the committed reports.
  o.out ??= o.quick ? join(HERE, 'results', 'tmp') : join(HERE, 'results');
  return o;
}

const log = (msg) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

function fmtCell(workload, r) {
  if (!r.ok) return `ERROR ${r.error.split('\n')[0]}`;
  const v = workload === 'idle' ? `${r.value.toFixed(1)} KB/conn` : `${r.value.toFixed(0)} ${WORKLOADS.find((w) => w.name === workload).unit}`;
  const lat = r.p99us !== undefined ? ` p50 ${r.p50us}µs p99 ${r.p99us}µs` : '';
  const anon = r.anonPeakA !== undefined ? ` anon ${(r.anonRestA / 1048576).toFixed(1)}/${(r.anonRestB / 1048576).toFixed(1)}→${(r.anonPeakA / 1048576).toFixed(1)}/${(r.anonPeakB / 1048576).toFixed(1)}MiB` : '';
  return `${v}${lat} cpu ${(r.cpuA ?? 0).toFixed(2)}+${(r.cpuB ?? 0).toFixed(2)}s${anon}${r.errors ? ` errors ${r.errors}` : ''}`;
}

/** `--render X.json`: rewrites X.md (and docs/bench.md unless --no-docs) from raw results, e.g. after editing analysis.md. */
function renderOnly(opts) {
  const results = JSON.parse(readFileSync(opts.render, 'utf8'));
  writeFileSync(opts.render.replace(/\.json$/, '.md'), renderReport(results));
  if (opts.docs && !results.meta.quick) writeFileSync(join(ROOT, 'docs', 'bench.md'), renderDocsSummary(results, `bench/results/${results.meta.date}.md`));
  log(`rendered ${opts.render.replace(/\.json$/, '.md')}`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.render) return renderOnly(opts);
  const started = new Date();
  const stamp = started.toISOString().replace(/:/g, '-').replace(/\..*/, 'Z');
  const plan = makePlan(opts.quick);
  const rounds = opts.rounds ?? (opts.quick ? 1 : 3);
  // Held connections take minutes of handshakes per round, and memory per connection barely varies: one round
  // in a full run keeps the whole run under 10 minutes (override with --idle-rounds).
  const idleRounds = opts.idleRounds ?? 1;

  const installed = ensurePackages(log);
  if (opts.nice) {
    // Every process the bench starts inherits this priority: all contenders alike, ahead of unrelated load.
    setPriority(process.pid, opts.nice);
    log(`running at nice ${opts.nice}`);
  }
  const limits = raiseLimits(log);
  const nofile = nofileLimit();
  // Each held connection is two sockets in A and in B; keep 5 % of the limit for everything else.
  const maxIdle = Math.floor((nofile * 0.95) / 2);
  const notes = [];
  if (plan.idleSteps.some((s) => s > maxIdle)) {
    notes.push(`The open-files limit here is ${nofile} and could not be raised (no CAP_SYS_RESOURCE), so the largest idle step is ${maxIdle} connections instead of ${Math.max(...plan.idleSteps)}.`);
    plan.idleSteps = plan.idleSteps.map((s) => Math.min(s, maxIdle));
  }

  const dir = mkdtempSync(join(tmpdir(), 'ztmesh-bench-'));
  const ctx = { dir, certs: makeBenchCerts(dir), plan, nofile, log, root: ROOT, ztmeshRoot: opts.ztmeshRoot ?? ROOT };
  const cleanup = [];
  const onSignal = () => { killAllStarted(); rmSync(dir, { recursive: true, force: true }); process.exit(130); };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', killAllStarted);

  try {
    const machine = machineInfo();
    const vers = await versions();
    log(`machine: ${machine.nproc} × ${machine.cpuModel}, kernel ${machine.kernel}; load ${machine.loadavgAtStart}`);

    const app = await startHttpApp(dir);
    cleanup.push(() => app.proc.stop());
    const sink = await startEchoSink();
    cleanup.push(() => sink.proc.stop());
    const upstreams = { http: app.port, echo: sink.port };

    const variants = opts.variants.map((v) => makeZtmesh(v.name, v.dir ?? ctx.ztmeshRoot, v.flags));
    let all = [direct, ztmesh, ztmeshRaw, ...variants, stunnel, haproxy, nginx];
    const zt = await ztmeshAvailable(ctx.ztmeshRoot);
    if (!zt.ok) {
      notes.push(`ztmesh was left out: ${zt.reason}`);
      all = all.filter((c) => c !== ztmesh && c !== ztmeshRaw);
    }
    if (opts.contenders) all = all.filter((c) => opts.contenders.includes(c.name) || variants.includes(c));
    for (const [i, v] of variants.entries()) notes.push(`Contender ${v.name} is ztmesh run from ${v.root === ROOT ? 'this checkout' : v.root}${opts.variants[i].flags.length ? ` with node ${opts.variants[i].flags.join(' ')}` : ''} (a variant measured side by side).`);
    const contenders = all;
    for (const c of contenders) {
      if (c.setup) {
        await c.setup(ctx);
        if (c.teardown) cleanup.push(() => c.teardown(ctx));
      }
    }
    const workloads = opts.workloads ? WORKLOADS.filter((w) => opts.workloads.includes(w.name)) : WORKLOADS;

    // Sanity: B refuses a client without a certificate (and serves one with), for every proxied contender.
    const sanity = {};
    for (const c of contenders.filter((x) => x.name !== 'direct')) {
      const pair = await c.start(ctx, { upstreamPort: app.port, tag: 'sanity' });
      try {
        const client = c.sanityClient ? await c.sanityClient(ctx) : { cert: ctx.certs.clientCert, key: ctx.certs.clientKey };
        sanity[c.name] = await sanityCheck(pair, c.caFile ? c.caFile(ctx) : ctx.certs.ca, client);
      } finally {
        await pair.stop();
      }
      const s = sanity[c.name];
      log(`sanity ${c.name}: without a client certificate ${s.refusedWithoutCert ? 'refused' : 'SERVED (FAIL)'} (${s.withoutCert.alert || s.withoutCert.tail}); `
        + `with one ${s.servedWithCert === undefined ? 'not tried' : s.servedWithCert ? 'served' : 'REFUSED (FAIL)'}; ${s.withoutCert.protocol}, ${s.withoutCert.serverKey}-bit ${s.withoutCert.peerSig}`);
    }

    const loadBefore = await loadSnapshot();
    const cells = [];
    let loadBeforeIdle;
    for (const w of workloads) {
      if (w.name === 'idle') loadBeforeIdle = await loadSnapshot();
      const nRounds = w.name === 'idle' ? idleRounds : rounds;
      for (let round = 1; round <= nRounds; round++) {
        for (const c of contenders) {
          const tag = `${w.name}-${round}`;
          const rec = { workload: w.name, round, contender: c.name, load1: Number(loadavg()[0].toFixed(2)) };
          const t0 = Date.now();
          let pair;
          try {
            // bulk: a fresh one-off iperf3 server per cell on a port nothing listens on yet (see workloads.mjs).
            const upstreamPort = w.app === 'iperf' ? await freePort() : upstreams[w.app];
            pair = await c.start(ctx, { upstreamPort, tag });
            // Private memory (RssAnon) of each proxy: at rest once ready, then its peak over the whole cell.
            const memory = c.name === 'direct' ? undefined : sampleMemory(pair);
            try {
              Object.assign(rec, await w.run(ctx, pair, upstreamPort), { ok: true });
            } finally {
              if (memory) Object.assign(rec, memory.stop());
            }
          } catch (e) {
            Object.assign(rec, { ok: false, error: String(e.stack ?? e) });
          } finally {
            if (pair) await pair.stop().catch(() => {});
          }
          rec.cellSeconds = (Date.now() - t0) / 1000;
          cells.push(rec);
          log(`${w.name} r${round} ${c.name.padEnd(7)} ${fmtCell(w.name, rec)}`);
        }
      }
    }
    const loadAfter = await loadSnapshot();

    let profile;
    if (opts.profile && contenders.some((c) => c.name === 'ztmesh')) {
      try {
        profile = await profileZtmesh(ctx, { httpPort: app.port, workloads: WORKLOADS.filter((w) => opts.profileWorkloads.includes(w.name)) });
      } catch (e) {
        profile = { error: String(e.stack ?? e) };
        log(`profiling failed: ${e.message}`);
      }
    }

    const finished = new Date();
    const results = {
      meta: {
        date: stamp, startedAt: started.toISOString(), finishedAt: finished.toISOString(),
        durationSeconds: (finished - started) / 1000, quick: opts.quick, nice: opts.nice, rounds, idleRounds, argv: process.argv.slice(2),
        machine, versions: vers, nofile, limits, installed, loadBefore, loadBeforeIdle, loadAfter, plan, notes,
      },
      app: { settings: app.settings },
      contenders: contenders.map((c) => ({ name: c.name, settings: c.settings(ctx) })),
      workloads: workloads.map((w) => ({ name: w.name, unit: w.unit, what: w.what })),
      sanity, cells, profile,
    };
    mkdirSync(opts.out, { recursive: true });
    const base = join(opts.out, stamp);
    writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 1)}\n`);
    writeFileSync(`${base}.md`, renderReport(results));
    if (opts.docs && !opts.quick) writeFileSync(join(ROOT, 'docs', 'bench.md'), renderDocsSummary(results, `bench/results/${stamp}.md`));
    log(`wrote ${base}.md and .json in ${results.meta.durationSeconds.toFixed(0)} s`);
  } finally {
    for (const f of cleanup.reverse()) await f().catch(() => {});
    killAllStarted();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  log(`failed: ${e.stack ?? e}`);
  killAllStarted();
  process.exit(1);
});
