// The "Mesh stream at scale" section of docs/bench.md, from the newest bench/results/mesh-scale-*.json: written by
// bench/mesh-scale.mjs after a run, and kept by the data-path bench when it rewrites docs/bench.md.
import { latestResult, writeSection } from './doc-section.mjs';

export const MESH_SECTION_START = '<!-- mesh-scale -->';
export const MESH_SECTION_END = '<!-- /mesh-scale -->';

/** The newest mesh-scale result in `resultsDir`, with its file name, or undefined. */
export function latestMeshScale(resultsDir) {
  return latestResult(resultsDir, 'mesh-scale');
}

const mb = (b) => `${(b / 1e6).toFixed(2)} MB`;

/** The section's Markdown (between its markers). */
export function renderMeshScale({ file, result: r }) {
  return [
    MESH_SECTION_START,
    '### Mesh stream at scale (issue 20)',
    '',
    `Latest run: ${r.at} (\`bench/results/${file}\`), Node ${r.node}. A real \`ztmesh ca serve --k8s-mesh-watch\` lists and watches the stand-in `
      + `API server holding ${r.pods.toLocaleString('en-US')} meshed pods behind ${r.services.toLocaleString('en-US')} Services; ${r.sidecars} sidecar mesh streams `
      + `(the sidecar's own mesh client and membership code, ${r.processes} processes) hold the membership; ${r.churnEvents} churn events (a pod added, `
      + 'then deleted, one at a time) each wait until every sidecar applied them. Run it with `npm run bench:mesh` (`BENCH_SIDECARS`, `BENCH_CHURN`, …).',
    '',
    '| measure | result | target |',
    '| --- | --- | --- |',
    `| heap one sidecar takes for the membership (set and its stream client; the set alone: 3.1 MB in the integration test) | ${mb(r.heapPerSidecarBytes.median)} (max ${mb(r.heapPerSidecarBytes.max)}) | ≤ 5 MB |`,
    `| a change reaching every connected sidecar | p50 ${r.changeToAllSidecarsMs.p50} ms, p99 ${r.changeToAllSidecarsMs.p99} ms, max ${r.changeToAllSidecarsMs.max} ms | ≤ 2 s |`,
    `| the CA's CPU per churn event, ${r.sidecars} streams connected | ${r.caCpuMsPerEvent} ms | measured |`,
    `| the CA's RSS after the run (peak) | ${mb(r.caRssBytes)} (${mb(r.caPeakRssBytes)}) | |`,
    `| until all ${r.sidecars} sidecars held the first snapshot (start-up of ${r.processes} processes, signing, a 1 MB snapshot each, on this machine's cores) | ${(r.snapshotToAllMs / 1000).toFixed(1)} s | |`,
    '',
    'A churn event is a delta of one key to every stream (each stream holds at most one update in flight and coalesces '
      + 'what changed meanwhile); a snapshot for many streams at once is encoded once and sent as the same bytes.',
    MESH_SECTION_END,
  ].join('\n');
}

/** Replaces the section in docs/bench.md (or appends it). */
export function writeMeshSection(docsFile, latest) {
  writeSection(docsFile, MESH_SECTION_START, MESH_SECTION_END, renderMeshScale(latest));
}
