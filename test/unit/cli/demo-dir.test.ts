// The demo owns only what it made: a new or empty directory is adopted (marker written), a directory an earlier demo
// made has only the demo's own entries cleared, and any other non-empty directory is refused with nothing deleted.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_MARKER, prepareDemoDir } from '../../../src/cli/demo-dir.js';
import { tempDir } from '../../helpers/temp-dir.js';

const fresh = () => tempDir('ztmesh-demo-dir-');

describe('prepareDemoDir', () => {
  it('creates a missing directory and marks it', () => {
    const dir = join(fresh(), 'a', 'b');
    prepareDemoDir(dir);
    expect(readdirSync(dir)).toEqual([DEMO_MARKER]);
  });

  it('adopts an empty directory', () => {
    const dir = fresh();
    prepareDemoDir(dir);
    expect(readdirSync(dir)).toEqual([DEMO_MARKER]);
  });

  it('refuses a non-empty directory it did not make, deleting nothing', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'notes.txt'), 'x');
    expect(() => prepareDemoDir(dir)).toThrow(expect.objectContaining({ code: 'demo_dir_not_ours', message: expect.stringContaining('was not made by ztmesh demo') }));
    expect(readdirSync(dir)).toEqual(['notes.txt']);
  });

  it('clears only its own entries in a directory it made; a file someone added survives', () => {
    const dir = fresh();
    prepareDemoDir(dir);
    mkdirSync(join(dir, 'ca'));
    writeFileSync(join(dir, 'ca', 'ca.key'), 'k');
    writeFileSync(join(dir, 'web.log'), 'log');
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    prepareDemoDir(dir);
    expect(readdirSync(dir).sort()).toEqual([DEMO_MARKER, 'notes.txt']);
    expect(existsSync(join(dir, 'ca'))).toBe(false);
  });

  it('refuses a file given as the directory', () => {
    const file = join(fresh(), 'f');
    writeFileSync(file, 'x');
    expect(() => prepareDemoDir(file)).toThrow(/not a directory/);
  });
});
