// `ztmesh demo --dir .` in someone's directory: refused with one plain line and exit 1, nothing deleted, nothing
// started (the issue's `mkdir w && echo x > w/notes.txt && cd w && ztmesh demo --once --dir .`).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { BIN } from '../helpers/cli.js';
import { LineProcess } from '../helpers/line-process.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('demo in a directory it did not make', () => {
  it('refuses and deletes nothing', async () => {
    const w = tempDir('ztmesh-demo-w-');
    writeFileSync(join(w, 'notes.txt'), 'x\n');
    const p = new LineProcess(['sh', '-c', `cd "$0" && exec "${process.execPath}" "${BIN}" demo --once --dir .`, w]);
    onTestFinished(async () => { await p.stop(); });
    expect(await p.exited).toBe(1);
    expect(p.lines).toEqual([
      `ztmesh demo: --dir ${w} is not empty and was not made by ztmesh demo (no .ztmesh-demo file); the demo deletes only what it made: give it a new or empty directory (demo_dir_not_ours)`,
    ]);
    expect(readdirSync(w)).toEqual(['notes.txt']);
    expect(readFileSync(join(w, 'notes.txt'), 'utf8')).toBe('x\n');
  });
});
