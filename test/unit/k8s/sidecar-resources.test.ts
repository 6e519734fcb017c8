// The sidecar's default memory request and limit follow from the benchmark run docs/kubernetes.md cites, by the rule it
// states (1.5 × the private memory, rounded up to a multiple of 64Mi), and the doc quotes that run's numbers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SIDECAR_RESOURCES } from '../../../src/k8s/inject.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const RUN = 'bench/results/2026-12-07T06-40-04Z';
const MIB = 1024 * 1024;
const HEADROOM = 1.5;
const STEP_MIB = 64;

interface Cell { workload: string; contender: string; anonRestA: number; anonRestB: number; anonPeakA: number; anonPeakB: number }
const cells = (JSON.parse(readFileSync(join(ROOT, `${RUN}.json`), 'utf8')) as { cells: Cell[] }).cells.filter((c) => c.contender === 'ztmesh');
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
/** As the bench report computes them: the larger of the two sidecars, median over cells (at rest) or rounds (peak). */
const atRestMiB = median(cells.filter((c) => c.workload !== 'idle').map((c) => Math.max(c.anonRestA, c.anonRestB))) / MIB;
const peakMiB = (workload: string) => median(cells.filter((c) => c.workload === workload).map((c) => Math.max(c.anonPeakA, c.anonPeakB))) / MIB;
const WORKLOADS = ['bulk', 'rr1', 'rr32', 'conn1', 'conn16', 'idle'];
const byRule = (mib: number) => `${Math.ceil((mib * HEADROOM) / STEP_MIB) * STEP_MIB}Mi`;

describe('sidecar resource defaults', () => {
  it('the run has every workload for ztmesh, and the idle one is its worst peak', () => {
    for (const w of WORKLOADS) expect(cells.some((c) => c.workload === w), w).toBe(true);
    const worst = WORKLOADS.reduce((a, b) => (peakMiB(a) >= peakMiB(b) ? a : b));
    expect(worst).toBe('idle');
  });

  it('the request is 1.5 × private memory at rest and the limit 1.5 × the worst peak, each rounded up to 64Mi', () => {
    expect(SIDECAR_RESOURCES.memory).toBe(byRule(atRestMiB));
    expect(SIDECAR_RESOURCES.memoryLimit).toBe(byRule(Math.max(...WORKLOADS.map(peakMiB))));
    // The rule refuses the old limit: 256Mi is below 1.5 × the idle peak.
    expect(byRule(peakMiB('idle'))).not.toBe('256Mi');
  });

  it('docs/kubernetes.md cites the run, its numbers and the defaults', () => {
    const doc = readFileSync(join(ROOT, 'docs/kubernetes.md'), 'utf8');
    const section = doc.slice(doc.indexOf('### Sidecar resources'), doc.indexOf('### Explicit mode'));
    expect(section).toContain(`\`${RUN}.md\``);
    expect(section).toContain(`| \`ztmesh.io/proxy-memory\` | \`${SIDECAR_RESOURCES.memory}\` |`);
    expect(section).toContain(`| \`ztmesh.io/proxy-memory-limit\` | \`${SIDECAR_RESOURCES.memoryLimit}\` |`);
    expect(section).toContain(`| at rest (ready, before any traffic) | ${atRestMiB.toFixed(1)} MiB |`);
    for (const w of WORKLOADS) expect(section, w).toMatch(new RegExp(`^\\| ${w}[ ,][^|]*\\| ${peakMiB(w).toFixed(1)} MiB \\|`, 'm'));
    expect(section).not.toMatch(/\b(133|245) MB\b/);
  });
});
