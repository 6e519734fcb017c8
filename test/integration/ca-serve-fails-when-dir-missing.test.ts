// `ztmesh ca serve` exits non-zero with a message naming the directory when --dir does not exist.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('ca serve fails when the directory is missing', () => {
  it('exits 1 naming the directory', async () => {
    const dir = join(tempDir('ztmesh-ca-'), 'nope');
    const r = await runCli(['ca', 'serve', '--dir', dir, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`CA directory ${dir} does not exist`);
  });
});
