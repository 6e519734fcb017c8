// Shared setup of the transparent-mode scenarios: a CA in the hub namespace, pods with `ztmesh iptables`
// applied and a `ztmesh sidecar --transparent` running as uid 1337, echo apps, clients and a capture.
import { readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JoinTokenStore } from '../../src/ca/attestors/join-tokens.js';
import { makeCa, makeLeaf, type TestCa } from '../helpers/pki.js';
import { BIN } from '../helpers/cli.js';
import type { LineProcess, Mesh } from '../helpers/netns.js';

export const TRUST_DOMAIN = 'example.org';
export const SIDECAR_UID = 1337;
export const APP_UID = 1000;
export const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
export const idOf = (sa: string) => `spiffe://${TRUST_DOMAIN}/ns/default/sa/${sa}`;

export interface MeshCa { dir: string; address: string; bundle: string; process: LineProcess }

/** `ztmesh ca init` + `ca serve` as root in the hub namespace, reachable from every pod; `args` adds flags. */
export async function startHubCa(mesh: Mesh, args: string[] = []): Promise<MeshCa> {
  const dir = join(mesh.tmp, 'ca');
  const init = await mesh.run('hub', [process.execPath, BIN, 'ca', 'init', '--dir', dir, '--trust-domain', TRUST_DOMAIN]);
  if (init.code !== 0) throw new Error(`ca init: ${init.stderr}`);
  const proc = mesh.spawn('hub', [process.execPath, BIN, 'ca', 'serve', '--dir', dir, '--listen', '0.0.0.0:15012', '--admin', '127.0.0.1:0', '--sign-workers', '0', ...args]);
  await proc.waitFor(/"msg":"ztmesh ca serving"/, 30_000);
  // The state dir is private to the CA (root); sidecars (uid 1337) get a readable copy of the roots.
  const bundle = join(mesh.tmp, 'bundle.pem');
  await copyFile(join(dir, 'bundle.pem'), bundle);
  await chmod(bundle, 0o644);
  return { dir, address: `${mesh.hubAddr}:15012`, bundle, process: proc };
}

/** Where pods get their SVIDs: the real CA in the hub, or certificates made by the test (static sidecar fixture). */
export type Issuer = { kind: 'ca'; ca: MeshCa } | { kind: 'static'; ca: TestCa };

/**
 * The issuer the scenarios use. `ca` runs `ztmesh ca serve` in the hub and `ztmesh sidecar` in each pod;
 * `static` runs the same data path (startSidecarDataPath, dist/sidecar/app.js) with test-made SVIDs, without a CA.
 * ZTMESH_PRIVILEGED_IDENTITY=ca|static overrides the default.
 */
export async function startIssuer(mesh: Mesh): Promise<Issuer> {
  const kind = process.env.ZTMESH_PRIVILEGED_IDENTITY ?? DEFAULT_ISSUER;
  if (kind === 'static') return { kind: 'static', ca: makeCa(TRUST_DOMAIN) };
  return { kind: 'ca', ca: await startHubCa(mesh) };
}

/** The addresses each pod announces on the mesh stream: its IPv4 and its IPv6 (ULA) address on the segment. */
export const ANNOUNCED_PER_POD = 2;

/**
 * Waits until `pod`'s sidecar holds at least `entries` meshed destinations (its "membership updated" log lines),
 * e.g. every pod's announcement: before that a peer is not known to be meshed. Counters, never a sleep.
 */
export async function membershipHolds(pod: Pod, entries: number): Promise<void> {
  const enough = Array.from({ length: 200 }, (_, i) => entries + i).join('|');
  await pod.sidecar.waitFor(new RegExp(`"entries":(${enough}),"msg":"membership updated"`), 20_000);
}

/** With the CA issuer, waits until every pod's membership holds every pod's announcement (static issuer: nothing to wait for). */
export async function converge(issuer: Issuer, pods: Pod[], extraEntries = 0): Promise<void> {
  if (issuer.kind !== 'ca') return;
  await Promise.all(pods.map((p) => membershipHolds(p, ANNOUNCED_PER_POD * pods.length + extraEntries)));
}
const DEFAULT_ISSUER: 'ca' | 'static' = 'ca';

export interface PodOptions {
  /** The service account of the pod's identity. */
  sa: string;
  /** Run the sidecar as this uid (default 1337, the --proxy-uid). */
  sidecarUid?: number;
  /** Extra `ztmesh iptables` flags. */
  iptables?: string[];
  /** Transparent-mode settings (allow, defaultPolicy, passthrough, expect). */
  transparent?: {
    allow?: string[];
    defaultPolicy?: 'allow' | 'deny';
    passthrough?: { cidrs: string[]; ports: number[] };
    expect?: Record<string, string>;
    outboundPolicy?: 'passthrough' | 'registry-only';
    inboundMode?: 'strict' | 'permissive';
  };
  /** Explicit outbound listeners beside transparent mode (the sidecar config's `outbound`). */
  outbound?: { name: string; listen: string; upstream: string; expect?: string }[];
}

export interface Pod { role: string; sidecar: LineProcess; spiffeId: string }

/** Applies the rules in the pod's namespace, then starts its sidecar; waits until its transparent listeners are up. */
export async function startPod(mesh: Mesh, issuer: Issuer, role: string, o: PodOptions): Promise<Pod> {
  const rules = await mesh.run(role, [process.execPath, BIN, 'iptables', '--ipv6', 'true', ...(o.iptables ?? [])]);
  if (rules.code !== 0) throw new Error(`ztmesh iptables in ${role}: ${rules.stderr}`);
  const spiffeId = idOf(o.sa);
  const uid = o.sidecarUid ?? SIDECAR_UID;
  let sidecar: LineProcess;
  if (issuer.kind === 'ca') {
    const { token } = await new JoinTokenStore(issuer.ca.dir).create(spiffeId, 600_000, Date.now());
    const tokenFile = join(mesh.tmp, `${role}.token`);
    await writeFile(tokenFile, token, { mode: 0o644 });
    const t = o.transparent ?? {};
    sidecar = mesh.spawn(role, [
      process.execPath, BIN, 'sidecar', '--transparent',
      '--trust-domain', TRUST_DOMAIN, '--ca-address', issuer.ca.address, '--ca-bundle', issuer.ca.bundle, '--token-file', tokenFile,
      '--ca-server-name', 'localhost', '--spiffe-id', spiffeId, '--log-level', 'debug', '--drain-timeout', '1s',
      ...(t.allow ? ['--transparent-allow', t.allow.join(',')] : []),
      ...(t.defaultPolicy ? ['--transparent-default-policy', t.defaultPolicy] : []),
      ...(t.passthrough ? ['--transparent-passthrough', JSON.stringify(t.passthrough)] : []),
      ...(t.expect ? ['--transparent-expect', JSON.stringify(t.expect)] : []),
      ...(t.outboundPolicy ? ['--transparent-outbound-policy', t.outboundPolicy] : []),
      ...(t.inboundMode ? ['--transparent-inbound-mode', t.inboundMode] : []),
      ...(o.outbound ? ['--outbound', JSON.stringify(o.outbound)] : []),
    ], { uid });
  } else {
    const leaf = makeLeaf(issuer.ca, spiffeId);
    const specFile = join(mesh.tmp, `${role}.sidecar.json`);
    const config = { trustDomain: TRUST_DOMAIN, logLevel: 'debug', transparent: { enabled: true, ...o.transparent }, ...(o.outbound ? { outbound: o.outbound } : {}) };
    await writeFile(specFile, JSON.stringify({ config, keyPem: leaf.keyPem, chainPem: leaf.certPem, rootPem: issuer.ca.certPem }), { mode: 0o644 });
    sidecar = mesh.spawn(role, [process.execPath, fixture('static-sidecar.mjs'), specFile], { uid });
  }
  await sidecar.waitFor(/"msg":"transparent listeners up"/, 30_000);
  // Ready means holding an SVID and a first membership too: the real sidecar reports both on its log lines.
  if (issuer.kind === 'ca') {
    await sidecar.waitFor(/"event":"rotation"/, 30_000);
    await sidecar.waitFor(/"msg":"membership updated"/, 30_000);
  }
  return { role, sidecar, spiffeId };
}

/** The echo app on 0.0.0.0/:: port 8080 (as an ordinary uid), waiting until it listens. */
export async function startEcho(mesh: Mesh, role: string, port = 8080, host = '::'): Promise<LineProcess> {
  const p = mesh.spawn(role, [process.execPath, fixture('echo-server.mjs'), String(port), host], { uid: APP_UID });
  await p.waitFor(/"listening"/);
  return p;
}

export interface ClientResult { data: string; error?: string }

/** A plain TCP client app in `role` (ordinary uid): connects, sends `message`, returns what came back. */
export async function client(mesh: Mesh, role: string, host: string, port: number, message: string, waitMs = 4000): Promise<ClientResult> {
  const r = await mesh.run(role, [process.execPath, fixture('tcp-client.mjs'), host, String(port), message, String(waitMs)], { uid: APP_UID, timeoutMs: waitMs + 10_000 });
  if (!r.stdout.trim()) throw new Error(`client produced nothing: ${r.stderr}`);
  return JSON.parse(r.stdout) as ClientResult;
}

/** A tcpdump capture on the hub-side port of `role`, filtered on two test addresses. */
export interface Capture { file: string; stop(): Promise<Buffer> }

export async function capture(mesh: Mesh, role: string, hostA: string, hostB: string, name: string): Promise<Capture> {
  const dir = join(mesh.tmp, 'pcap');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}.pcap`);
  const p = mesh.spawn('hub', ['tcpdump', '-i', mesh.hubPort[role]!, '--immediate-mode', '-U', '-n', '-s', '0', '-w', file, `host ${hostA} and host ${hostB} and tcp`]);
  await p.waitFor(/listening on/, 10_000);
  return {
    file,
    stop: async () => {
      // Let the last packets reach the file (-U writes each packet as it comes).
      await new Promise((r) => setTimeout(r, 300));
      await p.stop('SIGINT');
      if (process.env.ZTMESH_DEBUG_CAPTURE) console.log(p.output());
      return readFileSync(file);
    },
  };
}

/** Occurrences of `needle` in `hay`. */
export function count(hay: Buffer, needle: Buffer | string): number {
  const n = typeof needle === 'string' ? Buffer.from(needle) : needle;
  let c = 0;
  for (let i = hay.indexOf(n); i >= 0; i = hay.indexOf(n, i + 1)) c++;
  return c;
}

/** Parsed JSON log lines of a process that match every field of `where`. */
export function logs(p: LineProcess, where: Record<string, unknown>): Record<string, unknown>[] {
  return p.json().filter((l) => Object.entries(where).every(([k, v]) => l[k] === v));
}
