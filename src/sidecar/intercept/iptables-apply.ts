// Installs and removes the ZTMESH_ nat rules with iptables-restore/ip6tables-restore (thin I/O over iptables-rules.ts).
// Re-applying replaces our chains' contents and adds each jump only if it is missing, so a re-run is idempotent.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ZtmeshError } from '../../common/errors.js';
import { INBOUND_SOURCE_V6 } from '../../common/mesh.js';
import { CHAIN_PREFIX, JUMPS, buildRules, cleanupCommands, type InterceptOptions, type IpFamily } from './iptables-rules.js';

/** Failure to run or apply iptables; code names the step. */
export class InterceptError extends ZtmeshError {}

export interface CommandResult { code: number; stdout: string; stderr: string }

/** Runs one program; injected so that tests can record the calls without root. */
export type CommandRunner = (file: string, args: string[], input?: string) => Promise<CommandResult>;

/** Spawns the program for real (no shell) and collects its output. */
export const spawnRunner: CommandRunner = (file, args, input) => new Promise((resolve) => {
  const child = spawn(file, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  child.on('error', (e) => resolve({ code: 127, stdout, stderr: `${stderr}${e.message}` }));
  child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  if (child.stdin) {
    // A program that exits without reading its input must not crash us with EPIPE; its exit code tells.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  }
});

const tool = (f: IpFamily) => (f === 4 ? 'iptables' : 'ip6tables');

/** IPv6 scope of a global (routable) address in /proc/net/if_inet6. */
const SCOPE_GLOBAL = '00';

/**
 * The `--ipv6 auto` decision: IPv6 is on in this namespace and it holds a global IPv6 address (a dual-stack or
 * IPv6 pod). A v4-only pod has only ::1 and link-local addresses, needs no ip6tables rules and no `ip` binary.
 */
export function ipv6Enabled(): boolean {
  try {
    if (readFileSync('/proc/sys/net/ipv6/conf/all/disable_ipv6', 'utf8').trim() !== '0') return false;
    return readFileSync('/proc/net/if_inet6', 'utf8').split('\n').some((l) => l.trim().split(/\s+/)[3] === SCOPE_GLOBAL);
  } catch {
    return false;
  }
}

async function must(run: CommandRunner, what: string, file: string, args: string[], input?: string): Promise<CommandResult> {
  const r = await run(file, args, input);
  if (r.code !== 0) {
    const hint = r.code === 127 ? ` (is ${file} installed and on PATH?${file === 'ip' ? ' IPv6 interception needs iproute2' : ''})` : /Permission denied|not permitted/i.test(r.stderr) ? ' (needs root or NET_ADMIN)' : '';
    throw new InterceptError('iptables_failed', `${what}: ${file} ${args.join(' ')} exited ${r.code}${hint}: ${r.stderr.trim()}`);
  }
  return r;
}

/** Applies the rules for each family: restore our chains, then add any missing jump. */
export async function applyRules(o: InterceptOptions, families: IpFamily[], run: CommandRunner = spawnRunner): Promise<void> {
  for (const f of families) {
    const t = tool(f);
    await must(run, `installing the ${t} nat rules`, `${t}-restore`, ['--noflush'], buildRules(o, f));
    for (const j of JUMPS) {
      const args = ['-t', 'nat', j.chain, ...j.rule.split(' ')];
      const check = await run(t, ['-t', 'nat', '-C', ...args.slice(2)]);
      if (check.code !== 0) await must(run, `jumping from ${j.chain}`, t, ['-t', 'nat', '-A', ...args.slice(2)]);
    }
    if (f === 6) {
      // ::6 is not a local address by default (127.0.0.6 is, as all of 127/8); the sidecar's inbound forward binds it.
      await must(run, `adding ${INBOUND_SOURCE_V6} to lo`, 'ip', ['-6', 'addr', 'replace', `${INBOUND_SOURCE_V6}/128`, 'dev', 'lo']);
    }
  }
}

/** Removes our jumps (every copy) and chains; absent rules are not errors, so cleanup is idempotent too. */
export async function cleanupRules(families: IpFamily[], run: CommandRunner = spawnRunner): Promise<void> {
  for (const f of families) {
    const t = tool(f);
    for (const args of cleanupCommands()) {
      // -D removes one copy per call; loop so duplicates left by older tools go too (bounded).
      for (let i = 0; i < 16; i++) {
        const r = await run(t, ['-t', 'nat', ...args]);
        if (r.code !== 0 || args[0] !== '-D') break;
      }
    }
    const left = await ztmeshChains(f, run);
    if (left.length) throw new InterceptError('cleanup_incomplete', `${t}: chains still present after cleanup: ${left.join(', ')}`);
    if (f === 6) await run('ip', ['-6', 'addr', 'del', `${INBOUND_SOURCE_V6}/128`, 'dev', 'lo']);
  }
}

/** The ZTMESH_ chains present in the nat table, from iptables-save. */
export async function ztmeshChains(f: IpFamily, run: CommandRunner = spawnRunner): Promise<string[]> {
  const r = await must(run, 'listing nat chains', `${tool(f)}-save`, ['-t', 'nat']);
  return r.stdout.split('\n').filter((l) => l.startsWith(`:${CHAIN_PREFIX}`)).map((l) => l.slice(1).split(' ')[0]!);
}

