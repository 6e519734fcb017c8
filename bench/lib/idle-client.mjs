// The idle workload's client: opens connections through proxy A in steps (e.g. 1000, then 10000 in total),
// proves each reaches the app with a one-byte echo, reports each step on stdout and waits for a line on stdin.
import net from 'node:net';
import readline from 'node:readline';

const [port, stepsArg, concArg] = process.argv.slice(2);
const steps = stepsArg.split(',').map(Number);
const concurrency = Number(concArg ?? 64);
const sockets = [];
let errors = 0;
let firstError = '';

function openOne() {
  return new Promise((resolve) => {
    const s = net.connect({ port: Number(port), host: '127.0.0.1', noDelay: true });
    let done = false;
    const finish = (ok, why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (ok) sockets.push(s);
      else { errors++; if (!firstError) firstError = why; s.destroy(); }
      resolve();
    };
    const timer = setTimeout(() => finish(false, 'timeout waiting for echo'), 20_000);
    s.once('connect', () => s.write('x'));
    s.once('data', () => finish(true));
    s.on('error', (e) => finish(false, e.code ?? e.message));
    s.once('close', () => finish(false, 'closed'));
  });
}

async function openUpTo(total) {
  let attempts = 0;
  let inFlight = 0;
  const maxAttempts = total * 2;
  const worker = async () => {
    while (sockets.length + inFlight < total && attempts < maxAttempts) {
      attempts++;
      inFlight++;
      await openOne();
      inFlight--;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

const rl = readline.createInterface({ input: process.stdin });
const nextLine = () => new Promise((r) => rl.once('line', r));

for (const total of steps) {
  const t0 = Date.now();
  await openUpTo(total);
  process.stdout.write(`${JSON.stringify({ step: total, open: sockets.length, errors, firstError, ms: Date.now() - t0 })}\n`);
  await nextLine();
}
for (const s of sockets) s.destroy();
process.exit(0);
