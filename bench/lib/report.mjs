// Renders the Markdown report (bench/results/<date>.md) and the docs/bench.md summary from the raw results.
import { existsSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarize, ratio } from './stats.mjs';
import { renderProfile } from './profile.mjs';
import { latestMeshScale, renderMeshScale } from './mesh-report.mjs';
import { latestAuthz, renderAuthz } from './authz-report.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Hand-written analysis of the profiles, pasted into "Where ztmesh's time goes" when present. */
const ANALYSIS_FILE = join(HERE, '..', 'analysis.md');

/** The C proxies ztmesh is compared with; "best peer" is the best of them on each workload. */
export const PEERS = ['stunnel', 'haproxy', 'nginx'];

const MiB = 1024 * 1024;

/**
 * Issue 23's targets for ztmesh (tunnels, the default), as ratios against peers measured in the same run, and its
 * private memory (RssAnon) per sidecar; issue 14's memory per idle connection is kept as the last row.
 */
export const TARGETS = [
  { id: 'bulk', label: 'bulk throughput', need: '≥ 1.0× stunnel', check: (t) => t.ratio('bulk') >= 1.0, show: (t) => t.x(t.ratio('bulk')) },
  { id: 'bulkCpu', label: 'bulk CPU per GB (A + B)', need: '≤ 1.2× stunnel', check: (t) => t.cpuPerGbRatio('ztmesh') <= 1.2, show: (t) => `${t.x(t.cpuPerGbRatio('ztmesh'))} (${t.s(t.cpuPerGb('ztmesh'))} vs ${t.s(t.cpuPerGb('stunnel'))} s/GB)` },
  { id: 'rr1', label: 'rr1 req/s', need: '≥ 1.0× stunnel', check: (t) => t.ratio('rr1') >= 1.0, show: (t) => t.x(t.ratio('rr1')) },
  { id: 'rr1p99', label: 'rr1 p99 latency', need: '≤ 1.5× stunnel', check: (t) => t.ratio('rr1', 'p99us') <= 1.5, show: (t) => t.x(t.ratio('rr1', 'p99us')) },
  { id: 'rr32', label: 'rr32 req/s', need: '≥ 1.3× stunnel', check: (t) => t.ratio('rr32') >= 1.3, show: (t) => t.x(t.ratio('rr32')) },
  { id: 'conn1', label: 'conn1 conn/s', need: '≥ 1.5× best peer', check: (t) => t.vsBest('ztmesh', 'conn1') >= 1.5, show: (t) => `${t.x(t.vsBest('ztmesh', 'conn1'))} (best: ${t.best('conn1')})` },
  { id: 'conn16', label: 'conn16 conn/s', need: '≥ 2.0× best peer', check: (t) => t.vsBest('ztmesh', 'conn16') >= 2.0, show: (t) => `${t.x(t.vsBest('ztmesh', 'conn16'))} (best: ${t.best('conn16')})` },
  { id: 'anonRest', label: 'private memory (RssAnon) per sidecar at rest', need: '≤ 25 MiB', check: (t) => t.anonRest('ztmesh') <= 25 * MiB, show: (t) => t.mib(t.anonRest('ztmesh')) },
  { id: 'anonPeak', label: 'private memory (RssAnon) per sidecar, peak in every traffic workload', need: '≤ 40 MiB', check: (t) => t.anonPeakAll('ztmesh') <= 40 * MiB, show: (t) => `${t.mib(t.anonPeakAll('ztmesh'))} (${t.anonPeakWorkload('ztmesh')})` },
  { id: 'idle', label: 'RSS per idle connection (issue 14)', need: '≤ 20 KB', check: (t) => t.med('ztmesh', 'idle') <= 20, show: (t) => t.kb(t.med('ztmesh', 'idle')) },
];

const RATIO_NOTE = '_Ratios: for MB/s, req/s and conn/s higher is better; for p99 latency, KB per idle connection and memory lower is better. '
  + '"Best peer" is the best of stunnel, HAProxy and nginx on that column. Peak RSS is the larger of the two proxies\' VmHWM (median over rounds), in the rr32 cells and in the traffic workload (bulk, rr, conn) where it is highest; the idle workload\'s 10,000 connections are priced in KB per connection instead. '
  + 'Private memory is RssAnon (the pages no other process shares: not the binary, not its libraries), the larger of the two proxies: "at rest" once ready, before any traffic (median over every traffic cell), "peak" sampled every 100 ms through the cell (median over rounds), in the traffic workload where it is highest._';

/** Reference numbers from issue 14 (stunnel 5.68, a separate C load generator, the same kind of machine), for context only. */
const ISSUE_STUNNEL = { bulk: 830, rr1: 9075, rr32: 30248, conn1: 603, conn16: 950 };

function fmtNum(v, digits) {
  if (!Number.isFinite(v)) return '—';
  if (digits !== undefined) return v.toFixed(digits);
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** Accessors over the cells of one run. */
export function tables(results) {
  const ok = results.cells.filter((c) => c.ok);
  const of = (contender, workload) => ok.filter((c) => c.contender === contender && c.workload === workload);
  const sum = (contender, workload, field = 'value') => summarize(of(contender, workload), (c) => c[field]);
  const med = (contender, workload, field = 'value') => sum(contender, workload, field)?.median;
  const t = {
    of, sum, med,
    contenders: results.contenders.map((c) => c.name),
    workloads: results.workloads.map((w) => w.name),
    ratio: (workload, field = 'value', base = 'stunnel') => ratio(med('ztmesh', workload, field), med(base, workload, field)),
    peakRss: (contender, workload) => summarize(of(contender, workload), (c) => Math.max(c.hwmA ?? 0, c.hwmB ?? 0))?.median,
    /** Private memory (RssAnon) per sidecar: the larger of A and B, median over rounds. */
    anonPeak: (contender, workload) => summarize(of(contender, workload), (c) => Math.max(c.anonPeakA ?? NaN, c.anonPeakB ?? NaN))?.median,
    /** CPU of A + B per GB of bulk, median over rounds. */
    cpuPerGb: (contender) => summarize(of(contender, 'bulk'), (c) => c.cpuPerUnitA + c.cpuPerUnitB)?.median,
    x: (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '—'),
    s: (v) => (Number.isFinite(v) ? v.toFixed(2) : '—'),
    mib: (v) => (Number.isFinite(v) ? `${(v / MiB).toFixed(1)} MiB` : '—'),
    mb: (v) => (Number.isFinite(v) ? `${(v / 1e6).toFixed(1)} MB` : '—'),
    kb: (v) => (Number.isFinite(v) ? `${v.toFixed(1)} KB` : '—'),
  };
  const lowerIsBetter = (workload, field) => field !== 'value' || workload === 'idle';
  /** The best peer's median on a workload (and field): the highest rate, or the lowest latency or memory. */
  t.bestValue = (workload, field = 'value') => {
    const vs = PEERS.filter((p) => t.contenders.includes(p)).map((p) => med(p, workload, field)).filter(Number.isFinite);
    if (!vs.length) return undefined;
    return lowerIsBetter(workload, field) ? Math.min(...vs) : Math.max(...vs);
  };
  t.best = (workload, field = 'value') => PEERS.find((p) => t.contenders.includes(p) && med(p, workload, field) === t.bestValue(workload, field)) ?? '—';
  t.vsBest = (contender, workload, field = 'value') => ratio(med(contender, workload, field), t.bestValue(workload, field));
  // Peak RSS under traffic: the idle workload holds 10,000 connections at once, and its cost is the KB/conn column.
  const traffic = t.workloads.filter((w) => w !== 'idle');
  t.peakRssAll = (contender) => maxFinite(traffic.map((w) => t.peakRss(contender, w)));
  t.peakRssWorkload = (contender) => (t.peakRssAll(contender) === undefined ? '—' : traffic.find((w) => t.peakRss(contender, w) === t.peakRssAll(contender)));
  t.cpuPerGbRatio = (contender) => ratio(t.cpuPerGb(contender), t.cpuPerGb('stunnel'));
  /** At rest: ready, before any traffic; the median over every traffic cell of the larger of A and B. */
  t.anonRest = (contender) => summarize(ok.filter((c) => c.contender === contender && c.workload !== 'idle'), (c) => Math.max(c.anonRestA ?? NaN, c.anonRestB ?? NaN))?.median;
  t.anonPeakAll = (contender) => maxFinite(traffic.map((w) => t.anonPeak(contender, w)));
  t.anonPeakWorkload = (contender) => (t.anonPeakAll(contender) === undefined ? '—' : traffic.find((w) => t.anonPeak(contender, w) === t.anonPeakAll(contender)));
  t.bestRss = (workload) => {
    const vs = PEERS.filter((p) => t.contenders.includes(p)).map((p) => t.peakRss(p, workload)).filter(Number.isFinite);
    return vs.length ? Math.min(...vs) : undefined;
  };
  return t;
}

/** The largest finite number of xs; undefined when there is none. */
function maxFinite(xs) {
  const v = xs.filter(Number.isFinite);
  return v.length ? Math.max(...v) : undefined;
}

function valueWithSpread(s, digits) {
  if (!s) return '—';
  if (s.n === 1) return fmtNum(s.median, digits);
  return `${fmtNum(s.median, digits)} (${fmtNum(s.min, digits)}–${fmtNum(s.max, digits)})`;
}

function cpuPerUnit(t, contender, workload) {
  const a = t.med(contender, workload, 'cpuPerUnitA');
  const b = t.med(contender, workload, 'cpuPerUnitB');
  if (!Number.isFinite(a) || contender === 'direct') return '—';
  if (workload === 'bulk') return `${fmtNum(a, 2)} / ${fmtNum(b, 2)} s/GB`;
  return `${fmtNum(a * 1e6, 0)} / ${fmtNum(b * 1e6, 0)} µs`;
}

function workloadTable(results, t, w) {
  const lines = [];
  const unit = results.workloads.find((x) => x.name === w).unit;
  const hasLat = w.startsWith('rr') || w.startsWith('conn');
  lines.push(`| contender | ${unit}: median (min–max) | × stunnel | × best peer | × direct | ${hasLat ? 'p50 / p99 / p99.9 µs | ' : ''}CPU A / B per ${w === 'bulk' ? 'GB' : w === 'idle' ? 'conn' : w.startsWith('conn') ? 'conn' : 'req'} | peak RSS A / B | peak private A / B | errors |`);
  lines.push(`|---|---|---|---|---|${hasLat ? '---|' : ''}---|---|---|---|`);
  for (const c of t.contenders) {
    const s = t.sum(c, w);
    const failed = results.cells.filter((x) => x.contender === c && x.workload === w && !x.ok).length;
    if (!s) { lines.push(`| ${c} | failed (${failed} cells) |`); continue; }
    if (w === 'idle' && c === 'direct') { lines.push('| direct | n/a (no proxy holds the connections) | — | — | — | — | — | — | 0 |'); continue; }
    const rs = ratio(s.median, t.med('stunnel', w));
    const rd = ratio(s.median, t.med('direct', w));
    const lat = hasLat ? `${fmtNum(t.med(c, w, 'p50us'), 0)} / ${fmtNum(t.med(c, w, 'p99us'), 0)} / ${fmtNum(t.med(c, w, 'p999us'), 0)} | ` : '';
    const hwmA = t.med(c, w, 'hwmA');
    const hwmB = t.med(c, w, 'hwmB');
    const anonA = t.med(c, w, 'anonPeakA');
    const anonB = t.med(c, w, 'anonPeakB');
    const rss = c === 'direct' ? '—' : `${(hwmA / 1e6).toFixed(1)} / ${(hwmB / 1e6).toFixed(1)} MB | ${Number.isFinite(anonA) ? `${(anonA / MiB).toFixed(1)} / ${(anonB / MiB).toFixed(1)} MiB` : '—'}`;
    const errs = t.of(c, w).reduce((a, x) => a + (x.errors ?? 0), 0);
    lines.push(`| ${c} | ${valueWithSpread(s, w === 'idle' ? 1 : undefined)} | ${t.x(rs)} | ${t.x(t.vsBest(c, w))} | ${c === 'direct' ? '—' : t.x(rd)} | ${lat}${cpuPerUnit(t, c, w)} | ${rss} | ${errs}${failed ? ` (+${failed} failed cells)` : ''} |`);
  }
  return lines.join('\n');
}

function summaryTable(t) {
  const head = ['contender', 'bulk MB/s', 'bulk CPU s/GB', 'rr1 req/s', 'rr1 p99 µs', 'rr32 req/s', 'conn1 conn/s', 'conn16 conn/s', 'idle KB/conn', 'peak RSS rr32', 'peak RSS (any traffic workload)', 'private at rest', 'peak private (any traffic workload)'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const c of t.contenders) {
    const idle = c === 'direct' ? '—' : fmtNum(t.med(c, 'idle'), 1);
    const rss = c === 'direct' ? '—' : t.mb(t.peakRss(c, 'rr32'));
    const all = c === 'direct' ? '—' : `${t.mb(t.peakRssAll(c))} (${t.peakRssWorkload(c)})`;
    const anonRest = c === 'direct' ? '—' : t.mib(t.anonRest(c));
    const anonAll = c === 'direct' ? '—' : `${t.mib(t.anonPeakAll(c))} (${t.anonPeakWorkload(c)})`;
    const cpu = c === 'direct' ? '—' : t.s(t.cpuPerGb(c));
    lines.push(`| ${c} | ${fmtNum(t.med(c, 'bulk'))} | ${cpu} | ${fmtNum(t.med(c, 'rr1'))} | ${fmtNum(t.med(c, 'rr1', 'p99us'), 0)} | ${fmtNum(t.med(c, 'rr32'))} | ${fmtNum(t.med(c, 'conn1'))} | ${fmtNum(t.med(c, 'conn16'))} | ${idle} | ${rss} | ${all} | ${anonRest} | ${anonAll} |`);
  }
  const bestOf = (f) => Math.min(...PEERS.filter((p) => t.contenders.includes(p)).map(f).filter(Number.isFinite));
  const bestRssAll = () => bestOf((p) => t.peakRssAll(p));
  for (const z of t.contenders.filter((c) => c.startsWith('ztmesh'))) {
    if (t.contenders.includes('stunnel')) {
      const r = (w, f = 'value') => t.x(ratio(t.med(z, w, f), t.med('stunnel', w, f)));
      lines.push(`| **${z} ÷ stunnel** | ${r('bulk')} | ${t.x(t.cpuPerGbRatio(z))} | ${r('rr1')} | ${r('rr1', 'p99us')} | ${r('rr32')} | ${r('conn1')} | ${r('conn16')} | ${r('idle')} | ${t.x(ratio(t.peakRss(z, 'rr32'), t.peakRss('stunnel', 'rr32')))} | ${t.x(ratio(t.peakRssAll(z), t.peakRssAll('stunnel')))} | ${t.x(ratio(t.anonRest(z), t.anonRest('stunnel')))} | ${t.x(ratio(t.anonPeakAll(z), t.anonPeakAll('stunnel')))} |`);
    }
    if (PEERS.some((p) => t.contenders.includes(p))) {
      const b = (w, f = 'value') => t.x(t.vsBest(z, w, f));
      lines.push(`| **${z} ÷ best peer** | ${b('bulk')} | ${t.x(ratio(t.cpuPerGb(z), bestOf((p) => t.cpuPerGb(p))))} | ${b('rr1')} | ${b('rr1', 'p99us')} | ${b('rr32')} | ${b('conn1')} | ${b('conn16')} | ${b('idle')} | ${t.x(ratio(t.peakRss(z, 'rr32'), t.bestRss('rr32')))} | ${t.x(ratio(t.peakRssAll(z), bestRssAll()))} | ${t.x(ratio(t.anonRest(z), bestOf((p) => t.anonRest(p))))} | ${t.x(ratio(t.anonPeakAll(z), bestOf((p) => t.anonPeakAll(p))))} |`);
    }
  }
  if (PEERS.some((p) => t.contenders.includes(p))) {
    const w = (x, f = 'value') => t.best(x, f);
    lines.push(`| _best peer_ | ${w('bulk')} | | ${w('rr1')} | ${w('rr1', 'p99us')} | ${w('rr32')} | ${w('conn1')} | ${w('conn16')} | ${w('idle')} | | | | |`);
  }
  return lines.join('\n');
}

/** Peak RSS and peak private memory per sidecar (each the larger of A and B, median over rounds) under each workload. */
function rssTable(t) {
  const ws = t.workloads;
  const lines = [`| contender | private at rest | ${ws.join(' | ')} |`, `|---|---|${ws.map(() => '---').join('|')}|`];
  for (const c of t.contenders.filter((x) => x !== 'direct')) {
    lines.push(`| ${c} | ${t.mib(t.anonRest(c))} | ${ws.map((w) => `${t.mb(t.peakRss(c, w))} / ${t.mib(t.anonPeak(c, w))}`).join(' | ')} |`);
  }
  return lines.join('\n');
}

function targetsTable(t) {
  if (!t.contenders.includes('ztmesh')) return '_ztmesh was not part of this run; targets not evaluated._';
  const lines = ['| target | required | ztmesh (this run) | met |', '|---|---|---|---|'];
  for (const g of TARGETS) {
    let met;
    try { met = g.check(t); } catch { met = false; }
    const shown = g.show(t);
    lines.push(`| ${g.label} | ${g.need} | ${shown} | ${shown.startsWith('—') ? 'not measured' : met ? '✅ met' : '❌ missed'} |`);
  }
  return lines.join('\n');
}

function generatorCheck(t) {
  const lines = ['| workload | direct | best proxied | direct ÷ best proxied |', '|---|---|---|---|'];
  for (const w of t.workloads.filter((x) => x !== 'idle')) {
    const d = t.med('direct', w);
    const proxied = t.contenders.filter((c) => c !== 'direct').map((c) => [c, t.med(c, w)]).filter(([, v]) => Number.isFinite(v));
    if (!Number.isFinite(d) || proxied.length === 0) continue;
    const [bc, bv] = proxied.sort((a, b) => b[1] - a[1])[0];
    lines.push(`| ${w} | ${fmtNum(d)} | ${fmtNum(bv)} (${bc}) | ${t.x(d / bv)} |`);
  }
  return lines.join('\n');
}

function idleTable(results, t) {
  const lines = ['| contender | held | open errors | KB/conn A / B (vs fresh) | marginal KB/conn A / B (first → last step) | RSS A / B at last step | open rate |', '|---|---|---|---|---|---|---|'];
  for (const c of t.contenders.filter((x) => x !== 'direct')) {
    for (const r of t.of(c, 'idle')) {
      const last = r.steps[r.steps.length - 1];
      lines.push(`| ${c} (round ${r.round}) | ${r.steps.map((s) => s.open).join(' → ')} | ${r.errors}${last.firstError ? ` (${last.firstError})` : ''} | ${r.perConnAKB.toFixed(1)} / ${r.perConnBKB.toFixed(1)} | ${r.marginalAKB.toFixed(1)} / ${r.marginalBKB.toFixed(1)} | ${(last.rssA / 1e6).toFixed(0)} / ${(last.rssB / 1e6).toFixed(0)} MB | ${fmtNum(r.openPerSecond, 0)}/s |`);
    }
  }
  return lines.join('\n');
}

function sanityTable(results) {
  const lines = ['| contender | B without client cert | B with client cert | protocol | server key | alert seen by the client |', '|---|---|---|---|---|---|'];
  for (const [name, s] of Object.entries(results.sanity)) {
    lines.push(`| ${name} | ${s.refusedWithoutCert ? 'refused ✅' : 'SERVED ❌'} | ${s.servedWithCert === undefined ? 'not tried' : s.servedWithCert ? 'served ✅' : 'refused ❌'} | ${s.withoutCert.protocol} | ${s.withoutCert.serverKey}-bit ${s.withoutCert.peerSig} | ${s.withoutCert.alert || s.withoutCert.tail.slice(0, 80)} |`);
  }
  return lines.join('\n');
}

/** The full report. */
export function renderReport(results) {
  const m = results.meta;
  const t = tables(results);
  const out = [];
  out.push(`# ztmesh benchmark — ${m.date}${m.quick ? ' (quick smoke run — not for comparison)' : ''}`);
  out.push('');
  out.push(`Topology (identical for every contender, all on 127.0.0.1): **load client → proxy A (plain in, mTLS out) → proxy B (mTLS in, plain out) → app**. `
    + `Every contender uses TLS 1.3 only, ECDSA P-256 SPIFFE X.509-SVIDs on both sides, and B requires and verifies the client certificate. `
    + `Run: \`node bench/run.mjs ${m.argv.join(' ')}\`, ${m.rounds} round(s) per cell (idle: ${m.idleRounds}), contenders interleaved within each round, fresh proxies per cell; took ${Math.round(m.durationSeconds)} s.`);
  out.push('');
  for (const n of m.notes) out.push(`> **Note.** ${n}`);
  if (m.notes.length) out.push('');
  out.push('## Summary (medians)');
  out.push('');
  out.push(summaryTable(t));
  out.push('');
  out.push(RATIO_NOTE);
  out.push('');
  out.push('## Targets (issue 23: ztmesh with tunnels, the default, vs stunnel and the best peer, same run)');
  out.push('');
  out.push(targetsTable(t));
  out.push('');
  out.push('### Memory per sidecar under each workload: peak RSS (VmHWM) / peak private memory (RssAnon, sampled every 100 ms)');
  out.push('');
  out.push(rssTable(t));
  out.push('');
  out.push(`For context, issue 14 quotes stunnel at bulk ≈ ${ISSUE_STUNNEL.bulk} MB/s, rr1 ≈ ${ISSUE_STUNNEL.rr1.toLocaleString('en-US')}, rr32 ≈ ${ISSUE_STUNNEL.rr32.toLocaleString('en-US')} req/s, conn1 ≈ ${ISSUE_STUNNEL.conn1}/s, conn16 ≈ ${ISSUE_STUNNEL.conn16}/s; this run measured stunnel at `
    + `${['bulk', 'rr1', 'rr32', 'conn1', 'conn16'].map((w) => `${w} ${fmtNum(t.med('stunnel', w))}`).join(', ')}. Only ratios from the same run are compared.`);
  out.push('');
  out.push('## Load conditions');
  out.push('');
  out.push(`- Load average (1/5/15 min) before the measurements: ${m.loadBefore.loadavg.join(' / ')}; `
    + `${m.loadBeforeIdle ? `before the idle workload: ${m.loadBeforeIdle.loadavg.join(' / ')}; ` : ''}after: ${m.loadAfter.loadavg.join(' / ')}`
    + `${m.loadBeforeIdle ? ' (the idle workload itself opens thousands of connections and, with stunnel, thousands of threads, which lifts the load average)' : ''}.`);
  out.push(`- Busiest processes at the start: ${m.loadBefore.top.join('; ')}. At the end: ${m.loadAfter.top.join('; ')}.`);
  if (m.nice) out.push(`- The bench and every process it started (proxies, app, load generators) ran at nice ${m.nice}, ahead of the unrelated load, all contenders alike.`);
  out.push('- The machine was shared with other work while this ran (see the load average): absolute numbers are noisy; the interleaved rounds and the min–max spreads show how much. Compare contenders by the ratios.');
  out.push('');
  out.push('## Is the load generator the bottleneck?');
  out.push('');
  out.push('`direct` runs the same generator against the app with no proxies; it has to be several times faster than the best proxied run.');
  out.push('');
  out.push(generatorCheck(t));
  out.push('');
  out.push('## Workloads in detail');
  out.push('');
  out.push(`Every cell starts fresh proxies. rr and conn cells first run ${m.plan.warmupSeconds} s of the same load as an unmeasured warm-up; bulk and idle have none. For the Node sidecars that warm-up does not finish JIT compilation (see "Where ztmesh's time goes").`);
  out.push('');
  out.push('CPU is utime+stime from /proc/PID/stat (all threads; for nginx the master and its worker) of proxy A and proxy B during the measured interval, divided by GB moved, requests or connections. '
    + 'Peak RSS is VmHWM from /proc/PID/status at the end of the cell (nginx: master + worker); peak private memory is the highest RssAnon of /proc/PID/status sampled every 100 ms from the proxies being ready to the end of the cell (warm-up included). Latency is wrk\'s: from writing a request to reading its response; for conn1/conn16 it includes the A→B TLS handshake but not the client\'s TCP connect to A.');
  out.push('');
  for (const w of results.workloads) {
    out.push(`### ${w.name} — ${w.what}`);
    out.push('');
    out.push(workloadTable(results, t, w.name));
    out.push('');
    if (w.name === 'idle') {
      out.push('Per round: RSS growth (VmRSS) of each proxy after holding the connections, divided by their number; "marginal" is the growth between the first and the last step.');
      out.push('');
      out.push(idleTable(results, t));
      out.push('');
    }
  }
  out.push('## Sanity: B refuses a client without a certificate');
  out.push('');
  out.push('`openssl s_client -tls1_3 -CAfile <bundle>` sends an HTTP request straight to proxy B, once without and once with a client certificate of the trust domain.');
  out.push('');
  out.push(sanityTable(results));
  out.push('');
  out.push("## Where ztmesh's time goes");
  out.push('');
  if (existsSync(ANALYSIS_FILE)) {
    out.push(readFileSync(ANALYSIS_FILE, 'utf8').trim());
    out.push('');
  }
  out.push(results.profile ? renderProfile(results.profile) : '_No profile in this run._');
  out.push('');
  out.push('## Machine and versions');
  out.push('');
  const mc = m.machine;
  out.push(`- ${mc.nproc} vCPU × ${mc.cpuModel} (AES-NI: ${mc.aesni ? 'yes' : 'no'}), ${mc.memTotalMiB} MiB RAM, kernel ${mc.kernel}, ${mc.os}.`);
  out.push(`- ${Object.entries(m.versions).map(([k, v]) => `${k}: ${v}`).join('; ')}.`);
  out.push(`- Open-files limit ${m.nofile}${m.limits.length ? `; raised: ${m.limits.join(', ')}` : ''}${m.installed.length ? `; installed with apt-get: ${m.installed.join(', ')}` : ''}.`);
  out.push(`- Plan: bulk ${m.plan.bulkBytes}B through iperf3; rr/conn ${m.plan.rrSeconds} s measured after ${m.plan.warmupSeconds} s of warm-up per cell; idle steps ${m.plan.idleSteps.join(' → ')} connections.`);
  out.push('');
  out.push('## Every setting');
  out.push('');
  out.push('### App (nginx, shared by all contenders for rr/conn)');
  out.push('');
  out.push(`\`\`\`nginx\n${results.app.settings}\`\`\``);
  out.push('');
  out.push('Bulk goes to one `iperf3 -s` and the idle connections to a Node echo sink (`bench/lib/echo-sink.mjs`).');
  out.push('');
  for (const c of results.contenders) {
    out.push(`### ${c.name}`);
    out.push('');
    out.push(c.settings);
    out.push('');
  }
  out.push('## Every cell');
  out.push('');
  out.push('In the order they ran (1-minute load average when the cell started).');
  out.push('');
  out.push('| workload | round | contender | result | CPU A / B s | load | cell s |');
  out.push('|---|---|---|---|---|---|---|');
  for (const c of results.cells) {
    const unit = results.workloads.find((w) => w.name === c.workload).unit;
    const res = !c.ok ? `error: ${c.error.split('\n')[0].slice(0, 100)}` : `${fmtNum(c.value, c.workload === 'idle' ? 1 : undefined)} ${unit}${c.p99us !== undefined ? ` (p99 ${c.p99us} µs)` : ''}${c.errors ? `, ${c.errors} errors` : ''}`;
    out.push(`| ${c.workload} | ${c.round} | ${c.contender} | ${res} | ${c.ok ? `${(c.cpuA ?? 0).toFixed(2)} / ${(c.cpuB ?? 0).toFixed(2)}` : '—'} | ${c.load1 ?? ''} | ${c.cellSeconds.toFixed(1)} |`);
  }
  out.push('');
  out.push('## Raw data');
  out.push('');
  out.push(`Every cell, with its round, CPU, RSS and errors: \`${m.date}.json\` next to this file.`);
  out.push('');
  return out.join('\n');
}

/** docs/bench.md: the summary table of the latest full run and the machine it came from. */
/**
 * The part of bench/analysis.md above its `<!-- summary-end -->` marker (where the time goes, what changed), for
 * docs/bench.md; the full report carries all of it with the profiles.
 */
function analysisSummary() {
  if (!existsSync(ANALYSIS_FILE)) return [];
  const text = readFileSync(ANALYSIS_FILE, 'utf8');
  const end = text.indexOf('<!-- summary-end -->');
  if (end < 0) return [];
  return [text.slice(0, end).trim(), '', 'The profiles behind this are in the full report, under "Where ztmesh\'s time goes".', ''];
}

export function renderDocsSummary(results, reportPath) {
  const m = results.meta;
  const t = tables(results);
  const mc = m.machine;
  return [
    '# Benchmark',
    '',
    `Latest full run: ${m.date} on ${mc.nproc} vCPU × ${mc.cpuModel}, kernel ${mc.kernel}, Node ${m.versions.node}, `
      + `${m.versions.stunnel}, ${m.versions.haproxy}, ${m.versions.nginx} (load average ${m.loadBefore.loadavg[0]} at the start; the machine was shared). `
      + `Full report: [${reportPath}](../${reportPath}). Run it yourself with \`npm run bench\` (about ${Math.ceil(m.durationSeconds / 60)} minutes; \`-- --quick\` for a smoke run).`,
    '',
    'Topology for every contender: load client → proxy A (plain in, mTLS out) → proxy B (mTLS in, plain out) → app, on 127.0.0.1; TLS 1.3, ECDSA P-256 SPIFFE certificates, client certificate required and verified. Medians of interleaved rounds.',
    '',
    summaryTable(t),
    '',
    RATIO_NOTE,
    '',
    '### Targets (issue 23: ztmesh with tunnels, the default, vs stunnel and the best peer, same run)',
    '',
    targetsTable(t),
    '',
    '### Memory per sidecar under each workload: peak RSS (VmHWM) / peak private memory (RssAnon, sampled every 100 ms)',
    '',
    rssTable(t),
    '',
    ...analysisSummary(),
    ...((latest) => (latest ? [renderMeshScale(latest), ''] : []))(latestMeshScale(join(HERE, '..', 'results'))),
    ...((latest) => (latest ? [renderAuthz(latest), ''] : []))(latestAuthz(join(HERE, '..', 'results'))),
    '### Running it',
    '',
    '`npm run bench` builds, installs any missing Debian package (stunnel4, haproxy, nginx, libnginx-mod-stream, iperf3, wrk) with apt-get, '
      + 'makes ECDSA P-256 SPIFFE certificates at run time (a real `ztmesh ca` for ztmesh, the project\'s pki for the others; keys live in a temp dir and are deleted), '
      + 'and writes `bench/results/<date>.md` and `.json` plus this page. Options after `npm run bench --`:',
    '',
    '- `--quick`: a smoke run of about two minutes (1 round, 1 s cells, 256 MB bulk, 200 then 1,000 idle connections); its numbers are not for comparison.',
    '- `--rounds N`, `--idle-rounds N`, `--contenders direct,ztmesh,ztmesh-raw,stunnel,haproxy,nginx`, `--workloads bulk,rr1,rr32,conn1,conn16,idle`.',
    '- `--variant DIR:NAME[:NODE_FLAGS]`: adds a patched copy of ztmesh (a directory with `bin/` and `dist/`), or the same build with other node flags, as one more contender side by side.',
    '- `--nice N`: runs the bench and everything it starts at that priority, to shield it from unrelated load.',
    '- `--no-profile` skips the `node --cpu-prof` runs of the ztmesh sidecars; `--render X.json` rebuilds a report from raw results.',
    '- `node bench/perf-profile.mjs ztmesh|stunnel|haproxy|nginx rr32|conn16` prints an on-CPU `perf` breakdown (kernel, OpenSSL, V8/JS, malloc) of one contender\'s proxies.',
    '',
  ].join('\n');
}
