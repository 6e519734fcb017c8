// buildStatus and the outage budget: pure over a snapshot, stats and CA contact.
import { describe, expect, it } from 'vitest';
import { makeTrustBundle, type IdentitySnapshot, type Svid } from '../../../src/identity/credentials.js';
import type { ManagerStats } from '../../../src/identity/manager.js';
import { buildStatus, outageBudgetSeconds, strandedAction } from '../../../src/sidecar/status-report.js';
import { TOKEN_PATH } from '../../../src/common/mesh.js';
import { makeCa } from '../../helpers/pki.js';

const NOW = Date.UTC(2026, 10, 27, 12, 0, 0);
const ca = makeCa('cluster.local', NOW - 1000);
const svid = { spiffeId: 'spiffe://cluster.local/ns/a/sa/b', serialHex: 'ab', notBeforeMs: NOW - 60_000, notAfterMs: NOW + 90_500, publicKeySha256: 'f'.repeat(64) } as Svid;
const stats: ManagerStats = {
  rotations: 2, consecutiveFailures: 3, failuresTotal: 4, failuresByCode: { unavailable: 4 }, lastError: { code: 'unavailable', message: 'down', atMs: NOW - 1000 },
  lastRotationMs: NOW - 5000, nextAttemptMs: NOW + 2000, bundleSource: 'ca', history: [],
  bundleRefusal: { code: 'bundle_unvouched_root', message: 'new root … comes without a valid cross-certificate', atMs: NOW - 2000, from: 'ca:15012' },
};
const snap: IdentitySnapshot = { state: 'unavailable', svid, bundle: makeTrustBundle('cluster.local', [ca.certDer], 4) };

describe('status report', () => {
  it.each([
    [false, snap, 90],
    [true, snap, null],
    [false, { state: 'initializing' } as IdentitySnapshot, null],
    [false, { ...snap, state: 'expired', svid: { ...svid, notAfterMs: NOW - 1 } } as IdentitySnapshot, 0],
  ])('outage budget with reachable=%s', (reachable, s, expected) => {
    expect(outageBudgetSeconds(s, { reachable, lastContactMs: null, address: 'x:1', refusal: null }, NOW)).toBe(expected);
  });

  it('fills the docs/design.md fields', () => {
    const s = buildStatus({
      snapshot: snap, stats, ca: { reachable: false, lastContactMs: NOW - 3000, address: 'x:1', refusal: null }, addresses: ['x:1', 'y:2'],
      bundleStream: { connected: false, lastUpdateMs: null, reconnects: 2, lastError: null }, listeners: [], tunnelPools: [],
      readiness: { ready: true, pending: [] }, tokenFile: '/etc/web.token', nowMs: NOW,
    });
    expect(s.readiness).toEqual({ ready: true, pending: [] });
    expect(s.identity.actionNeeded).toBeNull();
    expect(s.identity).toMatchObject({
      spiffeId: svid.spiffeId, state: 'unavailable', serial: 'ab', notAfter: new Date(NOW + 90_500).toISOString(), refreshAt: new Date(NOW + 2000).toISOString(),
      rotations: 2, consecutiveFailures: 3, lastRotation: new Date(NOW - 5000).toISOString(), lastError: { code: 'unavailable', message: 'down', at: new Date(NOW - 1000).toISOString() },
    });
    expect(s.trustBundle).toMatchObject({
      trustDomain: 'cluster.local', sequence: 4, source: 'ca',
      lastRefusal: { code: 'bundle_unvouched_root', from: 'ca:15012', at: new Date(NOW - 2000).toISOString() },
    });
    expect(s.trustBundle!.roots[0]!.subject).toContain('CN=ztmesh root CA cluster.local');
    expect(s.ca).toMatchObject({ address: 'x:1', addresses: ['x:1', 'y:2'], reachable: false, lastContact: new Date(NOW - 3000).toISOString() });
    expect(s.outageBudgetSeconds).toBe(90);
  });

  const refused = (code: string) => ({ reachable: true, lastContactMs: NOW, address: 'x:1', refusal: { code, message: `CA x:1: ${code}: …`, atMs: NOW } });
  const expired = { ...snap, state: 'expired', svid: { ...svid, notAfterMs: NOW - 1 } } as IdentitySnapshot;
  it.each([
    ['an expired certificate and a spent join token', expired, 'token_reused', '/etc/web.token', /^stranded: the certificate expired and the CA refuses the join token in \/etc\/web\.token \(token_reused\); .*: ztmesh ca token create --dir <the CA's --dir> --spiffe-id spiffe:\/\/cluster\.local\/ns\/a\/sa\/b --out \/etc\/web\.token$/],
    ['no certificate yet and an unknown token', { state: 'initializing' } as IdentitySnapshot, 'unknown_token', '/etc/web.token', /there is no certificate yet .*--spiffe-id <its SPIFFE ID> --out/],
    ['an untrusted certificate and an expired token', { ...snap, state: 'untrusted' } as IdentitySnapshot, 'token_expired', '/t', /no longer chains to the trust bundle/],
    ['a valid certificate', snap, 'token_reused', '/etc/web.token', null],
    ['another refusal', expired, 'identity_mismatch', '/etc/web.token', null],
    ['the projected token on Kubernetes, which the kubelet renews', expired, 'token_expired', TOKEN_PATH, null],
  ] as const)('stranded with %s: %s', (_what, s, code, tokenFile, expected) => {
    const line = strandedAction({ snapshot: s, ca: refused(code), tokenFile, nowMs: NOW });
    if (expected === null) expect(line).toBeNull();
    else expect(line).toMatch(expected);
  });
});
