// The "Authorization policy" section of docs/bench.md, from the newest bench/results/authz-*.json: written by
// bench/authz.mjs after a run, and kept by the data-path bench when it rewrites docs/bench.md.
import { latestResult, writeSection } from './doc-section.mjs';

export const AUTHZ_SECTION_START = '<!-- authz -->';
export const AUTHZ_SECTION_END = '<!-- /authz -->';

/** The newest authz result with a propagation run in `resultsDir`, or undefined. */
export function latestAuthz(resultsDir) {
  const latest = latestResult(resultsDir, 'authz');
  return latest?.result.propagation ? latest : undefined;
}

/** The section's Markdown (between its markers). */
export function renderAuthz({ file, result: r }) {
  const d = r.decision;
  const p = r.propagation;
  return [
    AUTHZ_SECTION_START,
    '### Authorization policy (issue 21)',
    '',
    `Latest run: ${r.at} (\`bench/results/${file}\`), Node ${r.node}${r.loadAtStart === undefined ? '' : ` (load average ${r.loadAtStart} at the start on 2 shared cores)`}. The decision: ${d.policies.toLocaleString('en-US')} policies selecting one `
      + `workload with ${d.principalPatterns.toLocaleString('en-US')} principal patterns between them (exact IDs, prefixes, namespaces; ALLOW, DENY, dry-run), `
      + `compiled once (${d.compileMs} ms), then ${d.decisions.toLocaleString('en-US')} decisions for random peers and ports, each timed alone. Propagation: a real `
      + `\`ztmesh ca serve --policy-dir\` and ${p.sidecars} real \`ztmesh sidecar\` processes; a policy file selecting all of them edited ${p.changes} times, each `
      + 'timed from the write until every sidecar logged the new version applied. Run it with `npm run bench:authz` (`BENCH_SIDECARS`, `BENCH_CHANGES`).',
    '',
    '| measure | result | target |',
    '| --- | --- | --- |',
    `| one decision | p50 ${d.us.p50} µs, p99 ${d.us.p99} µs, p99.9 ${d.us.p999} µs (mean ${d.us.meanUntimed} µs untimed; the timer alone p99 ${d.timerUs.p99} µs) | p99 ≤ 5 µs |`,
    `| one decision for a peer never seen (its ID parsed, its keys built) | p50 ${d.coldPeerUs.p50} µs, p99 ${d.coldPeerUs.p99} µs | |`,
    `| a policy change reaching all ${p.sidecars} sidecars (applied) | p50 ${p.changeToAllSidecarsMs.p50} ms, max ${p.changeToAllSidecarsMs.max} ms | ≤ 2 s |`,
    `| … and every ack seen by the CA (GET /policies) | p50 ${p.ackedAtCaMs.p50} ms, max ${p.ackedAtCaMs.max} ms | |`,
    `| until all ${p.sidecars} sidecars held their first set (process start, signing, the stream) | ${(p.firstSetToAllMs / 1000).toFixed(1)} s | |`,
    '',
    'A change is seen by the CA\'s directory watch (fs.watch, a 50 ms debounce; a 1 s poll behind it), turned into each '
      + 'sidecar\'s own view (only the policies that select it), and sent as one snapshot per stream.',
    AUTHZ_SECTION_END,
  ].join('\n');
}

/** Replaces the section in docs/bench.md (or appends it). */
export function writeAuthzSection(docsFile, latest) {
  writeSection(docsFile, AUTHZ_SECTION_START, AUTHZ_SECTION_END, renderAuthz(latest));
}
