// `ztmesh status`: one sidecar's rotation state for a person (or --json for scripts).
// Exit code 0 only when the identity is `available`; 1 for any other state; 2 when the admin cannot be read.
import type { Command } from 'commander';
import type { SidecarStatus } from '../admin/status-types.js';
import { formatDuration } from '../common/duration.js';

/** Where the sidecar admin listens by default (DESIGN.md). */
export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:15000';
/** Refresh period of --watch. */
export const WATCH_INTERVAL_MS = 2_000;
/** How long one fetch of /status may take. */
export const FETCH_TIMEOUT_MS = 5_000;

export const EXIT_AVAILABLE = 0;
export const EXIT_NOT_AVAILABLE = 1;
export const EXIT_UNREACHABLE = 2;

/** Accepts "host:port" or a URL. */
export function adminUrl(text: string): string {
  const t = text.trim().replace(/\/+$/, '');
  return /^https?:\/\//.test(t) ? t : `http://${t}`;
}

function relative(iso: string | null, nowMs: number): string {
  if (!iso) return '-';
  const d = Date.parse(iso) - nowMs;
  return `${iso} (${d >= 0 ? `in ${formatDuration(d)}` : `${formatDuration(-d)} ago`})`;
}

/** Renders the status document as aligned lines. Pure, so it is tested directly. */
export function formatStatus(s: SidecarStatus, nowMs: number, admin: string): string {
  const id = s.identity;
  const rows: [string, string][] = [
    ['Admin', admin],
    ['Identity', id.spiffeId ?? '(none yet)'],
    ['State', id.state],
    ['Serial', id.serial ?? '-'],
    ['Public key', id.publicKeySha256 ? `sha256:${id.publicKeySha256.slice(0, 16)}…` : '-'],
    ['Valid from', relative(id.notBefore, nowMs)],
    ['Valid until', relative(id.notAfter, nowMs)],
    ['Next refresh', relative(id.refreshAt, nowMs)],
    ['Rotations', `${id.rotations}${id.lastRotation ? `, last ${relative(id.lastRotation, nowMs)}` : ''}`],
    ['Failures', `${id.consecutiveFailures} consecutive, ${id.failuresTotal} total`],
    ['Last error', id.lastError ? `${id.lastError.code}: ${id.lastError.message} (${relative(id.lastError.at, nowMs)})` : 'none'],
    ['CA', `${s.ca.address} ${s.ca.reachable ? 'reachable' : 'UNREACHABLE'}${s.ca.lastContact ? `, last contact ${relative(s.ca.lastContact, nowMs)}` : ', never contacted'}`],
    ['Bundle stream', s.ca.bundleStream.connected ? 'connected' : `disconnected${s.ca.bundleStream.lastError ? ` (${s.ca.bundleStream.lastError.code})` : ''}`],
  ];
  if (s.outageBudgetSeconds !== null) rows.push(['Outage budget', `${formatDuration(s.outageBudgetSeconds * 1000)} until the certificate expires`]);
  const b = s.trustBundle;
  rows.push(['Trust bundle', b ? `${b.trustDomain}, sequence ${b.sequence} (from ${b.source}), ${b.roots.length} root(s)` : 'none']);
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}${v}`);
  for (const r of b?.roots ?? []) lines.push(`${''.padEnd(width)}- sha256:${r.sha256.slice(0, 16)}… ${r.subject}, expires ${relative(r.notAfter, nowMs)}`);
  if (s.listeners.length) {
    lines.push('Listeners');
    for (const l of s.listeners) {
      lines.push(`${''.padEnd(width)}${l.name} ${l.kind} ${l.address} active=${l.connectionsActive} total=${l.connectionsTotal} denied=${l.denied}`);
    }
  } else {
    lines.push(`${'Listeners'.padEnd(width)}none`);
  }
  return `${lines.join('\n')}\n`;
}

/** Fetches /status; throws with a readable message when the admin cannot be read. */
export async function fetchStatus(base: string): Promise<SidecarStatus> {
  let res: Response;
  try {
    res = await fetch(`${base}/status`, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (e) {
    const c = (e as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause;
    const cause = c?.code ?? c?.errors?.[0]?.code ?? c?.message ?? (e as Error).message;
    throw new Error(`cannot reach the sidecar admin at ${base}: ${cause}`);
  }
  if (!res.ok) throw new Error(`the sidecar admin at ${base} answered ${res.status}`);
  return (await res.json()) as SidecarStatus;
}

/** The exit code for a status. */
export function exitCodeFor(s: SidecarStatus): number {
  return s.identity.state === 'available' ? EXIT_AVAILABLE : EXIT_NOT_AVAILABLE;
}

async function once(base: string, asJson: boolean): Promise<number> {
  try {
    const s = await fetchStatus(base);
    process.stdout.write(asJson ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s, Date.now(), base));
    return exitCodeFor(s);
  } catch (e) {
    process.stderr.write(`ztmesh status: ${(e as Error).message}\n`);
    return EXIT_UNREACHABLE;
  }
}

/** Registers the `status` command. */
export function register(program: Command): void {
  program
    .command('status')
    .description('show a sidecar\'s identity and rotation state; exit code 0 only when the certificate is available')
    .option('--admin <url>', 'the sidecar admin address', process.env.ZTMESH_ADMIN_URL ?? DEFAULT_ADMIN_URL)
    .option('--json', 'print the raw /status JSON')
    .option('--watch', `refresh every ${WATCH_INTERVAL_MS / 1000}s until interrupted`)
    .action(async (opts: { admin: string; json?: boolean; watch?: boolean }) => {
      const base = adminUrl(opts.admin);
      if (!opts.watch) {
        process.exitCode = await once(base, !!opts.json);
        return;
      }
      let code = EXIT_UNREACHABLE;
      let wake: (() => void) | undefined;
      let stop = false;
      const onSignal = () => { stop = true; wake?.(); };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      while (!stop) {
        if (process.stdout.isTTY && !opts.json) process.stdout.write('\x1b[H\x1b[2J');
        code = await once(base, !!opts.json);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, WATCH_INTERVAL_MS);
          wake = () => { clearTimeout(t); resolve(); };
        });
      }
      process.exitCode = code;
    });
}
