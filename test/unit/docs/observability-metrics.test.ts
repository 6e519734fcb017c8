// docs/observability.md's metrics reference is the code's: every metric it lists is registered under src/ with the
// labels and type it shows, and every ztmesh_* metric src/ registers is listed (read from source, nothing started).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { metricRegistrations, type MetricRegistration } from '../../helpers/metric-registrations.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DOC = readFileSync(join(ROOT, 'docs/observability.md'), 'utf8');

interface Listed { name: string; labels: string[]; type: string }

/** The "## Metrics reference" section, up to the next "## " heading. */
function referenceSection(doc: string): string {
  const start = doc.indexOf('\n## Metrics reference\n');
  expect(start, 'docs/observability.md has a "Metrics reference" section').toBeGreaterThan(-1);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end === -1 ? undefined : end);
}

const TYPES = 'counter|gauge|histogram|summary';
/**
 * What a reference lists: table rows that open with `` `ztmesh_name{labels}` `` and give the type in the next cell,
 * and prose that gives `` `ztmesh_name{labels}` (type…``.
 */
function listedMetrics(section: string): Listed[] {
  const entry = (name: string, labels: string | undefined, type: string): Listed => ({ name, labels: labels ? labels.split(',').map((l) => l.trim()) : [], type });
  return [
    ...[...section.matchAll(new RegExp(`^\\| \`(ztmesh_[a-z0-9_]+)(?:\\{([a-z_, ]*)\\})?\` \\| (${TYPES}) \\|`, 'gm'))].map((m) => entry(m[1]!, m[2], m[3]!)),
    ...[...section.matchAll(new RegExp(`\`(ztmesh_[a-z0-9_]+)(?:\\{([a-z_, ]*)\\})?\` \\((${TYPES})\\b`, 'g'))].map((m) => entry(m[1]!, m[2], m[3]!)),
  ];
}

/** Every ztmesh_* name the section mentions anywhere, listed or not. */
const mentioned = (section: string) => [...section.matchAll(/`(ztmesh_[a-z0-9_]+)/g)].map((m) => m[1]!);

/** The differences between a reference and the registrations, as readable lines; empty when they agree. */
function drift(section: string, registered: MetricRegistration[]): string[] {
  const byName = new Map(registered.map((r) => [r.name, r]));
  const listed = listedMetrics(section);
  const problems: string[] = [];
  for (const l of listed) {
    const r = byName.get(l.name);
    if (!r) { problems.push(`${l.name}: listed, not registered under src/`); continue; }
    if (l.type !== r.type) problems.push(`${l.name}: listed as ${l.type}, registered as ${r.type} (${r.where})`);
    if ([...l.labels].sort().join(',') !== [...r.labelNames].sort().join(',')) problems.push(`${l.name}: listed with {${l.labels.join(',')}}, registered with {${r.labelNames.join(',')}} (${r.where})`);
  }
  const listedNames = new Set(listed.map((l) => l.name));
  for (const r of registered) if (r.name.startsWith('ztmesh_') && !listedNames.has(r.name)) problems.push(`${r.name}: registered (${r.where}), not in the reference`);
  for (const name of mentioned(section)) if (!byName.has(name)) problems.push(`${name}: mentioned, not registered under src/`);
  const seen = new Set<string>();
  for (const l of listed) if (seen.has(l.name) || !seen.add(l.name)) problems.push(`${l.name}: listed twice`);
  return problems;
}

const registered = metricRegistrations(ROOT);

describe('docs/observability.md metrics reference', () => {
  it('reads the registrations from source: names, types and labels', () => {
    const byName = new Map(registered.map((r) => [r.name, r]));
    expect(byName.get('ztmesh_ca_sign_duration_seconds')).toMatchObject({ type: 'histogram', labelNames: ['result'] });
    expect(byName.get('ztmesh_connections_total')).toMatchObject({ type: 'counter', labelNames: ['direction', 'result'] });
    expect(byName.get('ztmesh_build_info')).toMatchObject({ type: 'gauge', labelNames: ['version'] });
    expect(registered.length).toBeGreaterThan(30);
    // One name, one metric: a name registered twice must agree with itself.
    for (const r of registered) {
      const first = byName.get(r.name)!;
      expect({ type: r.type, labels: r.labelNames }, r.where).toEqual({ type: first.type, labels: first.labelNames });
    }
  });

  it('lists exactly the ztmesh_* metrics src/ registers, with their type and labels', () => {
    const section = referenceSection(DOC);
    expect(listedMetrics(section).length).toBeGreaterThan(30);
    expect(drift(section, registered)).toEqual([]);
  });

  it('would name a listed metric that does not exist, a wrong label or type, and a registered metric left out', () => {
    const section = referenceSection(DOC)
      .replace('`ztmesh_ca_mesh_streams` | gauge', '`ztmesh_ca_mesh_stream_count` | gauge')
      .replace('`ztmesh_connections_active{direction}` | gauge', '`ztmesh_connections_active{direction,peer}` | counter');
    const problems = drift(section, registered);
    expect(problems).toHaveLength(5);
    expect(problems).toEqual(expect.arrayContaining([
      'ztmesh_ca_mesh_stream_count: listed, not registered under src/',
      'ztmesh_ca_mesh_stream_count: mentioned, not registered under src/',
      expect.stringMatching(/^ztmesh_connections_active: listed as counter, registered as gauge \(src\/sidecar\/datapath-metrics\.ts:\d+\)$/),
      expect.stringMatching(/^ztmesh_connections_active: listed with \{direction,peer\}, registered with \{direction\} /),
      expect.stringMatching(/^ztmesh_ca_mesh_streams: registered \(src\/ca\/metrics\.ts:\d+\), not in the reference$/),
    ]));
  });
});
