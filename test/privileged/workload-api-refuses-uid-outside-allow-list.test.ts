// Access to the Workload API is decided by the caller's uid from SO_PEERCRED, not by file modes (the socket is
// 0777): as root, with real second uids (setpriv). A sidecar with the default policy admits only its own uid; one with
// workloadApi.allowUids admits exactly those. A refused caller gets PERMISSION_DENIED and the log names its uid and pid.
import { spawnSync } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { interopTool, runTool } from '../helpers/interop.js';
import { isRoot, letUnprivilegedUsersReach, REPO_ROOT } from '../helpers/netns.js';
import { WEB_ID } from '../helpers/sidecar.js';
import { startWorkloadApiSidecar, unary, unaryError, type WorkloadApiSidecar } from '../helpers/workload-api.js';

/** Root (to run clients as other uids) and setpriv; no network namespace needed. Never a silent skip. */
const skipReason = !isRoot ? 'needs root to run clients as other uids; CI runs as root'
  : spawnSync('sh', ['-c', 'command -v setpriv']).status !== 0 ? 'missing setpriv (apt-get install util-linux)' : undefined;
if (skipReason) console.warn(`[privileged] skipping workload-api-refuses-uid-outside-allow-list: ${skipReason}`);
else letUnprivilegedUsersReach(REPO_ROOT);
const skip = skipReason !== undefined;
const NOBODY = 65534;
const OTHER = 65533;
let ca: TestCaServer;
let own: WorkloadApiSidecar;
let listed: WorkloadApiSidecar;
let goClient: string;

/** The go-spiffe client as `uid` (and the same gid, no supplementary groups), asking for a JWT-SVID. */
const fetchAs = (uid: number, wl: WorkloadApiSidecar) => runTool(['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', goClient, 'jwt', '-aud', 'db', '-timeout', '10s'], { SPIFFE_ENDPOINT_SOCKET: wl.endpoint });

describe.skipIf(skip)('Workload API access by uid', () => {
  beforeAll(async () => {
    [goClient, ca] = await Promise.all([interopTool('go'), startCa()]);
    [own, listed] = await Promise.all([startWorkloadApiSidecar({ ca }), startWorkloadApiSidecar({ ca, args: ['--workload-api-allow-uids', String(NOBODY)] })]);
    for (const wl of [own, listed]) {
      chmodSync(wl.dir, 0o755); // the directory lets every uid reach the socket, as a pod's emptyDir does
      await wl.sidecar.waitForStatus((s) => s.identity.state === 'available');
    }
  }, 15 * 60_000);
  afterAll(async () => {
    await Promise.all([own?.stop(), listed?.stop()]);
    await ca?.stop();
  });

  it('the socket is 0777: the kernel lets every uid connect, the peer credentials decide', () => {
    expect(statSync(own.socket).mode & 0o777).toBe(0o777);
  });

  it('by default only the sidecar\'s own uid (root here) is admitted; another uid gets PERMISSION_DENIED, logged with uid and pid', async () => {
    expect((await unary<{ svids: { spiffeId: string }[] }>(own.client(), 'FetchJWTSVID', { audience: ['db'] })).svids[0]!.spiffeId).toBe(WEB_ID);
    const r = await fetchAs(NOBODY, own);
    expect(r.code).not.toBe(0);
    expect(String(r.json[0]!.error)).toContain('code = PermissionDenied desc = caller_not_admitted: uid 65534 (gid 65534) is not allowed by workloadApi.allowUids/allowGids');
    const line = JSON.parse(await own.sidecar.proc.waitFor(/"code":"caller_not_admitted"/)) as Record<string, unknown>;
    expect(line).toMatchObject({ msg: 'workload API call refused', method: 'FetchJWTSVID', uid: NOBODY, pid: expect.any(Number) });
    expect(line.pid).not.toBe(process.pid);
    expect((await own.sidecar.status()).workloadApi).toMatchObject({ allowUids: ['0'], lastRefusal: { code: 'caller_not_admitted', uid: NOBODY } });
  });

  it('with allowUids, the listed uid is admitted and every other uid, the sidecar\'s own included, is refused', async () => {
    const ok = await fetchAs(NOBODY, listed);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.json[0]).toMatchObject({ spiffeId: WEB_ID, validatedId: WEB_ID });
    const other = await fetchAs(OTHER, listed);
    expect(String(other.json[0]!.error)).toContain('code = PermissionDenied');
    const root = await unaryError(listed.client(), 'FetchJWTSVID', { audience: ['db'] });
    expect(root.code).toBe(grpc.status.PERMISSION_DENIED);
    await listed.sidecar.proc.waitFor(/"code":"caller_not_admitted","method":"FetchJWTSVID","uid":0,/);
    const lines = listed.sidecar.proc.json().filter((l) => l.code === 'caller_not_admitted');
    expect(lines.map((l) => l.uid)).toEqual(expect.arrayContaining([OTHER, 0]));
  });
});
