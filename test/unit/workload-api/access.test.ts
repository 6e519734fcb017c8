// Who may call the Workload API: a pure decision over the caller's uid and gid, table-tested, including the default
// (only the sidecar's own uid) and "*".
import { describe, expect, it } from 'vitest';
import { accessPolicy, admit, describePolicy } from '../../../src/workload-api/access.js';

const OWN = 1337;

describe('Workload API access', () => {
  it.each([
    // allowUids, allowGids, uid, gid, admitted
    [undefined, undefined, OWN, 0, true],
    [undefined, undefined, 1000, 1000, false],
    [undefined, undefined, 0, 0, false], // root too: only the sidecar's own uid by default
    [['1000'], undefined, 1000, 5, true],
    [['1000'], undefined, OWN, OWN, false], // a list replaces the default, the sidecar's own uid included
    [['*'], undefined, 4242, 4242, true],
    [[], ['2000'], 3000, 2000, true],
    [[], ['2000'], 2000, 3000, false], // gids are gids, not uids
    [['1000'], ['2000'], 1001, 2001, false],
  ])('allowUids %j allowGids %j: uid %i gid %i admitted: %s', (uids, gids, uid, gid, allowed) => {
    const d = admit({ uid, gid }, accessPolicy(uids, gids, OWN));
    expect(d.allow).toBe(allowed);
    if (!d.allow) expect(d.reason).toBe('uid_not_allowed');
  });

  it('shows the policy as configured', () => {
    expect(describePolicy(accessPolicy(undefined, undefined, OWN))).toEqual({ allowUids: ['1337'], allowGids: [] });
    expect(describePolicy(accessPolicy(['*', '5'], ['7'], OWN))).toEqual({ allowUids: ['*'], allowGids: ['7'] });
  });
});
