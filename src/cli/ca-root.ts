// `ztmesh ca root prepare|activate|retire|status`: the steps of a root rotation on a CA state directory.
// Each action parses its flags and calls src/ca/root/root-rotation.ts; the running CA picks the files up by itself.
import type { Command } from 'commander';
import { systemClock } from '../common/clock.js';
import { ConfigError } from '../common/errors.js';
import { parseDuration } from '../common/duration.js';
import { DEFAULT_MAX_TTL } from '../ca/config.js';
import { activateRoot, prepareRoot, readRootDir, retireRoot } from '../ca/root/root-rotation.js';
import { formatRootStatus, rootStatus } from '../ca/root/root-status.js';
import { caDirCommand, collect } from './options.js';

const short = (sha: string) => `sha256:${sha.slice(0, 16)}…`;

function maxTtl(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) throw new ConfigError('invalid_flag', `--max-ttl "${value}": not a positive duration (e.g. 24h)`);
  return ms;
}

/** Registers `ca root …` under the `ca` command. */
export function registerRoot(ca: Command): void {
  const root = ca.command('root').description('rotate the root without downtime: prepare, activate, retire (docs/ca.md "Root rotation")');
  const step = (name: string, description: string) => caDirCommand(root, name, description, 'or a local copy of its Secret');

  step('prepare', 'make the next root (next.key 0600), cross-sign it with the current one and add it to bundle.pem; the CA keeps signing with the current root')
    .action(async (opts: { dir: string }) => {
      const p = await prepareRoot(opts.dir, systemClock.now());
      process.stdout.write(`prepared root ${short(p.newRoot)}, cross-signed by the current root ${short(p.currentRoot)}; bundle.pem is now sequence ${p.sequence}\n`
        + 'the CA keeps signing with the current root; sidecars receive the new root from the CA now\n'
        + `next: once every sidecar's /status lists both roots, run: ztmesh ca root activate --dir ${opts.dir}\n`);
    });

  step('activate', 'sign new SVIDs under the prepared root; prints when every SVID of the old root will have expired')
    .option('--max-ttl <duration>', 'the --max-ttl of "ca serve": how long an SVID issued just before this step can live', DEFAULT_MAX_TTL)
    .action(async (opts: { dir: string; maxTtl: string }) => {
      const a = await activateRoot(opts.dir, systemClock.now(), maxTtl(opts.maxTtl));
      const until = new Date(a.previousSvidsValidUntilMs).toISOString();
      process.stdout.write(`activated root ${short(a.newRoot)}: the CA signs new SVIDs under it; the old root ${short(a.previousRoot)} stays trusted\n`
        + `every SVID issued under the old root will have expired by ${until} (max-ttl ${opts.maxTtl} from now)\n`
        + `next: after that, run: ztmesh ca root retire --dir ${opts.dir}\n`);
    });

  step('retire', 'remove the old root from bundle.pem; refuses while an SVID issued under it may still be valid')
    .option('--audit-log <file>', "an issuance log to check, one per replica; FILE.1 is read too (repeatable) (default: none: the time activate recorded decides)", collect)
    .option('--force', 'retire even though SVIDs of the old root may still be valid: workloads holding them can no longer be verified (default: off)')
    .option('--max-ttl <duration>', 'max-ttl to assume when rotation.json does not say (it does after activate)', DEFAULT_MAX_TTL)
    .action(async (opts: { dir: string; auditLog?: string[]; force?: boolean; maxTtl: string }) => {
      const r = await retireRoot(opts.dir, systemClock.now(), { auditLogs: opts.auditLog ?? [], force: opts.force === true, defaultMaxTtlMs: maxTtl(opts.maxTtl) });
      if (r.forced) process.stderr.write(`ztmesh: --force: ${r.bound.basis}; retiring anyway\n`);
      process.stdout.write(`retired root(s) ${r.removed.map(short).join(', ')}: bundle.pem is now sequence ${r.sequence}; sidecars drop them from the CA's next push\n`);
    });

  step('status', 'show the roots, their state (active, prepared, retiring) and the next step')
    .option('--json', 'print JSON (default: text)')
    .action(async (opts: { dir: string; json?: boolean }) => {
      const s = rootStatus(await readRootDir(opts.dir), systemClock.now());
      process.stdout.write(opts.json ? `${JSON.stringify(s, null, 2)}\n` : formatRootStatus(s));
    });
}
