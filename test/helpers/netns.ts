// Network namespaces for test/privileged/: a private L2 segment (a bridge in a hub namespace) joining
// workload namespaces by veth pairs, processes run inside them under a chosen uid, and cleanup that always runs.
//
//   const mesh = await createMesh('echo-roundtrip', ['a', 'b']);   // names/addresses unique to this file
//   mesh.addr.a / mesh.addr6.b / mesh.hubAddr                          // 10.x.y.1, fd7a:…::2, 10.x.y.254
//   await mesh.run('a', ['iptables-save'])                              // to completion, as root
//   const p = mesh.spawn('a', [process.execPath, BIN, 'sidecar', …], { uid: 1337 })
//   await mesh.destroy()                                                // kills processes, deletes namespaces
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { LineProcess } from './line-process.js';

export { LineProcess };

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

const TOOLS = ['ip', 'iptables', 'iptables-restore', 'ip6tables', 'setpriv', 'tcpdump'];

/** Why the privileged suite cannot run here, or undefined when it can. */
export function privilegedSkipReason(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux network namespaces (this is ${process.platform})`;
  if (!isRoot) return 'needs root (network namespaces, iptables); CI runs as root';
  const missing = TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  if (missing.length) return `missing tools: ${missing.join(', ')} (apt-get install iptables iproute2 util-linux tcpdump)`;
  const probe = `ztp${process.pid}`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  spawnSync('ip', ['netns', 'del', probe]);
  if (r.status !== 0) return `cannot create a network namespace: ${r.stderr.trim()}`;
  return undefined;
}

/** Computes the skip flag once per file and prints the reason when skipping (never a silent skip). */
export function skipPrivileged(file: string): boolean {
  const reason = privilegedSkipReason();
  if (reason) console.warn(`[privileged] skipping ${file}: ${reason}`);
  else letUnprivilegedUsersReach(REPO_ROOT);
  return reason !== undefined;
}

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The sidecars run as uid 1337, so they must be able to walk down to the checkout. A CI clone made
 * under a mktemp directory (mode 0700) is not; add search (x) permission, never read, to each ancestor.
 */
export function letUnprivilegedUsersReach(dir: string): void {
  for (let d = dir; ; d = dirname(d)) {
    const mode = statSync(d).mode;
    if (!(mode & 0o001)) {
      chmodSync(d, mode | 0o001);
      console.warn(`[privileged] added o+x to ${d} so uid 1337 can reach the checkout`);
    }
    if (dirname(d) === d) break;
  }
}

export interface RunResult { code: number | null; stdout: string; stderr: string }

export interface SpawnOptions {
  /** Run as this uid (and gid, unless given) with no supplementary groups and no capabilities, via setpriv. */
  uid?: number;
  gid?: number;
  env?: NodeJS.ProcessEnv;
}

function withPriv(argv: string[], o: SpawnOptions): string[] {
  if (o.uid === undefined) return argv;
  // No capabilities at all (bounding and inheritable sets emptied) and no way to regain any.
  return ['setpriv', `--reuid=${o.uid}`, `--regid=${o.gid ?? o.uid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--', ...argv];
}

const created = new Set<string>();
const children = new Set<LineProcess>();
// Last resort: a crashed or interrupted run still removes its namespaces.
process.once('exit', () => {
  for (const c of children) c.child.kill('SIGKILL');
  for (const ns of created) spawnSync('ip', ['netns', 'del', ns]);
});

function sh(argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
}

export interface Mesh {
  tag: string;
  /** Namespace name per role, plus the hub. */
  ns: Record<string, string>;
  /** IPv4 address per role on the shared segment. */
  addr: Record<string, string>;
  /** IPv6 address per role. */
  addr6: Record<string, string>;
  hubAddr: string;
  hubAddr6: string;
  /** The bridge in the hub. */
  bridge: string;
  /** The hub-side veth of each role: a capture there sees every packet of that role (the bridge itself sees only floods). */
  hubPort: Record<string, string>;
  /** A fresh temp dir readable by every uid (for configs, tokens, captures). */
  tmp: string;
  run(role: string, argv: string[], o?: SpawnOptions & { input?: string; timeoutMs?: number }): Promise<RunResult>;
  spawn(role: string, argv: string[], o?: SpawnOptions): LineProcess;
  destroy(): Promise<void>;
}

/**
 * Creates a hub namespace with a bridge and one namespace per role, each joined by a veth pair.
 * Names and addresses derive from `tag` (one per test file) and the checkout's path, so files, and two
 * checkouts running the suite at once, can run in parallel.
 */
export async function createMesh(tag: string, roles: string[]): Promise<Mesh> {
  const h = createHash('sha256').update(`${REPO_ROOT}\0${tag}`).digest();
  const short = h.toString('hex').slice(0, 5);
  const net4 = `10.${200 + (h[5]! % 50)}.${h[6]!}`;
  const net6 = `fd7a:${h.readUInt16BE(7).toString(16)}:${h.readUInt16BE(9).toString(16)}:1`;
  const ns: Record<string, string> = { hub: `ztm-${short}-hub` };
  for (const r of roles) ns[r] = `ztm-${short}-${r}`;
  const addr: Record<string, string> = {};
  const addr6: Record<string, string> = {};
  const bridge = `zb${short}`;
  const hubPort: Record<string, string> = {};
  // Leftovers of an interrupted earlier run with the same tag.
  for (const n of Object.values(ns)) spawnSync('ip', ['netns', 'del', n]);

  const mesh: Mesh = {
    tag, ns, addr, addr6, bridge, hubPort,
    hubAddr: `${net4}.254`, hubAddr6: `${net6}::fe`,
    tmp: (() => { const d = mkdtempSync(join(tmpdir(), `ztmesh-${short}-`)); chmodSync(d, 0o755); return d; })(),
    run: (role, argv, o = {}) => runIn(ns[role]!, argv, o),
    spawn: (role, argv, o = {}) => {
      const p = new LineProcess(['ip', 'netns', 'exec', ns[role]!, ...withPriv(argv, o)], o.env);
      children.add(p);
      void p.exited.then(() => children.delete(p));
      return p;
    },
    destroy: async () => {
      await Promise.all([...children].map((c) => c.stop()));
      for (const n of Object.values(ns)) {
        spawnSync('ip', ['netns', 'del', n]);
        created.delete(n);
      }
      // Keep the CA state, configs and captures of a failed run for a look when asked to.
      if (!process.env.ZTMESH_KEEP_NETNS_TMP) rmSync(mesh.tmp, { recursive: true, force: true });
    },
  };
  try {
    for (const n of Object.values(ns)) {
      sh(['ip', 'netns', 'add', n]);
      created.add(n);
      sh(['ip', '-n', n, 'link', 'set', 'lo', 'up']);
      // No duplicate address detection: addresses are usable at once.
      spawnSync('ip', ['netns', 'exec', n, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    }
    sh(['ip', '-n', ns.hub!, 'link', 'add', bridge, 'type', 'bridge']);
    sh(['ip', '-n', ns.hub!, 'addr', 'add', `${mesh.hubAddr}/24`, 'dev', bridge]);
    sh(['ip', '-n', ns.hub!, '-6', 'addr', 'add', `${mesh.hubAddr6}/64`, 'dev', bridge, 'nodad']);
    sh(['ip', '-n', ns.hub!, 'link', 'set', bridge, 'up']);
    roles.forEach((r, i) => {
      const inner = `z${short}${i}`;
      const outer = `z${short}${i}h`;
      hubPort[r] = outer;
      addr[r] = `${net4}.${i + 1}`;
      addr6[r] = `${net6}::${(i + 1).toString(16)}`;
      sh(['ip', 'link', 'add', inner, 'netns', ns[r]!, 'type', 'veth', 'peer', 'name', outer, 'netns', ns.hub!]);
      sh(['ip', '-n', ns.hub!, 'link', 'set', outer, 'master', bridge, 'up']);
      sh(['ip', '-n', ns[r]!, 'addr', 'add', `${addr[r]}/24`, 'dev', inner]);
      sh(['ip', '-n', ns[r]!, '-6', 'addr', 'add', `${addr6[r]}/64`, 'dev', inner, 'nodad']);
      sh(['ip', '-n', ns[r]!, 'link', 'set', inner, 'up']);
    });
  } catch (err) {
    await mesh.destroy();
    throw err;
  }
  return mesh;
}

function runIn(ns: string, argv: string[], o: SpawnOptions & { input?: string; timeoutMs?: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const full = ['ip', 'netns', 'exec', ns, ...withPriv(argv, o)];
    const child = spawn(full[0]!, full.slice(1), { env: { ...process.env, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${full.join(' ')} timed out\n${stderr}`)); }, o.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    child.stdin.on('error', () => {});
    child.stdin.end(o.input ?? '');
  });
}
