// The open-file limit as /proc/self/limits states it.
import { describe, expect, it } from 'vitest';
import { parseNofileLimit, readNofileLimit } from '../../../src/common/fd-limit.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            600                  4096                 files
Max locked memory         8388608              8388608              bytes
`;

describe('open-file limit', () => {
  it('reads the soft limit; unlimited or missing gives undefined', () => {
    expect(parseNofileLimit(LIMITS)).toBe(600);
    expect(parseNofileLimit(LIMITS.replace('600                  4096', 'unlimited            unlimited'))).toBeUndefined();
    expect(parseNofileLimit('Max cpu time unlimited unlimited seconds')).toBeUndefined();
  });

  it('reads this process (Linux) and tolerates a missing /proc', async () => {
    expect(await readNofileLimit()).toBeGreaterThan(0);
    expect(await readNofileLimit('/nonexistent/limits')).toBeUndefined();
  });
});
