// `ztmesh ca status`: the fleet view of one CA replica (GET /identities on its admin), or with --k8s of every replica
// (through the API server), as a table for people, overdue IDs first, then the soonest to expire; with one admin also
// which identity runs which authorization policy version (GET /policies); --json for scripts.
// Exit 0, 1 when an ID is overdue, 2 when an admin (a replica) cannot be read.
import type { Command } from 'commander';
import { ZtmeshError } from '../common/errors.js';
import { humanDuration } from '../common/duration.js';
import { CA_NAMESPACE } from '../common/mesh.js';
import { DEFAULT_ADMIN } from '../ca/config.js';
import { isReplicaReport, type IdentitiesReport } from '../ca/audit/issued-ids.js';
import { mergeReplicaViews, type FleetReport } from '../ca/audit/fleet-merge.js';
import type { PoliciesReport } from '../ca/policy/policy-kind.js';
import { adminUrl, FETCH_TIMEOUT_MS } from './status.js';

export const EXIT_ALL_ON_TIME = 0;
export const EXIT_OVERDUE = 1;
export const EXIT_UNREADABLE = 2;

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
  return fetchCaAdmin(base, '/identities', isReplicaReport);
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

/** Where one replica's view started from, in words. */
function history(r: IdentitiesReport): string {
  if (r.rebuiltFrom === undefined) return '';
  return r.rebuiltFrom
    ? `rebuilt at its start from its issuance log ${r.rebuiltFrom.auditLog} (${r.rebuiltFrom.records} issuances replayed)`
    : 'it keeps no issuance log (--audit-log), so its view started empty at its last start';
}

/**
 * Where the live mesh streams stand on the trust bundle: how many acknowledged the version served, how many another.
 * The root rotation's "every sidecar holds both roots" step is this line reading all of them.
 */
function bundleLine(r: IdentitiesReport): string | undefined {
  const t = r.trustBundle;
  if (!t) return undefined;
  const onIt = t.acked[t.version] ?? 0;
  const others = Object.entries(t.acked).filter(([v]) => v !== t.version).map(([v, n]) => `${n} still on ${v}`);
  const waiting = t.streams - Object.values(t.acked).reduce((a, b) => a + b, 0);
  const rest = [...others, ...(waiting > 0 ? [`${waiting} not acknowledged yet`] : [])];
  return `Trust bundle sequence ${t.version}: acknowledged by ${onIt} of ${t.streams} live mesh stream(s)${rest.length ? ` (${rest.join(', ')})` : ''}`;
}

/** The bundle versions the live streams of one ID acknowledged, for its row: `none` without a live stream. */
function bundleCell(r: IdentitiesReport, spiffeId: string): string {
  const acks = r.bundleAcks?.[spiffeId];
  return acks?.length ? [...new Set(acks)].join(',') : 'none';
}

/** The report (one replica's, or merged from every replica) as aligned text. Pure, so it is tested directly. */
export function formatIdentities(r: IdentitiesReport | FleetReport, base: string): string {
  const now = Date.parse(r.generatedAt);
  const merged = 'replicas' in r;
  const acks = r.bundleAcks !== undefined;
  const header = ['STATE', 'SPIFFE ID', 'METHOD', 'SERIAL', 'EXPIRES', 'RENEW BY', 'LAST HOUR', ...(acks ? ['BUNDLE'] : []), ...(merged ? ['REPLICA'] : []), 'PEER'];
  const rows = r.identities.map((i) => [
    i.state === 'ok' ? 'ok' : i.state.toUpperCase(), i.spiffeId, i.method, i.serial.length > 16 ? `${i.serial.slice(0, 16)}…` : i.serial,
    when(i.notAfter, now), when(i.renewBy, now), String(i.issuancesLastHour), ...(acks ? [bundleCell(r, i.spiffeId)] : []), ...(merged ? [i.replica ?? '-'] : []), i.peer,
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ');
  const overdue = r.identities.filter((i) => i.state === 'overdue').length;
  const summary = `${r.tracked} SPIFFE IDs issued in the last ${humanDuration(r.windowSeconds * 1000)}, ${overdue} overdue`;
  const intro = merged
    ? [
      `CA replicas through ${base}: ${summary}`,
      ...r.replicas.map((x) => (x.error ? `  ${x.replica}: NOT READ: ${x.error}` : `  ${x.replica}: ${x.tracked} IDs${x.rebuilt ? '' : ' (no issuance log: only what it issued since its start)'}`)),
      ...(r.skipped ?? []).map((x) => `  ${x.replica}: not asked (${x.why})`),
    ]
    : [
      `CA replica ${r.replica} (${base}): ${summary}`,
      `This is one replica's view, ${history(r)}. With several replicas each shows only what it issued itself: `
        + '`ztmesh ca status --k8s` gathers every replica through the API server.',
    ];
  const listed = new Set(r.identities.map((i) => i.spiffeId));
  const elsewhere = Object.keys(r.bundleAcks ?? {}).filter((id) => !listed.has(id)).length;
  const bundle = bundleLine(r);
  const out = [
    ...intro,
    ...(bundle ? [`${bundle}${merged ? '' : ' to this replica'}${elsewhere ? `; ${elsewhere} streaming ID(s) got their certificate from another replica` : ''}.`] : []),
    `At most ${r.limit} IDs are tracked${r.evicted ? `; ${r.evicted} were forgotten to stay within it` : ''}.`,
    '',
    ...(rows.length ? [line(header), ...rows.map(line)] : ['(no certificate issued yet)']),
  ];
  return `${out.join('\n')}\n`;
}

/** 2 when a replica could not be read, 1 when some ID is overdue (past its half-life without a renewal), else 0. */
export function exitCodeForReport(r: IdentitiesReport | FleetReport): number {
  if ('replicas' in r && (r.replicas.length === 0 || r.replicas.some((x) => x.error))) return EXIT_UNREADABLE;
  return r.identities.some((i) => i.state === 'overdue') ? EXIT_OVERDUE : EXIT_ALL_ON_TIME;
}

/** Every replica's view through the API server of the kubeconfig's cluster, merged. */
async function fleetThroughApiServer(opts: { kubeconfig?: string; context?: string; namespace: string }): Promise<{ report: FleetReport; base: string }> {
  // Loaded only here: the Kubernetes client would add a second to every `ztmesh ca …` command's start.
  const [{ kubeconfigClient }, { gatherCaReplicas }] = await Promise.all([import('../k8s/kubeconfig-client.js'), import('../k8s/ca-replicas.js')]);
  const target = kubeconfigClient({ ...(opts.kubeconfig ? { file: opts.kubeconfig } : {}), ...(opts.context ? { context: opts.context } : {}) });
  const { views, skipped } = await gatherCaReplicas(target.client, { namespace: opts.namespace });
  if (views.length === 0) {
    const why = skipped.length ? `none is Running (${skipped.map((s) => `${s.pod}: ${s.phase}`).join(', ')})` : 'no pod matches app.kubernetes.io/name=ztmesh-ca';
    throw Object.assign(new ZtmeshError('no_ca_replicas', `no CA replica to read in namespace ${opts.namespace} (context ${target.context}): ${why}`), { exitCode: EXIT_UNREADABLE });
  }
  const report: FleetReport = { ...mergeReplicaViews(views, Date.now()), skipped: skipped.map((s) => ({ replica: s.pod, why: `pod ${s.phase}` })) };
  return { report, base: `${target.server} (context ${target.context}), namespace ${opts.namespace}` };
}

/** Registers `ca status` below `ca`. */
export function registerCaStatus(ca: Command): void {
  ca.command('status')
    .description('the SPIFFE IDs a CA replica issued to (GET /identities), or with --k8s every replica\'s, overdue and soonest-expiring first, '
      + 'and (one admin) the authorization policy version each connected identity runs (GET /policies); '
      + 'exit code 0, 1 when an ID is overdue (past its half-life without a renewal), 2 when an admin cannot be read')
    .option('--admin <address>', 'the CA admin: a port (15010), host:port or a URL', `http://${DEFAULT_ADMIN}`)
    .option('--k8s', 'read every CA replica through the API server of your kubeconfig (pods/proxy) instead of one admin (default: off)')
    .option('--kubeconfig <file>', 'with --k8s: the kubeconfig to use (default: $KUBECONFIG or ~/.kube/config, as kubectl)')
    .option('--context <name>', 'with --k8s: the kubeconfig context to use (default: the current context)')
    .option('-n, --namespace <ns>', 'with --k8s: the CA\'s namespace', CA_NAMESPACE)
    .option('--json', 'print the raw JSON, with one admin\'s GET /policies as `policies` (default: tables for people)')
    .action(async (opts: { admin: string; k8s?: boolean; kubeconfig?: string; context?: string; namespace: string; json?: boolean }) => {
      const { report, base } = opts.k8s ? await fleetThroughApiServer(opts) : { report: await fetchIdentities(adminUrl(opts.admin)), base: adminUrl(opts.admin) };
      // One admin: which identity runs which policy version too (a CA older than policies has no GET /policies).
      const policies = opts.k8s ? undefined : await fetchPolicies(base).catch(() => undefined);
      process.stdout.write(opts.json ? `${JSON.stringify(policies ? { ...report, policies } : report, null, 2)}\n`
        : `${formatIdentities(report, base)}${policies ? `\n${formatPolicies(policies)}` : ''}`);
      process.exitCode = exitCodeForReport(report);
    });
}
