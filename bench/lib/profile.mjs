// Profiling of the ztmesh sidecars: runs rr32, conn16 (and bulk) once with `node --cpu-prof` on both sidecars and
// summarises the .cpuprofile files by function (self time) and by area (TLS, net, streams, GC, ztmesh code, logging…).
import { readdirSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ztmesh } from './contenders/ztmesh.mjs';
import { freePort } from './sys.mjs';

/** Where a profile node's self time belongs, from its URL and function name. First match wins. */
const AREAS = [
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  ['idle (waiting in epoll)', (f) => f.functionName === '(idle)'],
  ['native, outside JS (TLS record crypto, syscalls in libuv callbacks)', (f) => f.functionName === '(program)'],
  ['logging (pino)', (f) => /pino|sonic-boom|thread-stream/.test(f.url)],
  ['metrics (prom-client)', (f) => /prom-client/.test(f.url)],
  ['x509 / asn1 libraries', (f) => /@peculiar|asn1|pvtsutils|node-forge/.test(f.url)],
  ['ztmesh sidecar code', (f) => /\/dist\/sidecar\//.test(f.url)],
  ['ztmesh other code', (f) => /\/dist\//.test(f.url)],
  ['TLS handshake setup in node:_tls_wrap (SSL_new, setSession, ClientHello/keyshare in _start)', (f) => /node:_tls_wrap/.test(f.url) && /^TLSSocket\.(_init|_start|setSession)$|^TLSSocket$/.test(f.functionName)],
  ['other node TLS (node:_tls_wrap, tls, secure context)', (f) => /node:_tls|node:tls|internal\/tls/.test(f.url)],
  ['node net / stream_base (socket I/O)', (f) => /node:net|stream_base_commons|internal\/net/.test(f.url)],
  ['node streams (pipe, Readable/Writable)', (f) => /internal\/streams/.test(f.url)],
  ['node crypto (X509Certificate, etc.)', (f) => /internal\/crypto|node:crypto/.test(f.url)],
  ['node events / timers / nextTick', (f) => /node:events|internal\/timers|task_queues|internal\/process/.test(f.url)],
  ['other node internals', (f) => /^node:/.test(f.url)],
  ['socket writes, native (TLS: SSL_write encrypts here; then write(2))', (f) => f.url === '' && /^write(Buffer|v|Utf8String|Latin1String)$/.test(f.functionName)],
  ['socket close/shutdown, native', (f) => f.url === '' && /^(close|shutdown|reset)$/.test(f.functionName)],
  ['other native functions called from JS', (f) => f.url === ''],
  ['other', () => true],
];

/** Self time per node id from samples/timeDeltas, counting only samples inside `window` ([from, to] µs, monotonic). */
function selfTimes(profile, window) {
  const self = new Map();
  let ts = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    ts += dt;
    if (window && (ts < window[0] || ts > window[1])) continue;
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  return self;
}

/** Summarises one .cpuprofile (within `window` if given): total, by area, top functions by self time (µs). */
export function summarizeProfile(profile, window, top = 15) {
  const self = selfTimes(profile, window);
  const byFn = new Map();
  const byArea = new Map();
  let total = 0;
  let idle = 0;
  for (const node of profile.nodes) {
    const t = self.get(node.id) ?? 0;
    if (!t) continue;
    const f = node.callFrame;
    total += t;
    if (f.functionName === '(idle)') idle += t;
    const area = AREAS.find(([, test]) => test(f))[0];
    byArea.set(area, (byArea.get(area) ?? 0) + t);
    const short = f.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/');
    const key = `${f.functionName || '(anonymous)'} ${short}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + t);
  }
  const busy = total - idle;
  const sorted = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    totalUs: total, busyUs: busy,
    areas: sorted(byArea).map(([area, us]) => ({ area, us, ofBusy: area.startsWith('idle') ? undefined : us / busy })),
    top: sorted(byFn).filter(([k]) => !k.startsWith('(idle)')).slice(0, top).map(([fn, us]) => ({ fn, us, ofBusy: us / busy })),
  };
}

function readProfiles(dir) {
  return readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
}

/** Runs each workload once through a ztmesh pair started with --cpu-prof and returns the summaries. */
export async function profileZtmesh(ctx, { httpPort, workloads }) {
  const out = { runs: [] };
  for (const w of workloads) {
    const dirA = join(ctx.dir, `prof-${w.name}-a`);
    const dirB = join(ctx.dir, `prof-${w.name}-b`);
    mkdirSync(dirA, { recursive: true });
    mkdirSync(dirB, { recursive: true });
    const upstreamPort = w.app === 'iperf' ? await freePort() : httpPort;
    const pair = await ztmesh.start(ctx, { upstreamPort, tag: `prof-${w.name}`, cpuProf: { a: dirA, b: dirB } });
    let res;
    try {
      res = await w.run(ctx, pair, upstreamPort);
    } finally {
      await pair.stop(15_000); // SIGTERM: the sidecars drain and exit, and node writes the profiles on exit
    }
    const a = readProfiles(dirA);
    const b = readProfiles(dirB);
    // Keep the raw profiles for a closer look (bench/results/tmp is git-ignored); open them in Chrome DevTools.
    const keep = join(ctx.root, 'bench', 'results', 'tmp', 'profiles');
    mkdirSync(keep, { recursive: true });
    for (const [side, list] of [['A', a], ['B', b]]) {
      if (list[0]) writeFileSync(join(keep, `${w.name}-${side}.cpuprofile`), JSON.stringify(list[0]));
    }
    if (a.length === 0 || b.length === 0) throw new Error(`no .cpuprofile written for ${w.name} (did the sidecar exit cleanly on SIGTERM?)`);
    out.runs.push({
      workload: w.name, value: res.value, unit: w.unit, requests: res.requests ?? res.bytes, cpuA: res.cpuA, cpuB: res.cpuB,
      A: summarizeProfile(a[0], res.windowUs), B: summarizeProfile(b[0], res.windowUs),
    });
    ctx.log(`profiled ${w.name}: ${res.value.toFixed(0)} ${w.unit} (with the profiler on)`);
  }
  return out;
}

const pct = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)} %` : '');
const ms = (us) => `${(us / 1000).toFixed(0)} ms`;

/** Markdown for the profile section. */
export function renderProfile(profile) {
  if (profile.error) return `_Profiling failed: ${profile.error.split('\n')[0]}_`;
  const out = [];
  for (const r of profile.runs) {
    out.push(`#### Profile: ${r.workload} (${Math.round(r.value).toLocaleString('en-US')} ${r.unit} with the profiler attached; ${r.workload === 'bulk' ? `${(r.requests / 1e9).toFixed(2)} GB` : `${r.requests.toLocaleString('en-US')} ${r.workload.startsWith('conn') ? 'connections' : 'requests'}`})`);
    out.push('');
    for (const side of ['A', 'B']) {
      const s = r[side];
      out.push(`**Sidecar ${side}** (${side === 'A' ? 'outbound: plain in, mTLS out' : 'inbound: mTLS in, plain out'}); busy ${ms(s.busyUs)} of ${ms(s.totalUs)} sampled.`);
      out.push('');
      out.push('| area | self time | share of busy |');
      out.push('|---|---|---|');
      for (const a of s.areas) out.push(`| ${a.area} | ${ms(a.us)} | ${pct(a.ofBusy)} |`);
      out.push('');
      out.push('| top functions by self time | self | share of busy |');
      out.push('|---|---|---|');
      for (const f of s.top) out.push(`| \`${f.fn.replace(/\|/g, '\\|')}\` | ${ms(f.us)} | ${pct(f.ofBusy)} |`);
      out.push('');
    }
  }
  return out.join('\n');
}
