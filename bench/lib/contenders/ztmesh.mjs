// `ztmesh`: two real `ztmesh sidecar` processes (A: outbound listener, B: inbound listener) whose SVIDs come
// from a real `ztmesh ca serve`, bootstrapped with join tokens. One CA serves the whole run; sidecars are fresh per cell.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import { freePort, run, sleep, startProcess } from '../sys.mjs';
import { pairOf } from './common.mjs';
import { BENCH_TRUST_DOMAIN, CLIENT_ID, SERVER_ID } from '../certs.mjs';
import { generateKeySync, issueSvid, loadIssuer, loadPrivateKey, spkiOf, toPem, privateKeyPem, fromPemAll } from '../../../dist/pki/index.js';

/** Above the idle workload's largest step (the sidecar's default is 10,000 per listener). */
const MAX_CONNECTIONS = 20000;
const SANITY_CLIENT_ID = `spiffe://${BENCH_TRUST_DOMAIN}/ns/bench/sa/sanity-client`;

function bin(ctx) { return join(ctx.ztmeshRoot ?? ctx.root, 'bin', 'ztmesh.js'); }

async function cli(ctx, args) {
  const r = await run(process.execPath, [bin(ctx), ...args], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`ztmesh ${args.join(' ')} failed (${r.code}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Whether this build has a working CA and sidecar (they land while the bench is being written). */
export async function ztmeshAvailable(root) {
  const ctx = { ztmeshRoot: root };
  for (const args of [['sidecar', '--help'], ['ca', 'init', '--help'], ['ca', 'serve', '--help'], ['ca', 'token', 'create', '--help']]) {
    const r = await run(process.execPath, [bin(ctx), ...args], { timeoutMs: 30_000 }).catch((e) => ({ code: -1, stdout: '', stderr: e.message }));
    const text = `${r.stdout}${r.stderr}`;
    if (r.code !== 0 || /not implemented/i.test(text)) return { ok: false, reason: `\`ztmesh ${args.slice(0, -1).join(' ')}\` is not usable in this build (${text.trim().split('\n')[0]})` };
  }
  return { ok: true };
}

/** Picks the gRPC address out of the CA's start-up log line. */
function caAddressFrom(text) {
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let j;
    try { j = JSON.parse(line); } catch { continue; }
    for (const k of ['listen', 'address', 'grpc', 'addr']) {
      const v = j[k] ?? j.addresses?.[k];
      if (typeof v === 'string' && /:\d+$/.test(v) && !/:0$/.test(v)) return v;
    }
  }
  return undefined;
}

async function mintToken(ctx, state, spiffeId) {
  const out = (await cli(ctx, ['ca', 'token', 'create', '--dir', state.caDir, '--spiffe-id', spiffeId])).trim();
  // Either the bare token or a JSON object carrying it.
  if (out.startsWith('{')) { const j = JSON.parse(out); return j.token ?? j.value; }
  return out.split('\n').pop().trim();
}

/** Join tokens are single-use and each `token create` is a CLI start-up: mint them in parallel batches, between cells. */
const TOKEN_BATCH = 6;
async function token(ctx, state, spiffeId) {
  const pool = state.pools.get(spiffeId) ?? [];
  state.pools.set(spiffeId, pool);
  if (pool.length === 0) pool.push(...await Promise.all(Array.from({ length: TOKEN_BATCH }, () => mintToken(ctx, state, spiffeId))));
  return pool.shift();
}

function getStatus(port, path) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: 2000 }, (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', () => resolve(0));
    req.on('timeout', () => { req.destroy(); resolve(0); });
  });
}

function sidecarYaml(state, { tokenFile, admin, health, inbound, outbound, tunnel }) {
  const lines = [
    `trustDomain: ${BENCH_TRUST_DOMAIN}`,
    'ca:',
    `  address: ${state.caAddress}`,
    `  bundle: ${join(state.caDir, 'bundle.pem')}`,
    `  tokenFile: ${tokenFile}`,
    `admin: 127.0.0.1:${admin}`,
    `health: 127.0.0.1:${health}`,
  ];
  if (inbound) {
    lines.push('inbound:', `  - name: app`, `    listen: 127.0.0.1:${inbound.listen}`, `    forward: 127.0.0.1:${inbound.forward}`,
      `    allow: ["${CLIENT_ID}"]`, `    maxConnections: ${MAX_CONNECTIONS}`);
  }
  if (outbound) {
    lines.push('outbound:', `  - name: to-b`, `    listen: 127.0.0.1:${outbound.listen}`, `    upstream: 127.0.0.1:${outbound.upstream}`,
      `    expect: ${SERVER_ID}`, `    maxConnections: ${MAX_CONNECTIONS}`, ...(tunnel === 'off' ? ['    tunnel: off'] : []));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A ztmesh contender. `root` (a checkout or copy holding bin/ and dist/) defaults to ctx.ztmeshRoot; a second
 * instance with another name, root or node flags measures a variant side by side (run.mjs --variant DIR:NAME:FLAGS).
 * `tunnel: 'off'` makes A's outbound use raw mTLS (one TLS connection per app connection) instead of pooled tunnels.
 */
export function makeZtmesh(name = 'ztmesh', root = undefined, flags = undefined, { tunnel = 'auto' } = {}) {
  // Without explicit flags, the sidecars run with the Node.js flags they are deployed with (common/mesh.ts).
  let nodeFlags = flags ?? [];
  const state = { caDir: undefined, caAddress: undefined, ca: undefined, pools: new Map() };
  const at = (ctx) => (root ? { ...ctx, ztmeshRoot: root } : ctx);
  return {
  name,
  root,
  settings: () => `Two \`node bin/ztmesh.js sidecar --config FILE\` processes (Node ${process.version}, one event loop each), SVIDs (ECDSA P-256, TTL 1h) from one \`ztmesh ca serve\` bootstrapped with join tokens; everything else at its defaults (log level, timeouts, TLS settings of the data path). ${
    tunnel === 'off' ? 'A\'s outbound has `tunnel: off`: one mTLS connection (TLS 1.3, session resumption) per app connection.' : 'A\'s outbound is at its default, `tunnel: auto`: app connections ride as HTTP/2 CONNECT streams on pooled mTLS connections to B (the same TLS 1.3, certificates and checks; B authorizes every stream).'}${
    nodeFlags.length ? ` Node flags: \`${nodeFlags.join(' ')}\`.` : ''}\n\nA:\n\`\`\`yaml\n${
    sidecarYaml(state, { tokenFile: 'TOKEN_A', admin: 'ADMIN_A', health: 'HEALTH_A', outbound: { listen: 'ENTRY', upstream: 'B' }, tunnel })}\`\`\`\nB:\n\`\`\`yaml\n${
    sidecarYaml(state, { tokenFile: 'TOKEN_B', admin: 'ADMIN_B', health: 'HEALTH_B', inbound: { listen: 'B', forward: 'APP' } })}\`\`\`\n`,

  async setup(ctx0) {
    const ctx = at(ctx0);
    if (!flags) nodeFlags = [...((await import(join(ctx.ztmeshRoot ?? ctx.root, 'dist', 'common', 'mesh.js'))).SIDECAR_NODE_FLAGS ?? [])];
    state.caDir = join(ctx.dir, `${name}-ca`);
    await cli(ctx, ['ca', 'init', '--dir', state.caDir, '--trust-domain', BENCH_TRUST_DOMAIN]);
    state.ca = startProcess(process.execPath, [bin(ctx), 'ca', 'serve', '--dir', state.caDir, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0'], { logFile: join(ctx.dir, `${name}-ca.log`) });
    const deadline = Date.now() + 20_000;
    while (!(state.caAddress = caAddressFrom(state.ca.out.text))) {
      if (!state.ca.alive || Date.now() > deadline) throw new Error(`ztmesh ca serve did not report its address:\n${state.ca.out.text}`);
      await sleep(50);
    }
    ctx.log(`${name} CA serving on ${state.caAddress}${root ? ` (from ${root})` : ''}`);
  },

  async teardown() {
    if (state.ca) await state.ca.stop();
  },

  caFile: () => join(state.caDir, 'bundle.pem'),

  /** A client SVID for the sanity check, signed with the CA's own files (B's allow-list names only A's ID, so any
   * other ID of the trust domain is refused by policy; we use A's ID here to prove a certificate is served). */
  async sanityClient(ctx) {
    const caCert = readFileSync(join(state.caDir, 'ca.pem'));
    const caKey = loadPrivateKey(readFileSync(join(state.caDir, 'ca.key')), 'ca.key');
    const issuer = loadIssuer(fromPemAll(caCert.toString())[0], caKey);
    const key = generateKeySync('ec-p256');
    const leaf = issueSvid({ spki: spkiOf(key), spiffeId: CLIENT_ID, nowMs: Date.now(), ttlMs: 3_600_000 }, issuer);
    const cert = join(ctx.dir, 'ztmesh-sanity-client.pem');
    const keyFile = join(ctx.dir, 'ztmesh-sanity-client.key');
    writeFileSync(cert, toPem(leaf.der));
    writeFileSync(keyFile, privateKeyPem(key), { mode: 0o600 });
    return { cert, key: keyFile, spiffeId: SANITY_CLIENT_ID };
  },

  async start(ctx0, { upstreamPort, tag, cpuProf }) {
    const ctx = at(ctx0);
    const [entryPort, bPort, adminA, adminB, healthA, healthB] = await Promise.all(Array.from({ length: 6 }, freePort));
    const tokA = await token(ctx, state, CLIENT_ID);
    const tokB = await token(ctx, state, SERVER_ID);
    const files = {};
    for (const [side, tok] of [['a', tokA], ['b', tokB]]) {
      files[`token${side}`] = join(ctx.dir, `${name}-${tag}-${side}.token`);
      writeFileSync(files[`token${side}`], `${tok}\n`, { mode: 0o600 });
    }
    const confA = join(ctx.dir, `${name}-${tag}-a.yaml`);
    const confB = join(ctx.dir, `${name}-${tag}-b.yaml`);
    writeFileSync(confA, sidecarYaml(state, { tokenFile: files.tokena, admin: adminA, health: healthA, outbound: { listen: entryPort, upstream: bPort }, tunnel }));
    writeFileSync(confB, sidecarYaml(state, { tokenFile: files.tokenb, admin: adminB, health: healthB, inbound: { listen: bPort, forward: upstreamPort } }));
    const nodeArgs = (dir) => [...nodeFlags, ...(dir ? ['--cpu-prof', '--cpu-prof-dir', dir] : [])];
    const b = startProcess(process.execPath, [...nodeArgs(cpuProf?.b), bin(ctx), 'sidecar', '--config', confB], { logFile: join(ctx.dir, `${name}-${tag}-b.log`) });
    const a = startProcess(process.execPath, [...nodeArgs(cpuProf?.a), bin(ctx), 'sidecar', '--config', confA], { logFile: join(ctx.dir, `${name}-${tag}-a.log`) });
    // Ready = holds an SVID and every listener is up (docs/design.md "Admin endpoints and JSON").
    const deadline = Date.now() + 30_000;
    for (const [proc, port] of [[a, adminA], [b, adminB]]) {
      while ((await getStatus(port, '/readyz')) !== 200) {
        if (!proc.alive || Date.now() > deadline) {
          await Promise.all([a.stop(500), b.stop(500)]);
          throw new Error(`ztmesh sidecar not ready:\n--- A:\n${a.out.text}\n--- B:\n${b.out.text}`);
        }
        await sleep(50);
      }
    }
    return pairOf({ name, a, b, entryPort, bPort });
  },
  };
}

/** The ztmesh contender of a normal run: tunnels between the sidecars (the default). */
export const ztmesh = makeZtmesh();
/** ztmesh with raw mTLS between the sidecars (`tunnel: off`), side by side. */
export const ztmeshRaw = makeZtmesh('ztmesh-raw', undefined, undefined, { tunnel: 'off' });
