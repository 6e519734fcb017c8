// `ztmesh status`: one sidecar's rotation state for a person (or --json), and a probe for scripts: exit 0 exactly
// when /readyz answers 200, 1 otherwise, 2 when the admin cannot be read (docs/sidecar.md, `ztmesh status` exit codes).
import type { Command } from 'commander';
import type { ListenerStatus, SidecarStatus } from '../admin/status-types.js';
import { ConfigError, ZtmeshError } from '../common/errors.js';
import { humanDuration, parseDuration } from '../common/duration.js';
import { PORTS } from '../common/mesh.js';
import { formatHostPort } from '../common/address.js';
import { UNTRUSTED_CA_CODES } from '../identity/ca-reachability.js';

/** Where the sidecar admin listens by default (docs/sidecar.md). */
export const DEFAULT_ADMIN_URL = `http://${formatHostPort('127.0.0.1', PORTS.sidecarAdmin)}`;
/** Refresh period of --watch. */
export const WATCH_INTERVAL_MS = 2_000;
/** How often --wait asks again. */
export const WAIT_POLL_MS = 250;
/** How long one fetch of /status may take. */
export const FETCH_TIMEOUT_MS = 5_000;

export const EXIT_AVAILABLE = 0;
export const EXIT_NOT_AVAILABLE = 1;
export const EXIT_UNREACHABLE = 2;

/** Accepts a port ("15000", ":15000": loopback), "host:port" or a URL; returns the base URL. */
export function adminUrl(text: string): string {
  const t = text.trim().replace(/\/+$/, '');
  if (/^https?:\/\//i.test(t)) return t;
  const port = /^:?(\d{1,5})$/.exec(t)?.[1];
  if (port !== undefined) {
    if (Number(port) < 1 || Number(port) > 65535) throw new ConfigError('invalid_flag', `--admin "${text}": not a port number`);
    return `http://${formatHostPort('127.0.0.1', Number(port))}`;
  }
  if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(t)) {
    throw new ConfigError('invalid_flag', `--admin "${text}": give a port (15000), host:port (127.0.0.1:15000) or a URL (http://127.0.0.1:15000)`);
  }
  return `http://${t}`;
}

function relative(iso: string | null, nowMs: number): string {
  if (!iso) return '-';
  const d = Date.parse(iso) - nowMs;
  return `${iso} (${d >= 0 ? `in ${humanDuration(d)}` : `${humanDuration(-d)} ago`})`;
}

function ago(iso: string, nowMs: number): string {
  return `${humanDuration(Math.max(0, nowMs - Date.parse(iso)))} ago`;
}

function caLine(s: SidecarStatus, nowMs: number): string {
  const ca = s.ca;
  const contact = ca.lastContact ? `, last contact ${relative(ca.lastContact, nowMs)}` : ', never contacted';
  const r = ca.refusal;
  if (r && UNTRUSTED_CA_CODES.has(r.code)) return `${ca.address} reached, not trusted: ${r.message} (${r.code}, ${ago(r.at, nowMs)})`;
  if (r) return `${ca.address} reached, refused: ${r.code}: ${r.message} (${ago(r.at, nowMs)})`;
  return `${ca.address} ${ca.reachable ? 'reachable' : 'UNREACHABLE'}${contact}`;
}

/** A renewal failing while the certificate is still valid and trusted: ready, but worth a look. */
function renewalWarning(s: SidecarStatus, nowMs: number): string | undefined {
  const id = s.identity;
  if (id.state !== 'unavailable' || !id.lastError || !id.notAfter) return undefined;
  return `renewal failing (${id.lastError.code}, ${id.consecutiveFailures} in a row); the certificate stays valid until ${relative(id.notAfter, nowMs)}`;
}

function listenerLine(l: ListenerStatus, nowMs: number): string {
  const tunnels = l.tunnelConnections === undefined ? '' : ` tunnels=${l.tunnelConnections}`;
  const base = `${l.name} ${l.kind} ${l.address} active=${l.connectionsActive} total=${l.connectionsTotal} denied=${l.denied}${tunnels}`;
  const r = l.lastRefusal;
  if (!r) return base;
  // An outbound listener's peer is the app itself; the other end, when the connection got that far, is the upstream.
  const who = l.kind.includes('outbound') ? `app ${r.peer}${r.upstream ? ` → upstream ${r.upstream}` : ''}` : `peer ${r.peer}`;
  return `${base}, last refused: ${r.reason} (${who}${r.peerId ? ` ${r.peerId}` : ''}, ${ago(r.at, nowMs)})`;
}

/** Renders the status document as aligned lines. Pure, so it is tested directly. */
export function formatStatus(s: SidecarStatus, nowMs: number, admin: string): string {
  const id = s.identity;
  const rows: [string, string][] = [
    ['Admin', admin],
    ['Identity', id.spiffeId ?? '(none yet)'],
    ['State', id.state],
    ['Ready', s.readiness ? (s.readiness.ready ? 'yes' : `no: ${s.readiness.pending.join(', ')}`) : (exitCodeFor(s, nowMs) === EXIT_AVAILABLE ? 'yes' : 'no')],
    ...(renewalWarning(s, nowMs) ? [['Warning', renewalWarning(s, nowMs)!] as [string, string]] : []),
    ...(id.actionNeeded ? [['Action needed', id.actionNeeded] as [string, string]] : []),
    ['Serial', id.serial ?? '-'],
    ['Public key', id.publicKeySha256 ? `sha256:${id.publicKeySha256.slice(0, 16)}…` : '-'],
    ['Valid from', relative(id.notBefore, nowMs)],
    ['Valid until', relative(id.notAfter, nowMs)],
    ['Next refresh', relative(id.refreshAt, nowMs)],
    ['Rotations', `${id.rotations}${id.lastRotation ? `, last ${relative(id.lastRotation, nowMs)}` : ''}${id.history.at(-1)?.method ? ` by ${id.history.at(-1)!.method}` : ''}`],
    ['Failures', `${id.consecutiveFailures} consecutive, ${id.failuresTotal} total`],
    ['Last error', id.lastError ? `${id.lastError.code}: ${id.lastError.message} (${relative(id.lastError.at, nowMs)})` : 'none'],
    ['CA', caLine(s, nowMs)],
    ['Bundle stream', `${s.ca.bundleStream.connected ? 'connected' : `disconnected${s.ca.bundleStream.lastError ? ` (${s.ca.bundleStream.lastError.code})` : ''}`}${s.ca.bundleStream.protocol === 'watch-trust-bundle' ? ' (WatchTrustBundle: the CA serves no mesh stream)' : ''}`],
  ];
  const m = s.mesh;
  if (m?.membership) {
    const ms = m.membership;
    const what = ms.state === 'awaiting' ? 'AWAITING the first membership (not ready)'
      : ms.state === 'unsupported' ? 'none: the CA serves no membership, every destination gets mTLS'
        : `version ${ms.version}, ${ms.entries} meshed destination(s) (from ${ms.source}${ms.receivedAt ? `, ${relative(ms.receivedAt, nowMs)}` : ''})`;
    rows.push(['Membership', `${what}${ms.lastRefusal ? `; last update refused: ${ms.lastRefusal.code} (${ago(ms.lastRefusal.at, nowMs)})` : ''}`]);
  }
  const a = s.authz;
  if (a) {
    const names = a.policies.length ? `: ${a.policies.slice(0, 8).join(', ')}${a.policies.length > 8 ? `, and ${a.policies.length - 8} more` : ''}` : '';
    const what = a.state === 'awaiting' ? 'AWAITING the first policy from the CA: every inbound connection is refused (not ready)'
      : a.state === 'unsupported' ? 'none: the CA serves no policy (the listeners\' own allow lists decide)'
        : `version ${a.version}, mesh default ${a.defaultPolicy}, ${a.policies.length} polic${a.policies.length === 1 ? 'y' : 'ies'}${names} (from ${a.source}${a.receivedAt ? `, ${relative(a.receivedAt, nowMs)}` : ''})`;
    rows.push(['Authorization', `${what}${a.dryRun.length ? `; dry run: ${a.dryRun.join(', ')}` : ''}${a.revokeEstablished ? '' : '; established connections are not revoked'}`
      + `${a.lastRefusal ? `; last update refused: ${a.lastRefusal.code} (${ago(a.lastRefusal.at, nowMs)})` : ''}`]);
  }
  if (m?.outboundPolicy) rows.push(['Outbound policy', m.outboundPolicy]);
  if (m?.inboundMode) rows.push(['Inbound mode', `${m.inboundMode.mode} (from ${m.inboundMode.source})`]);
  if (m?.passthrough) rows.push(['Passthrough', `${m.passthrough.total} plain connection(s) left the mesh`]);
  if (m?.inboundPlaintext) rows.push(['Plaintext in', `${m.inboundPlaintext.total} connection(s) accepted without TLS`]);
  if (s.outageBudgetSeconds !== null) rows.push(['Outage budget', `${humanDuration(s.outageBudgetSeconds * 1000)} until the certificate expires`]);
  const b = s.trustBundle;
  rows.push(['Trust bundle', b ? `${b.trustDomain}, sequence ${b.sequence} (from ${b.source}), ${b.roots.length} root(s)` : 'none']);
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}${v}`);
  for (const r of b?.roots ?? []) lines.push(`${''.padEnd(width)}- sha256:${r.sha256.slice(0, 16)}… ${r.subject}, expires ${relative(r.notAfter, nowMs)}`);
  const refused = b?.lastRefusal;
  if (refused) lines.push(`${'Bundle refused'.padEnd(width)}${refused.code}${refused.from ? ` from ${refused.from}` : ''} (${relative(refused.at, nowMs)}): ${refused.message}`);
  if (s.listeners.length) {
    lines.push('Listeners');
    for (const l of s.listeners) lines.push(`${''.padEnd(width)}${listenerLine(l, nowMs)}`);
  } else {
    lines.push(`${'Listeners'.padEnd(width)}none`);
  }
  if (m?.passthrough?.top.length) {
    lines.push('Passthrough to');
    for (const t of m.passthrough.top) lines.push(`${''.padEnd(width)}${t.destination} connections=${t.connections}, last ${ago(t.last, nowMs)}`);
  }
  if (s.tunnelPools?.length) {
    lines.push('Tunnel pools');
    for (const p of s.tunnelPools) {
      lines.push(`${''.padEnd(width)}${p.upstream}${p.expect ? ` (${p.expect})` : ''} ${p.mode} connections=${p.connections} streams=${p.streamsActive} total=${p.streamsTotal}${p.streamsHandedOff ? ` handed-off=${p.streamsHandedOff}` : ''}`);
    }
  }
  const w = s.workloadApi;
  if (w?.socket) {
    const refused = Object.entries(w.refusals ?? {}).map(([code, n]) => `${code}=${n}`).join(' ');
    lines.push(`${'Workload API'.padEnd(width)}unix://${w.socket} uids=${(w.allowUids ?? []).join(',') || '-'} connections=${w.connections} calls=${w.callsTotal}${refused ? ` refused: ${refused}` : ''}`);
  }
  if (w?.files) lines.push(`${'Cert files'.padEnd(width)}${w.files.dir} writes=${w.files.writes}${w.files.lastError ? ` last error: ${w.files.lastError.code} ${w.files.lastError.message}` : ''}`);
  return `${lines.join('\n')}\n`;
}

/** True when `v` has the shape of a sidecar /status document (enough of it to render and decide). */
function looksLikeStatus(v: unknown): v is SidecarStatus {
  const s = v as Partial<SidecarStatus> | null;
  return !!s && typeof s === 'object' && typeof s.identity?.state === 'string' && typeof s.ca === 'object' && Array.isArray(s.listeners);
}

/** Fetches /status; throws ZtmeshError (`admin_unreachable`, `not_a_sidecar_admin`, `admin_error`) with a readable message when the admin cannot be read. */
export async function fetchStatus(base: string): Promise<SidecarStatus> {
  let res: Response;
  try {
    res = await fetch(`${base}/status`, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (e) {
    const c = (e as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause;
    const cause = c?.code ?? c?.errors?.[0]?.code ?? c?.message ?? (e as Error).message;
    throw new ZtmeshError('admin_unreachable', `cannot reach the sidecar admin at ${base}: ${cause}`);
  }
  const type = res.headers.get('content-type') ?? 'no content type';
  const notOurs = (why: string) => new ZtmeshError('not_a_sidecar_admin',
    `${base} answered, but not as a ztmesh sidecar admin (${why}); is --admin the sidecar's admin address (default 127.0.0.1:15000)?`);
  if (!res.ok) {
    await res.body?.cancel();
    throw res.status === 404 ? notOurs(`HTTP 404 for /status, ${type}`) : new ZtmeshError('admin_error', `the sidecar admin at ${base} answered HTTP ${res.status}`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw notOurs(`HTTP ${res.status}, ${type}, not JSON`);
  }
  if (!looksLikeStatus(body)) throw notOurs(`HTTP ${res.status}, JSON without a sidecar status`);
  return body;
}

/** States in which the certificate is served: /readyz counts them ready while the certificate is valid. */
const SERVED_STATES: ReadonlySet<string> = new Set(['available', 'renewing', 'unavailable']);

/**
 * 0 exactly when the sidecar's /readyz answers 200: its own `readiness` when /status carries it; for older sidecars,
 * the identity rule /readyz used (a certificate valid now, in `available`, `renewing` or `unavailable`).
 */
export function exitCodeFor(s: SidecarStatus, nowMs = Date.now()): number {
  if (s.readiness) return s.readiness.ready ? EXIT_AVAILABLE : EXIT_NOT_AVAILABLE;
  const { state, notAfter } = s.identity;
  return SERVED_STATES.has(state) && notAfter !== null && Date.parse(notAfter) > nowMs ? EXIT_AVAILABLE : EXIT_NOT_AVAILABLE;
}

/** One read: the status and its exit code, or the reason it could not be read. */
type Reading = { status: SidecarStatus; code: number } | { error: Error; code: number };

async function read(base: string): Promise<Reading> {
  try {
    const status = await fetchStatus(base);
    return { status, code: exitCodeFor(status) };
  } catch (e) {
    return { error: e as Error, code: EXIT_UNREACHABLE };
  }
}

function show(r: Reading, base: string, asJson: boolean): void {
  if ('error' in r) process.stderr.write(`ztmesh status: ${r.error.message}\n`);
  else process.stdout.write(asJson ? `${JSON.stringify(r.status, null, 2)}\n` : formatStatus(r.status, Date.now(), base));
}

/** Reads until the identity is usable or `waitMs` has passed; returns the last reading. A non-ztmesh answer ends it at once. */
async function waitUntilAvailable(base: string, waitMs: number): Promise<Reading> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const r = await read(base);
    const notOurs = 'error' in r && (r.error as ZtmeshError).code === 'not_a_sidecar_admin';
    if (r.code === EXIT_AVAILABLE || notOurs || Date.now() >= deadline) return r;
    await new Promise((resolve) => setTimeout(resolve, Math.min(WAIT_POLL_MS, Math.max(0, deadline - Date.now()))));
  }
}

/** Registers the `status` command. */
export function register(program: Command): void {
  program
    .command('status')
    .description('show a sidecar\'s identity and rotation state; exit code 0 exactly when its /readyz answers 200 (a valid, trusted certificate; a failing renewal is a warning), 1 otherwise, 2 when the admin cannot be read')
    .option('--admin <address>', 'the sidecar admin: a port (15000), host:port or a URL (env ZTMESH_ADMIN_URL)', process.env.ZTMESH_ADMIN_URL ?? DEFAULT_ADMIN_URL)
    .option('--json', 'print the raw /status JSON (default: a view for people)')
    .option('--watch', `refresh every ${WATCH_INTERVAL_MS / 1000}s until interrupted (default: show once)`)
    .option('--wait <duration>', 'first wait up to this long (e.g. 30s) for the admin to answer and the identity to be available (default: no wait)')
    .action(async (opts: { admin: string; json?: boolean; watch?: boolean; wait?: string }) => {
      const base = adminUrl(opts.admin);
      const asJson = !!opts.json;
      let first: Reading | undefined;
      if (opts.wait !== undefined) {
        const waitMs = parseDuration(opts.wait);
        if (waitMs === undefined) throw new ConfigError('invalid_flag', `--wait "${opts.wait}": not a duration (e.g. 30s, 2m)`);
        first = await waitUntilAvailable(base, waitMs);
      }
      if (!opts.watch) {
        const r = first ?? (await read(base));
        show(r, base, asJson);
        process.exitCode = r.code;
        return;
      }
      let code = EXIT_UNREACHABLE;
      let wake: (() => void) | undefined;
      let stop = false;
      const onSignal = () => { stop = true; wake?.(); };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      while (!stop) {
        if (process.stdout.isTTY && !asJson) process.stdout.write('\x1b[H\x1b[2J');
        const r = first ?? (await read(base));
        first = undefined;
        show(r, base, asJson);
        code = r.code;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, WATCH_INTERVAL_MS);
          wake = () => { clearTimeout(t); resolve(); };
        });
      }
      process.exitCode = code;
    });
}
