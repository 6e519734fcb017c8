// System helpers for the benchmark: packages, ports, processes, /proc accounting and machine facts.
// Everything here is plain Node so the harness runs before and without the TypeScript build of the bench itself.
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';

/** Debian packages the harness needs, by the command that proves each is there. */
export const PACKAGES = [
  { pkg: 'stunnel4', check: '/usr/bin/stunnel4' },
  { pkg: 'haproxy', check: '/usr/sbin/haproxy' },
  { pkg: 'nginx', check: '/usr/sbin/nginx' },
  { pkg: 'libnginx-mod-stream', check: '/usr/lib/nginx/modules/ngx_stream_module.so' },
  { pkg: 'iperf3', check: '/usr/bin/iperf3' },
  { pkg: 'wrk', check: '/usr/bin/wrk' },
  { pkg: 'openssl', check: '/usr/bin/openssl' },
  { pkg: 'util-linux', check: '/usr/bin/prlimit' },
  { pkg: 'procps', check: '/usr/bin/ps' },
];

/** Installs the missing Debian packages with apt-get (the bench runs as root on a fresh Debian 12). */
export function ensurePackages(log) {
  const missing = PACKAGES.filter((p) => !existsSync(p.check)).map((p) => p.pkg);
  if (missing.length === 0) return [];
  log(`installing ${missing.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  // Debian starts nginx and haproxy as services on install; the bench runs its own instances only.
  for (const svc of ['nginx', 'haproxy']) {
    try { execFileSync('systemctl', ['disable', '--now', svc], { stdio: 'ignore' }); } catch { /* no systemd: nothing runs */ }
  }
  return missing;
}

/** A TCP port that was free a moment ago (the kernel picks it). The tools we drive cannot all bind 0 themselves. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port, timeoutMs = 15_000, isAlive = () => true) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (!isAlive()) throw new Error(`process died before listening on ${port}`);
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(25);
  }
}

/** Every long-running child the harness started and has not seen exit; killed on the way out, whatever happens. */
const live = new Set();

/** SIGKILLs every child still running (process groups for the ones that fork). Used by exit handlers. */
export function killAllStarted() {
  for (const child of live) {
    try { process.kill(-child.pid, 'SIGKILL'); } catch { try { child.kill('SIGKILL'); } catch { /* gone */ } }
  }
  live.clear();
}

/** Spawns a long-running child with its output kept in memory (last 64 KB) for error reports. */
export function startProcess(cmd, args, opts = {}) {
  // detached: its own process group, so nginx/haproxy workers die with it in killAllStarted().
  const { logFile, ...spawnOpts } = opts;
  let out;
  let child;
  if (logFile) {
    // Output to a file, so that a chatty child costs the harness nothing while it is measured.
    const fd = openSync(logFile, 'a');
    child = spawn(cmd, args, { stdio: ['ignore', fd, fd], detached: true, ...spawnOpts });
    closeSync(fd);
    out = { get text() { try { return readFileSync(logFile, 'utf8').slice(-65536); } catch { return ''; } } };
  } else {
    child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...spawnOpts });
    out = { text: '' };
    const keep = (d) => { out.text = (out.text + d.toString()).slice(-65536); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let alive = true;
  exited.then(() => { alive = false; });
  return {
    child, out, exited,
    get pid() { return child.pid; },
    get alive() { return alive; },
    /** SIGTERM, then SIGKILL after `graceMs`. */
    async stop(graceMs = 3000) {
      if (!alive) return exited;
      child.kill('SIGTERM');
      const t = setTimeout(() => { if (alive) child.kill('SIGKILL'); }, graceMs);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}

/** Runs a command to completion; resolves with stdout/stderr/code (never rejects on exit code). */
export function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'], ...opts });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    let timer;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
    if (opts.input !== undefined) child.stdin.end(opts.input);
  });
}

const CLK_TCK = 100; // USER_HZ on Linux, fixed at 100 for /proc/<pid>/stat

/** The pid and all its descendants (nginx and haproxy fork workers). */
export function processTree(pid) {
  const children = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch { /* gone */ }
  }
  const out = [];
  const walk = (p) => { out.push(p); for (const c of children.get(p) ?? []) walk(c); };
  walk(pid);
  return out;
}

/** utime+stime in seconds of one process (all its threads). */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch { return 0; }
}

/** A field of /proc/PID/status in bytes (VmRSS, VmHWM). */
export function statusKb(pid, field) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch { return 0; }
}

/** Sums over a set of pids. */
export const sumCpu = (pids) => pids.reduce((a, p) => a + cpuSeconds(p), 0);
export const sumStatus = (pids, field) => pids.reduce((a, p) => a + statusKb(p, field), 0);

/** How often private memory is sampled during a cell. */
export const MEMORY_SAMPLE_MS = 100;

/**
 * Samples one /proc/PID/status field (RssAnon: private memory, the pages no other process shares) of each proxy every
 * MEMORY_SAMPLE_MS, summed over the proxy's processes (nginx: master + worker). The first sample, taken at once, is the
 * proxy at rest; stop() gives it and the peak of each side.
 */
export function sampleMemory(pair, field = 'RssAnon', intervalMs = MEMORY_SAMPLE_MS) {
  const read = () => ({ a: sumStatus(pair.pidsA(), field), b: sumStatus(pair.pidsB(), field) });
  const first = read();
  const peak = { ...first };
  let samples = 1;
  const timer = setInterval(() => {
    const s = read();
    peak.a = Math.max(peak.a, s.a);
    peak.b = Math.max(peak.b, s.b);
    samples++;
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      const s = read();
      peak.a = Math.max(peak.a, s.a);
      peak.b = Math.max(peak.b, s.b);
      return { anonRestA: first.a, anonRestB: first.b, anonPeakA: peak.a, anonPeakB: peak.b, anonSamples: samples + 1 };
    },
  };
}

/** Machine facts for the report. */
export function machineInfo() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = (cpuinfo.match(/^model name\s*:\s*(.*)$/m) ?? [])[1] ?? 'unknown';
  const flags = (cpuinfo.match(/^flags\s*:\s*(.*)$/m) ?? [])[1] ?? '';
  let osRelease = '';
  try { osRelease = (readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?(.*?)"?$/m) ?? [])[1] ?? ''; } catch { /* */ }
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  return {
    nproc: os.cpus().length, cpuModel: model, aesni: /\baes\b/.test(flags), kernel: os.release(), os: osRelease,
    memTotalMiB: Math.round(os.totalmem() / 1048576), loadavgAtStart: load, hostname: os.hostname(),
  };
}

/** Load average plus the busiest other processes, to describe the load conditions of a run. */
export async function loadSnapshot() {
  const r = await run('ps', ['-eo', 'pcpu,comm', '--sort=-pcpu', '--no-headers']).catch(() => ({ stdout: '' }));
  const top = r.stdout.trim().split('\n').filter(Boolean).slice(0, 5).map((l) => l.trim());
  return { loadavg: os.loadavg().map((x) => Number(x.toFixed(2))), top };
}

/** Versions of every tool in the run. */
export async function versions() {
  const first = async (cmd, args, re = /.*/) => {
    try {
      const r = await run(cmd, args, { timeoutMs: 5000 });
      const text = `${r.stdout}\n${r.stderr}`;
      const m = text.match(re);
      return m ? m[0].trim() : text.trim().split('\n')[0];
    } catch { return 'missing'; }
  };
  return {
    node: process.version,
    openssl: await first('openssl', ['version']),
    nodeOpenssl: process.versions.openssl,
    stunnel: await first('stunnel4', ['-version'], /stunnel \S+/),
    haproxy: await first('haproxy', ['-v'], /HAProxy version \S+/),
    nginx: await first('nginx', ['-v'], /nginx\/\S+/),
    iperf3: await first('iperf3', ['--version'], /iperf \S+/),
    wrk: await first('wrk', ['--version'], /wrk \S+/),
  };
}

/** Open files the bench needs: 10,000 idle connections are 20,000 sockets in each proxy. */
export const NOFILE = 262144;

/** Raises this process's RLIMIT_NOFILE (children inherit it) and kernel.pid_max for stunnel's thread per connection. */
export function raiseLimits(log) {
  const done = [];
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${NOFILE}:${NOFILE}`], { stdio: 'ignore' });
    done.push(`RLIMIT_NOFILE raised to ${NOFILE}`);
  } catch {
    log(`could not raise RLIMIT_NOFILE to ${NOFILE} (no CAP_SYS_RESOURCE?); using the hard limit ${nofileLimit()}`);
  }
  try {
    const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    // stunnel runs a thread per connection: 10,000 idle connections are 20,000 threads across A and B.
    if (pidMax < 131072) {
      writeFileSync('/proc/sys/kernel/pid_max', '131072\n');
      done.push(`kernel.pid_max ${pidMax} → 131072`);
    }
  } catch (e) {
    log(`could not raise kernel.pid_max (${e.message.split('\n')[0]})`);
  }
  return done;
}

/** The open-files limit children inherit (soft limit of this process). */
export function nofileLimit() {
  const m = readFileSync('/proc/self/limits', 'utf8').match(/^Max open files\s+(\d+|unlimited)/m);
  return m && m[1] !== 'unlimited' ? Number(m[1]) : NOFILE;
}
