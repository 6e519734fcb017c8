// What `ztmesh check` reports: one result per check (✔ ok, ‼ warn, ✘ fail) with a one-line detail or hint,
// rendered for people or as JSON for scripts. Pure.

export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One check's outcome. `hint` says what to do; every warn and fail has one. */
export interface CheckResult {
  /** Stable, for scripts: e.g. "ca-secret", "trust-bundle:shop". */
  id: string;
  group: string;
  status: CheckStatus;
  title: string;
  detail: string;
  hint?: string;
}

export interface CheckReport {
  context: string;
  server: string;
  namespace: string;
  pre: boolean;
  /** True when no check failed (warnings allowed): the exit code is 0 exactly then. */
  ok: boolean;
  summary: Record<CheckStatus, number>;
  checks: CheckResult[];
}

export const SYMBOL: Record<CheckStatus, string> = { ok: '✔', warn: '‼', fail: '✘' };

/** Builds the report around the results. */
export function checkReport(meta: { context: string; server: string; namespace: string; pre: boolean }, checks: CheckResult[]): CheckReport {
  const summary = { ok: 0, warn: 0, fail: 0 };
  for (const c of checks) summary[c.status]++;
  return { ...meta, ok: summary.fail === 0, summary, checks };
}

/** The report for people: grouped, one line per check and one hint line under each warning and failure. */
export function formatCheckReport(r: CheckReport): string {
  const out = [`ztmesh check${r.pre ? ' --pre' : ''}: context ${r.context} (${r.server}), namespace ${r.namespace}`];
  let group = '';
  for (const c of r.checks) {
    if (c.group !== group) {
      group = c.group;
      out.push('', group);
    }
    out.push(`  ${SYMBOL[c.status]} ${c.title}: ${c.detail}`);
    if (c.status !== 'ok' && c.hint) out.push(`      hint: ${c.hint}`);
  }
  const { ok, warn, fail } = r.summary;
  out.push('', `${r.ok ? SYMBOL.ok : SYMBOL.fail} ${fail} failed, ${warn} warning${warn === 1 ? '' : 's'}, ${ok} passed`);
  return `${out.join('\n')}\n`;
}
