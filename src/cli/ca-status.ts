// `ztmesh ca status`: the fleet view of one CA replica (GET /identities on its admin) as a table for people,
// overdue IDs first, then the soonest to expire, then which identity runs which authorization policy version (GET
// /policies); --json for scripts. Exit 0, 1 when an ID is overdue, 2 unreadable.
import type { Command } from 'commander';
import { ZtmeshError } from '../common/errors.js';
import { humanDuration } from '../common/duration.js';
import { DEFAULT_ADMIN } from '../ca/config.js';
import type { IdentitiesReport } from '../ca/audit/issued-ids.js';
import type { PoliciesReport } from '../ca/policy/policy-kind.js';
import { adminUrl, FETCH_TIMEOUT_MS } from './status.js';

export const EXIT_ALL_ON_TIME = 0;
export const EXIT_OVERDUE = 1;
export const EXIT_UNREADABLE = 2;

function looksLikeReport(v: unknown): v is IdentitiesReport {
  const r = v as Partial<IdentitiesReport> | null;
  return !!r && typeof r === 'object' && r.scope === 'replica' && Array.isArray(r.identities);
}

function looksLikePolicies(v: unknown): v is PoliciesReport {
  const r = v as Partial<PoliciesReport> | null;
  return !!r && typeof r === 'object' && Array.isArray(r.sidecars) && Array.isArray(r.policies) && typeof r.counts === 'object';
}

/**
 * GET `path` of a CA admin, checked to be what a ztmesh CA answers there; throws ZtmeshError (exit code 2) naming the
 * admin when it cannot be read (`admin_unreachable`) or is not a CA's (`not_a_ca_admin`).
 */
export async function fetchCaAdmin<T>(base: string, path: string, looksLike: (v: unknown) => v is T): Promise<T> {
  const fail = (code: string, message: string) => Object.assign(new ZtmeshError(code, message), { exitCode: EXIT_UNREADABLE });
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (e) {
    const c = (e as { cause?: { code?: string; message?: string } }).cause;
    throw fail('admin_unreachable', `cannot reach the CA admin at ${base}: ${c?.code ?? c?.message ?? (e as Error).message}`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!res.ok || !looksLike(body)) {
    throw fail('not_a_ca_admin', `${base} answered GET ${path} with HTTP ${res.status}, not as a ztmesh CA admin; is --admin the CA's admin address (default ${DEFAULT_ADMIN})?`);
  }
  return body;
}

/** Reads GET /identities; throws ZtmeshError (exit code 2) naming the admin when it cannot. */
export function fetchIdentities(base: string): Promise<IdentitiesReport> {
  return fetchCaAdmin(base, '/identities', looksLikeReport);
}

/** Reads GET /policies; throws as fetchIdentities does (a CA older than policies answers 404: not_a_ca_admin). */
export function fetchPolicies(base: string): Promise<PoliciesReport> {
  return fetchCaAdmin(base, '/policies', looksLikePolicies);
}

/** Which identity runs which policy version, as text. Pure. */
export function formatPolicies(p: PoliciesReport): string {
  const head = `Authorization policy: ${p.counts.valid} in force, ${p.counts.invalid} invalid (from ${p.source}${p.served ? '' : ', NOT SERVED: waiting for the first Kubernetes list'}), mesh default ${p.defaultPolicy}`;
  const header = ['SPIFFE ID', 'VERSION', 'ACKED', 'POLICIES'];
  const rows = p.sidecars.map((s) => [s.spiffeId, s.version || '-', s.upToDate ? 'yes' : s.acked ? `no (runs ${s.acked})` : 'no', s.policies.join(',') || '-']);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ');
  const invalid = p.invalid.map((i) => `  invalid: ${i.source}:${i.object}:${i.field}: ${i.message}${i.lastValidInForce ? ' (last valid version in force)' : ''}`);
  return `${[head, ...invalid, ...(rows.length ? [line(header), ...rows.map(line)] : ['(no sidecar streams)'])].join('\n')}\n`;
}

const when = (iso: string, nowMs: number) => {
  const d = Date.parse(iso) - nowMs;
  return d >= 0 ? `in ${humanDuration(d)}` : `${humanDuration(-d)} ago`;
};

/** The report as aligned text. Pure, so it is tested directly. */
export function formatIdentities(r: IdentitiesReport, base: string): string {
  const now = Date.parse(r.generatedAt);
  const header = ['STATE', 'SPIFFE ID', 'METHOD', 'SERIAL', 'EXPIRES', 'RENEW BY', 'LAST HOUR', 'PEER'];
  const rows = r.identities.map((i) => [
    i.state === 'ok' ? 'ok' : i.state.toUpperCase(), i.spiffeId, i.method, i.serial.length > 16 ? `${i.serial.slice(0, 16)}…` : i.serial,
    when(i.notAfter, now), when(i.renewBy, now), String(i.issuancesLastHour), i.peer,
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ');
  const overdue = r.identities.filter((i) => i.state === 'overdue').length;
  const out = [
    `CA replica ${r.replica} (${base}): ${r.tracked} SPIFFE IDs issued in the last ${humanDuration(r.windowSeconds * 1000)}, ${overdue} overdue`,
    'This is one replica\'s view: with several CA replicas each shows only what it issued itself, so ask every replica '
      + '(kubectl -n ztmesh-system port-forward pod/<name> 15010).',
    `At most ${r.limit} IDs are tracked${r.evicted ? `; ${r.evicted} were forgotten to stay within it` : ''}.`,
    '',
    ...(rows.length ? [line(header), ...rows.map(line)] : ['(no certificate issued yet)']),
  ];
  return `${out.join('\n')}\n`;
}

/** 1 when some ID is overdue (past its half-life without a renewal), else 0. */
export function exitCodeForReport(r: IdentitiesReport): number {
  return r.identities.some((i) => i.state === 'overdue') ? EXIT_OVERDUE : EXIT_ALL_ON_TIME;
}

/** Registers `ca status` below `ca`. */
export function registerCaStatus(ca: Command): void {
  ca.command('status')
    .description('the SPIFFE IDs this CA replica issued to (GET /identities), overdue and soonest-expiring first, and the '
      + 'authorization policy version each connected identity runs (GET /policies); '
      + 'exit code 0, 1 when an ID is overdue (past its half-life without a renewal), 2 when the admin cannot be read')
    .option('--admin <address>', 'the CA admin: a port (15010), host:port or a URL', `http://${DEFAULT_ADMIN}`)
    .option('--json', 'print the raw /identities JSON, with /policies as `policies` (default: tables for people)')
    .action(async (opts: { admin: string; json?: boolean }) => {
      const base = adminUrl(opts.admin);
      const report = await fetchIdentities(base);
      // A CA older than policies has no GET /policies: the identities alone, then.
      const policies = await fetchPolicies(base).catch(() => undefined);
      process.stdout.write(opts.json ? `${JSON.stringify(policies ? { ...report, policies } : report, null, 2)}\n`
        : `${formatIdentities(report, base)}${policies ? `\n${formatPolicies(policies)}` : ''}`);
      process.exitCode = exitCodeForReport(report);
    });
}
