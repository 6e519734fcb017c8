// The demo's state directory: the demo only ever deletes what it made there. A directory it made carries a marker
// file; a non-empty directory without the marker is refused, so `ztmesh demo --dir .` cannot wipe someone's work.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../common/errors.js';

/** The marker file the demo writes into its directory. */
export const DEMO_MARKER = '.ztmesh-demo';
/** Everything the demo writes into its directory (besides the marker); the next run removes these and nothing else. */
export const DEMO_ENTRIES: readonly string[] = ['ca', 'ca.log', 'api.log', 'web.log', 'api.token', 'web.token', 'api.yaml', 'web.yaml'];

/**
 * Makes `dir` ready for a demo run: creates it (with the marker) when missing, adopts it when empty, and clears the
 * demo's own entries when the marker says an earlier run made it. Refuses anything else with ConfigError.
 */
export function prepareDemoDir(dir: string): void {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
  } else {
    if (!statSync(dir).isDirectory()) throw new ConfigError('demo_dir_not_ours', `--dir ${dir}: not a directory`);
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes(DEMO_MARKER)) {
      throw new ConfigError('demo_dir_not_ours',
        `--dir ${dir} is not empty and was not made by ztmesh demo (no ${DEMO_MARKER} file); the demo deletes only what it made: give it a new or empty directory`);
    }
    for (const name of DEMO_ENTRIES) rmSync(join(dir, name), { recursive: true, force: true });
  }
  writeFileSync(join(dir, DEMO_MARKER), 'made by `ztmesh demo`; the next run clears only its own files here\n');
}
