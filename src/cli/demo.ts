// `ztmesh demo` (what `npm start` runs): a whole local mesh on embedded defaults, with no setup.
// Real `ztmesh ca` and `ztmesh sidecar` processes, an echo app, traffic web → api, one refusal, live rotation.
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { SidecarStatus } from '../admin/status-types.js';
import { humanDuration } from '../common/duration.js';
import { DEFAULT_TRUST_DOMAIN, SIDECAR_NODE_FLAGS } from '../common/mesh.js';
import { LineProcess } from '../common/line-process.js';
import { prepareDemoDir } from './demo-dir.js';
import { formatHostPort } from '../common/address.js';

/** The CLI entry point the demo starts its children with. */
const BIN = fileURLToPath(new URL('../../bin/ztmesh.js', import.meta.url));
export const DEMO_TRUST_DOMAIN = DEFAULT_TRUST_DOMAIN;
export const WEB_ID = `spiffe://${DEMO_TRUST_DOMAIN}/ns/demo/sa/web`;
export const API_ID = `spiffe://${DEMO_TRUST_DOMAIN}/ns/demo/sa/api`;
/** Short enough to watch a rotation (at about half-life) within a minute. */
export const DEMO_TTL = '40s';
/** How long any one step may take before the demo gives up. */
const STEP_TIMEOUT_MS = 20_000;
/** How often the live view refreshes. */
const TICK_MS = 3_000;

interface DemoOptions { once?: boolean; dir: string }

/** A child ztmesh process (common/line-process.ts) whose JSON log lines go to a file and are kept for waitFor(). */
class Child extends LineProcess {
  constructor(readonly name: string, args: string[], logFile: string) {
    // Sidecars run with the Node.js flags they are deployed with.
    const nodeFlags = args[0] === 'sidecar' ? SIDECAR_NODE_FLAGS : [];
    super([process.execPath, ...nodeFlags, BIN, ...args], {
      name, tee: createWriteStream(logFile), keepLines: 2000, env: { ZTMESH_LOG_LEVEL: 'info', ZTMESH_LOG_FORMAT: 'json' },
    });
  }

  /** SIGTERM (after `graceMs` for a child that already got the terminal's Ctrl-C itself), SIGKILL after 8 s. */
  async shutdown(graceMs = 0): Promise<void> {
    if (graceMs > 0) await Promise.race([this.exited, new Promise((r) => setTimeout(r, graceMs))]);
    await this.stop('SIGTERM', 8_000);
  }
}

/** Runs a ztmesh command to completion and returns its stdout. */
function run(args: string[]): Promise<string> {
  return new Promise((resolveOut, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    // 'close', not 'exit': only then has all of stdout been read.
    p.on('close', (code) => (code === 0 ? resolveOut(out) : reject(new Error(`ztmesh ${args.slice(0, 3).join(' ')} failed (${code}): ${err.trim()}`))));
  });
}

async function httpJson<T>(url: string, method = 'GET'): Promise<{ status: number; body: T }> {
  const res = await fetch(url, { method });
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* Prometheus text, or plain */ }
  return { status: res.status, body: body as T };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = STEP_TIMEOUT_MS): Promise<T> {
  const start = Date.now();
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch { /* not yet */ }
    if (Date.now() - start > timeoutMs) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Sends `text` through a fresh connection to 127.0.0.1:port and returns what came back before EOF. */
function exchange(port: number, text: string): Promise<string> {
  return new Promise((resolveReply, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => { s.end(); resolveReply(Buffer.concat(chunks).toString()); });
    s.on('error', reject);
    s.setTimeout(STEP_TIMEOUT_MS, () => s.destroy(new Error('no reply')));
    s.end(text);
  });
}

/** A TLS client with no certificate against api's inbound port: the refusal the demo shows. */
function clientWithoutCertificate(port: number, bundlePem: string): Promise<string> {
  return new Promise((resolveOutcome) => {
    const t = tls.connect({ host: '127.0.0.1', port, ca: bundlePem, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    const chunks: Buffer[] = [];
    t.on('secureConnect', () => t.write('let me in'));
    t.on('data', (d: Buffer) => chunks.push(d));
    t.on('error', (e: NodeJS.ErrnoException) => resolveOutcome(`closed by the server (${e.code ?? e.message})`));
    t.on('close', () => resolveOutcome(chunks.length ? `GOT A REPLY: ${Buffer.concat(chunks).toString()}` : 'closed by the server'));
  });
}

/** The serial the TLS server on 127.0.0.1:port presents, read from the peer's side. */
function serverSerial(port: number, bundlePath: string): Promise<string> {
  return new Promise((resolveSerial, reject) => {
    const t = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(bundlePath, 'utf8'), minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    t.once('secureConnect', () => { resolveSerial(t.getPeerX509Certificate()?.serialNumber ?? ''); t.destroy(); });
    t.once('error', reject);
  });
}
const normSerial = (hex: string | null | undefined) => (hex ?? '').toLowerCase().replace(/^0+/, '');
const short = (hex: string | null) => (hex ? `${hex.slice(0, 12)}…` : '-');
function statusLine(name: string, s: SidecarStatus): string {
  const id = s.identity;
  const left = id.notAfter ? Math.round((Date.parse(id.notAfter) - Date.now()) / 1000) : 0;
  const next = id.refreshAt ? Math.max(0, Math.round((Date.parse(id.refreshAt) - Date.now()) / 1000)) : 0;
  const conns = s.listeners.map((l) => `${l.name}: ${l.connectionsTotal} conns, ${l.denied} denied`).join('; ');
  return `  ${name.padEnd(4)} ${id.state.padEnd(10)} serial ${short(id.serial)} rotations ${id.rotations}  expires in ${humanDuration(left * 1000)}, renews in ${humanDuration(next * 1000)}  [${conns}]`;
}

/** Runs the demo; resolves with the process exit code. */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const dir = resolve(opts.dir);
  // Before anything starts: a directory the demo did not make is refused (thrown), and nothing is deleted.
  prepareDemoDir(dir);
  const say = (text: string) => process.stdout.write(`${text}\n`);
  const children: Child[] = [];
  const echo = net.createServer({ allowHalfOpen: true }, (s) => { s.on('error', () => {}); s.pipe(s); });
  let stopping = false;
  let interrupted = false;
  const shutdown = async () => {
    stopping = true;
    // Ctrl-C reaches the children too (same process group): give them a moment to drain on their own.
    // Sidecars first, then the CA, so the CA has no open streams left to wait for.
    const ca = children.find((c) => c.name === 'ca');
    await Promise.all(children.filter((c) => c !== ca).map((c) => c.shutdown(interrupted ? 3_000 : 0)));
    await ca?.shutdown(interrupted ? 3_000 : 0);
    echo.close();
  };
  // Never leave children behind, even if this process dies on an unexpected error.
  process.once('exit', () => { for (const c of children) c.child.kill('SIGKILL'); });
  const checks: { what: string; ok: boolean }[] = [];
  const check = (what: string, ok: boolean) => {
    checks.push({ what, ok });
    say(`${ok ? '  ✔' : '  ✘'} ${what}`);
  };

  try {
    say(`ztmesh demo: state and logs in ${dir}`);

    // 1. The CA.
    const caDir = join(dir, 'ca');
    await run(['ca', 'init', '--dir', caDir, '--trust-domain', DEMO_TRUST_DOMAIN]);
    const ca = new Child('ca', ['ca', 'serve', '--dir', caDir, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--min-ttl', '20s', '--drain', '1s'], join(dir, 'ca.log'));
    children.push(ca);
    const caInfo = JSON.parse(await ca.waitFor(/"msg":"ztmesh ca serving"/)) as { grpc: string; admin: string };
    say(`CA serving on ${caInfo.grpc} (trust domain ${DEMO_TRUST_DOMAIN})`);
    const bundlePath = join(caDir, 'bundle.pem');

    // 2. The app: a tiny echo service.
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const echoPort = (echo.address() as net.AddressInfo).port;

    // 3. Join tokens and the two sidecars: api (inbound → echo, allows only web), then web (outbound → api).
    const startSidecar = async (name: string, id: string, yaml: string): Promise<{ child: Child; admin: string }> => {
      const token = (await run(['ca', 'token', 'create', '--dir', caDir, '--spiffe-id', id, '--ttl', '10m'])).trim();
      writeFileSync(join(dir, `${name}.token`), `${token}\n`, { mode: 0o600 });
      const config = join(dir, `${name}.yaml`);
      writeFileSync(config, [
        `trustDomain: ${DEMO_TRUST_DOMAIN}`,
        `ca: { address: "${caInfo.grpc}", serverName: localhost, bundle: "${bundlePath}", tokenFile: "${join(dir, `${name}.token`)}" }`,
        `identity: { ttl: ${DEMO_TTL} }`,
        'admin: 127.0.0.1:0',
        'health: 127.0.0.1:0',
        'drainTimeout: 1s',
        yaml,
      ].join('\n'));
      const child = new Child(name, ['sidecar', '--config', config], join(dir, `${name}.log`));
      children.push(child);
      const info = JSON.parse(await child.waitFor(/"msg":"admin listening"/)) as { admin: string };
      const admin = `http://${info.admin}`;
      await until(`${name} ready`, async () => ((await httpJson(`${admin}/readyz`)).status === 200 ? true : undefined));
      return { child, admin };
    };
    const api = await startSidecar('api', API_ID, [
      'inbound:',
      `  - { name: echo, listen: "127.0.0.1:0", forward: "${formatHostPort('127.0.0.1', echoPort)}", allow: ["${WEB_ID}"] }`,
    ].join('\n'));
    const apiStatus = (await httpJson<SidecarStatus>(`${api.admin}/status`)).body;
    const apiInbound = apiStatus.listeners.find((l) => l.kind === 'inbound')!.address;
    const web = await startSidecar('web', WEB_ID, [
      'outbound:',
      `  - { name: api, listen: "127.0.0.1:0", upstream: "${apiInbound}", expect: "${API_ID}" }`,
    ].join('\n'));
    const webOutbound = (await httpJson<SidecarStatus>(`${web.admin}/status`)).body.listeners.find((l) => l.kind === 'outbound')!.address;
    const outPort = Number(webOutbound.slice(webOutbound.lastIndexOf(':') + 1));
    const inPort = Number(apiInbound.slice(apiInbound.lastIndexOf(':') + 1));
    say('');
    say(`  app ──plain──> web sidecar ${webOutbound} ══ mTLS 1.3 ══> api sidecar ${apiInbound} ──plain──> echo ${formatHostPort('127.0.0.1', echoPort)}`);
    say(`  web admin: ${web.admin}/status   (also /metrics, /certs, POST /rotate)`);
    say(`  api admin: ${api.admin}/status`);
    say(`  try it:    echo hello | npx ztmesh connect ${formatHostPort('127.0.0.1', outPort)}     or: npx ztmesh status --admin ${web.admin} --watch`);
    say('');

    // 4. Traffic web → api through the mesh.
    say('Traffic web → api:');
    const reply = await exchange(outPort, 'hello through the mesh');
    check(`echo replied "${reply}" through two sidecars`, reply === 'hello through the mesh');

    // 5. One refusal: a client without a certificate, straight at api's mTLS port.
    say('A client without a certificate knocks on api:');
    const outcome = await clientWithoutCertificate(inPort, readFileSync(bundlePath, 'utf8'));
    const refusal = await api.child.waitFor(/"msg":"connection refused".*"reason":"no_client_cert"|"reason":"no_client_cert".*"msg":"connection refused"/).catch(() => undefined);
    check(`refused: ${outcome}; api logged reason=no_client_cert`, !!refusal && !outcome.startsWith('GOT'));
    const metrics = (await httpJson<string>(`${api.admin}/metrics`)).body;
    check('api counted it in ztmesh_handshake_failures_total{reason="no_client_cert"}', /ztmesh_handshake_failures_total\{[^}]*reason="no_client_cert"[^}]*\} [1-9]/.test(String(metrics)));

    // 6. Rotation: a long-lived connection keeps streaming while both sidecars rotate twice.
    say('Rotation (forced twice with POST /rotate; natural ones come at about half of the 40 s TTL):');
    const statusOf = async (s: { admin: string }) => (await httpJson<SidecarStatus>(`${s.admin}/status`)).body;
    let current = await Promise.all([web, api].map(statusOf));
    say(statusLine('web', current[0]!));
    say(statusLine('api', current[1]!));
    const long = net.connect({ host: '127.0.0.1', port: outPort, allowHalfOpen: true });
    long.on('error', () => {});
    const longEcho = (text: string) => new Promise<string>((r) => { long.once('data', (d: Buffer) => r(d.toString())); long.write(text); });
    let streamOk = (await longEcho('before')) === 'before';
    for (let round = 1; round <= 2; round++) {
      const before = current;
      await Promise.all([web, api].map((s) => httpJson(`${s.admin}/rotate`, 'POST')));
      current = await Promise.all([web, api].map((s, i) => until('rotation', async () => {
        const st = await statusOf(s);
        return st.identity.serial !== before[i]!.identity.serial && st.identity.state === 'available' ? st : undefined;
      })));
      say(statusLine('web', current[0]!));
      say(statusLine('api', current[1]!));
      streamOk = streamOk && (await longEcho(`during rotation ${round}`)) === `during rotation ${round}`;
      const presented = await serverSerial(inPort, bundlePath);
      check(`rotation ${round}: new serials on both; api's listener now presents ${short(presented)} to new peers`,
        normSerial(presented) === normSerial(current[1]!.identity.serial) && current.every((st, i) => st.identity.serial !== before[i]!.identity.serial));
    }
    check('one long-lived connection kept streaming across both rotations', streamOk);
    long.end();
    const again = await exchange(outPort, 'new connection, new certificates');
    check('a new connection after the rotations works', again === 'new connection, new certificates');

    const failed = checks.filter((c) => !c.ok);
    if (opts.once) {
      say(failed.length ? `demo FAILED: ${failed.map((c) => c.what).join('; ')}` : 'demo OK: every step behaved');
      return failed.length ? 1 : 0;
    }

    // 7. Live view until Ctrl-C.
    say('');
    say('Live: a request web → api every 3 s, with each sidecar\'s rotation status. Ctrl-C to stop.');
    await new Promise<void>((resolveRun) => {
      process.once('SIGINT', () => { interrupted = true; resolveRun(); });
      process.once('SIGTERM', () => resolveRun());
      const tick = async () => {
        if (stopping) return;
        let result: string;
        try {
          result = (await exchange(outPort, 'ping')) === 'ping' ? 'ok' : 'BAD REPLY';
        } catch (e) {
          result = `FAILED (${(e as Error).message})`;
        }
        const [w, a] = await Promise.all([web, api].map(async (s) => (await httpJson<SidecarStatus>(`${s.admin}/status`)).body)).catch(() => [undefined, undefined]);
        say(`${new Date().toISOString().slice(11, 19)} web → api: ${result}`);
        if (w) say(statusLine('web', w));
        if (a) say(statusLine('api', a));
        if (!stopping) setTimeout(() => void tick(), TICK_MS);
      };
      void tick();
    });
    say('stopping…');
    return 0;
  } catch (err) {
    say(`demo FAILED: ${(err as Error).message}`);
    say(`(logs in ${dir})`);
    return 1;
  } finally {
    await shutdown();
  }
}

/** Registers the `demo` command. */
export function register(program: Command): void {
  program.command('demo')
    .description('run a local mesh: a CA, two sidecars (web → api) in front of an echo app, a refusal and live rotation')
    .option('--once', 'run the steps once and exit 0 only if everything behaved (default: keep running until Ctrl-C)')
    .option('--dir <dir>', 'state and log directory: new, empty, or made by an earlier demo (whose files it replaces)', '.ztmesh-demo')
    .action(async (opts: { once?: boolean; dir: string }) => {
      process.exitCode = await runDemo(opts);
    });
}
