// deploy/monitoring: the alert rules pass `promtool check rules` and their own `promtool test rules`; every query of
// the rules, every series their unit tests feed and every Grafana dashboard query names only metrics src/ registers
// (read from source), and every dashboard query is valid PromQL (promtool checks it as a recording rule).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { findTool } from '../../helpers/deploy-manifests.js';
import { metricRegistrations } from '../../helpers/metric-registrations.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DIR = join(ROOT, 'deploy/monitoring');
const PROMTOOL = findTool('promtool');
if (!PROMTOOL) console.warn('monitoring.test: promtool not found (.ci/run installs Debian\'s prometheus); skipping the promtool checks, the metric-name checks still run');

/** Every metric that exists: registered by src/ (read from the source, nothing started). */
const knownMetrics = () => new Set(metricRegistrations(ROOT).map((r) => r.name));

/** The ztmesh metric names a PromQL expression reads (a histogram's _bucket, _sum and _count are its own name). */
const metricsIn = (expr: string) => [...expr.matchAll(/\b(ztmesh_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''));

const rules = parse(readFileSync(join(DIR, 'ztmesh-alerts.yaml'), 'utf8')) as Obj;
const dashboard = JSON.parse(readFileSync(join(DIR, 'ztmesh-dashboard.json'), 'utf8')) as Obj;
const dashboardExprs: { where: string; expr: string }[] = [
  ...(dashboard.panels as Obj[]).flatMap((p) => (p.targets ?? []).map((t: Obj) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr as string }))),
  ...(dashboard.templating.list as Obj[]).filter((v) => v.type === 'query').map((v) => ({ where: `variable ${v.name}`, expr: v.query.query as string })),
];
const tmp = mkdtempSync(join(tmpdir(), 'ztmesh-monitoring-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('deploy/monitoring', () => {
  const known = knownMetrics();

  it('knows the metrics the code registers, and nothing else', () => {
    for (const m of ['ztmesh_cert_expiry_timestamp_seconds', 'ztmesh_ca_sign_total', 'ztmesh_build_info', 'ztmesh_outbound_passthrough_total']) expect(known).toContain(m);
    expect(known).not.toContain('ztmesh_cert_expiry_seconds');
    expect(metricsIn('rate(ztmesh_ca_sign_duration_seconds_bucket[5m]) / ztmesh_ca_sign_total')).toEqual(['ztmesh_ca_sign_duration_seconds', 'ztmesh_ca_sign_total']);
  });

  it('the rules\' unit tests feed only series of metrics that exist', () => {
    const tests = parse(readFileSync(join(DIR, 'ztmesh-alerts.test.yaml'), 'utf8')) as Obj;
    const series = (tests.tests as Obj[]).flatMap((t) => ((t.input_series ?? []) as Obj[]).map((i) => i.series as string));
    expect(series.length).toBeGreaterThan(0);
    for (const s of series) {
      const used = metricsIn(s);
      expect(used, s).toHaveLength(1);
      expect(known, `ztmesh-alerts.test.yaml feeds ${s}`).toContain(used[0]);
    }
  });

  it('the alert rules cover certificate expiry, rotation failures, CA refusals and passthrough growth, and read only metrics that exist', () => {
    const all = (rules.groups as Obj[]).flatMap((g) => g.rules as Obj[]);
    expect(all.map((r) => r.alert)).toEqual(expect.arrayContaining([
      'ZtmeshCertificateExpiresSoon', 'ZtmeshCertificateRotationFailing', 'ZtmeshCaRefusingRequests', 'ZtmeshPassthroughGrowing',
    ]));
    for (const r of all) {
      const used = metricsIn(r.expr);
      expect(used.length, r.alert).toBeGreaterThan(0);
      for (const m of used) expect(known, `${r.alert} reads ${m}`).toContain(m);
      for (const m of metricsIn(JSON.stringify(r.annotations ?? {}))) expect(known, `${r.alert}'s annotations name ${m}`).toContain(m);
      expect(r.labels?.severity, r.alert).toMatch(/^(critical|warning|info)$/);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
    }
  });

  it('every dashboard query reads only metrics that exist; panels have unique ids and a data source', () => {
    expect(dashboardExprs.length).toBeGreaterThan(15);
    for (const { where, expr } of dashboardExprs) {
      const used = metricsIn(expr);
      expect(used.length, where).toBeGreaterThan(0);
      for (const m of used) expect(known, `${where} reads ${m}`).toContain(m);
    }
    const ids = (dashboard.panels as Obj[]).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels as Obj[]) if (p.type !== 'row') expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
  });

  it.skipIf(!PROMTOOL)('promtool check rules passes, and the rules\' unit tests fire what they should', () => {
    expect(execFileSync(PROMTOOL!, ['check', 'rules', join(DIR, 'ztmesh-alerts.yaml')], { encoding: 'utf8' })).toMatch(/SUCCESS: \d+ rules found/);
    expect(execFileSync(PROMTOOL!, ['test', 'rules', 'ztmesh-alerts.test.yaml'], { cwd: DIR, encoding: 'utf8' })).toMatch(/SUCCESS/);
  });

  it.skipIf(!PROMTOOL)('every dashboard query is valid PromQL (checked by promtool as a recording rule)', () => {
    const file = join(tmp, 'dashboard-queries.yaml');
    const queries = dashboardExprs.filter((q) => !q.expr.startsWith('label_values('));
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: q.expr.replaceAll('$namespace', '.*') })) }] }));
    expect(execFileSync(PROMTOOL!, ['check', 'rules', file], { encoding: 'utf8' })).toContain(`SUCCESS: ${queries.length} rules found`);
  });
});
