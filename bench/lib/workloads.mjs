// The workloads: bulk (iperf3), rr1/rr32 and conn1/conn16 (wrk against the nginx app), idle (Node client + echo sink).
// Each run() gets a started proxy pair and returns the measured numbers plus the proxies' CPU and memory.
import { spawn } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import readline from 'node:readline';
import { run, sleep, sumCpu, sumStatus } from './sys.mjs';
import { startIperfServer } from './apps.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
/** CLOCK_MONOTONIC in µs: the clock V8 stamps .cpuprofile samples with, so profiles can be cut to the measured window. */
const hrUs = () => Number(process.hrtime.bigint() / 1000n);
const WRK_SCRIPT = join(HERE, '..', 'wrk-report.lua');

/** Durations and sizes for a full run and for `--quick`. */
export function plan(quick) {
  return quick
    ? { bulkBytes: '256M', rrSeconds: 1, connSeconds: 1, warmupSeconds: 1, idleSteps: [200, 1000] }
    : { bulkBytes: '1G', rrSeconds: 3, connSeconds: 3, warmupSeconds: 1, idleSteps: [1000, 10000] };
}

function accounting(pair) {
  const a = pair.pidsA();
  const b = pair.pidsB();
  return { a, b, cpuA: sumCpu(a), cpuB: sumCpu(b) };
}

function finish(pair, before) {
  const a = pair.pidsA();
  const b = pair.pidsB();
  return {
    cpuA: sumCpu(a) - before.cpuA,
    cpuB: sumCpu(b) - before.cpuB,
    hwmA: sumStatus(a, 'VmHWM'),
    hwmB: sumStatus(b, 'VmHWM'),
  };
}

async function wrk(port, { connections, threads, seconds, close }) {
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--timeout', '5s', '-s', WRK_SCRIPT];
  if (close) args.push('-H', 'Connection: close');
  args.push(`http://127.0.0.1:${port}/`);
  const r = await run('wrk', args, { timeoutMs: (seconds + 30) * 1000 });
  const m = r.stdout.match(/WRKJSON (\{.*\})/);
  if (!m) throw new Error(`wrk gave no result (code ${r.code}): ${r.stdout}\n${r.stderr}`);
  const j = JSON.parse(m[1]);
  const errors = Object.values(j.errors).reduce((x, y) => x + y, 0);
  return { ...j, errorsTotal: errors, perSecond: j.requests / (j.duration_us / 1e6) };
}

/** One request/response or new-connection workload through wrk. */
function wrkWorkload(name, { connections, close, what }) {
  return {
    name, app: 'http', what,
    unit: close ? 'conn/s' : 'req/s',
    async run(ctx, pair) {
      const threads = connections >= 16 ? 2 : 1;
      const p = ctx.plan;
      // Warm up (JIT, session caches, lazy allocations); not measured.
      await wrk(pair.entryPort, { connections, threads, seconds: p.warmupSeconds, close });
      const before = accounting(pair);
      const t0 = hrUs();
      const w = await wrk(pair.entryPort, { connections, threads, seconds: close ? p.connSeconds : p.rrSeconds, close });
      const t1 = hrUs();
      const acct = finish(pair, before);
      return {
        value: w.perSecond, requests: w.requests, seconds: w.duration_us / 1e6, errors: w.errorsTotal, wrkErrors: w.errors,
        p50us: w.lat_us.p50, p99us: w.lat_us.p99, p999us: w.lat_us.p999, meanUs: w.lat_us.mean, maxUs: w.lat_us.max,
        ...acct,
        cpuPerUnitA: acct.cpuA / w.requests, cpuPerUnitB: acct.cpuB / w.requests,
        windowUs: [t0, t1],
      };
    },
  };
}

const bulk = {
  name: 'bulk', app: 'iperf', unit: 'MB/s', what: 'one iperf3 TCP stream, client → A → B → iperf3 server',
  async run(ctx, pair, upstreamPort) {
    await sleep(300); // let the start-up probe's connection through A and B fail against the closed port
    const server = await startIperfServer(upstreamPort);
    const before = accounting(pair);
    const t0 = hrUs();
    let r;
    try {
      r = await run('iperf3', ['-c', '127.0.0.1', '-p', String(pair.entryPort), '-n', ctx.plan.bulkBytes, '-J'], { timeoutMs: 120_000 });
    } finally {
      await server.proc.stop(1000);
    }
    const acct = finish(pair, before);
    let j;
    try { j = JSON.parse(r.stdout); } catch { throw new Error(`iperf3 output is not JSON (code ${r.code}): ${r.stdout}\n${r.stderr}`); }
    if (j.error) throw new Error(`iperf3: ${j.error}`);
    const recv = j.end.sum_received;
    const gb = recv.bytes / 1e9;
    return {
      value: recv.bytes / recv.seconds / 1e6, bytes: recv.bytes, seconds: recv.seconds, errors: 0,
      ...acct, cpuPerUnitA: acct.cpuA / gb, cpuPerUnitB: acct.cpuB / gb, windowUs: [t0, hrUs()],
    };
  },
};

const idle = {
  name: 'idle', app: 'echo', unit: 'KB/conn', what: 'N idle connections held through A and B (each proven with a 1-byte echo)',
  async run(ctx, pair) {
    const steps = ctx.plan.idleSteps;
    await sleep(300);
    const base = { a: sumStatus(pair.pidsA(), 'VmRSS'), b: sumStatus(pair.pidsB(), 'VmRSS') };
    const before = accounting(pair);
    const child = spawn(process.execPath, [join(HERE, 'idle-client.mjs'), String(pair.entryPort), steps.join(','), '64'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = readline.createInterface({ input: child.stdout });
    const it = lines[Symbol.asyncIterator]();
    const out = { steps: [], base, errors: 0 };
    try {
      for (const step of steps) {
        const { value, done } = await it.next();
        if (done) throw new Error('idle client exited early');
        const s = JSON.parse(value);
        await sleep(1000); // let the proxies settle (frees, GC) before reading RSS
        const rssA = sumStatus(pair.pidsA(), 'VmRSS');
        const rssB = sumStatus(pair.pidsB(), 'VmRSS');
        const open = Math.max(s.open, 1);
        out.steps.push({
          target: step, open: s.open, errors: s.errors, firstError: s.firstError, openMs: s.ms, rssA, rssB,
          perConnA: (rssA - base.a) / open, perConnB: (rssB - base.b) / open,
        });
        out.errors = s.errors;
        child.stdin.write('\n');
      }
    } finally {
      child.stdin.end();
      await new Promise((r) => { if (child.exitCode !== null) r(); else child.once('exit', r); });
    }
    const acct = finish(pair, before);
    const last = out.steps[out.steps.length - 1];
    const first = out.steps[0];
    const marginal = (k) => (last[k] - first[k]) / Math.max(last.open - first.open, 1);
    return {
      ...out, ...acct,
      // Headline: RSS growth per held connection at the largest step, the larger of A and B, in KB (1 KB = 1024 B).
      value: Math.max(last.perConnA, last.perConnB) / 1024,
      perConnAKB: last.perConnA / 1024, perConnBKB: last.perConnB / 1024,
      perConnFirstAKB: first.perConnA / 1024, perConnFirstBKB: first.perConnB / 1024,
      marginalAKB: marginal('rssA') / 1024, marginalBKB: marginal('rssB') / 1024,
      cpuPerUnitA: acct.cpuA / Math.max(last.open, 1), cpuPerUnitB: acct.cpuB / Math.max(last.open, 1),
      openPerSecond: last.open / ((out.steps.reduce((x, s) => x + s.openMs, 0)) / 1000),
    };
  },
};

export const WORKLOADS = [
  bulk,
  wrkWorkload('rr1', { connections: 1, close: false, what: '1 persistent connection, small HTTP request/response in a loop (wrk -t1 -c1)' }),
  wrkWorkload('rr32', { connections: 32, close: false, what: '32 persistent connections (wrk -t2 -c32)' }),
  wrkWorkload('conn1', { connections: 1, close: true, what: 'new connection per request, concurrency 1 (wrk -t1 -c1, Connection: close)' }),
  wrkWorkload('conn16', { connections: 16, close: true, what: 'new connection per request, concurrency 16 (wrk -t2 -c16, Connection: close)' }),
  idle,
];
