// The token file watch: one look per interval on the injected clock; a rewrite, a replacement by rename or a removal
// is a change, the first reading and an untouched file are not.
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenFileWatch } from '../../../src/identity/token-file-watch.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { until } from '../../helpers/until.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

describe('TokenFileWatch', () => {
  it('calls onChange once per change it sees, and stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ztmesh-token-watch-'));
    dirs.push(dir);
    const file = join(dir, 'token');
    writeFileSync(file, 'first\n');
    const clock = new FakeClock();
    let changes = 0;
    const watch = new TokenFileWatch({ file, clock, onChange: () => changes++, intervalMs: 1_000 });
    watch.start();
    await until(() => clock.pendingTimers().length === 1);
    await clock.advance(1_000);
    await until(() => clock.pendingTimers().length === 1);
    expect(changes).toBe(0);

    writeFileSync(join(dir, 'token.new'), 'a longer second token\n');
    renameSync(join(dir, 'token.new'), file);
    await clock.advance(1_000);
    await until(() => changes === 1);

    unlinkSync(file);
    await until(() => clock.pendingTimers().length === 1);
    await clock.advance(1_000);
    await until(() => changes === 2);

    await until(() => clock.pendingTimers().length === 1);
    watch.stop();
    expect(clock.pendingTimers()).toEqual([]);
    writeFileSync(file, 'third\n');
    await clock.advance(5_000);
    expect(changes).toBe(2);
  });
});
