// The human view of `ztmesh status` and its exit codes, from a fixed status document.
import { describe, expect, it } from 'vitest';
import type { SidecarStatus } from '../../../src/admin/status-types.js';
import { adminUrl, exitCodeFor, formatStatus } from '../../../src/cli/status.js';

const NOW = Date.UTC(2026, 10, 27, 12, 0, 0);
const iso = (d: number) => new Date(NOW + d).toISOString();
const status = (state: SidecarStatus['identity']['state'], reachable = true): SidecarStatus => ({
  identity: {
    spiffeId: 'spiffe://cluster.local/ns/a/sa/b', state, serial: '5f1c', notBefore: iso(-60_000), notAfter: iso(3_540_000), refreshAt: iso(1_740_000),
    rotations: 3, consecutiveFailures: reachable ? 0 : 2, lastRotation: iso(-10_000), publicKeySha256: 'a'.repeat(64), failuresTotal: 2, history: [],
    lastError: reachable ? null : { code: 'unavailable', message: 'CA x:1: down', at: iso(-2000) },
  },
  trustBundle: { trustDomain: 'cluster.local', sequence: 1, source: 'ca', roots: [{ sha256: 'b'.repeat(64), subject: 'O=ztmesh, CN=root', notAfter: iso(86_400_000) }], lastRefusal: null },
  ca: { address: 'x:1', addresses: ['x:1'], reachable, lastContact: iso(-1000), refusal: null, bundleStream: { connected: reachable, lastUpdate: null, lastError: null } },
  outageBudgetSeconds: reachable ? null : 3540,
  listeners: [{ name: 'api', kind: 'inbound', address: '0.0.0.0:15006', connectionsActive: 1, connectionsTotal: 12, denied: 1 }],
});

describe('ztmesh status view', () => {
  it('shows identity, serial, validity with time left, next refresh, last error, CA and roots', () => {
    const out = formatStatus(status('available'), NOW, 'http://127.0.0.1:15000');
    expect(out).toMatch(/^Identity\s+spiffe:\/\/cluster\.local\/ns\/a\/sa\/b$/m);
    expect(out).toMatch(/^Serial\s+5f1c$/m);
    expect(out).toMatch(/^Valid from\s+\S+ \(1m ago\)$/m);
    expect(out).toMatch(/^Valid until\s+\S+ \(in 59m\)$/m);
    expect(out).toMatch(/^Next refresh\s+\S+ \(in 29m\)$/m);
    expect(out).toMatch(/^Last error\s+none$/m);
    expect(out).toMatch(/^CA\s+x:1 reachable, last contact/m);
    expect(out).toMatch(/^Trust bundle\s+cluster\.local, sequence 1 \(from ca\), 1 root\(s\)$/m);
    expect(out).toContain(`sha256:${'b'.repeat(16)}… O=ztmesh, CN=root, expires`);
    expect(out).toMatch(/api inbound 0\.0\.0\.0:15006 active=1 total=12 denied=1/);
    expect(out).not.toContain('Outage budget');
  });

  it('shows the Workload API socket with its refusals, and the certificate files, only when configured', () => {
    expect(formatStatus(status('available'), NOW, 'a')).not.toContain('Workload API');
    const files = { dir: '/run/certs', files: { cert: 'c', key: 'k', bundle: 'b' }, writes: 2, lastWrite: iso(0), serial: '5f1c', lastError: null, onRotate: null };
    const out = formatStatus({
      ...status('available'),
      workloadApi: { socket: '/run/ztmesh/api.sock', allowUids: ['*'], allowGids: [], connections: 2, activeCalls: 1, callsTotal: 9, refusals: { missing_security_header: 1 }, files },
    }, NOW, 'a');
    expect(out).toMatch(/^Workload API\s+unix:\/\/\/run\/ztmesh\/api\.sock uids=\* connections=2 calls=9 refused: missing_security_header=1$/m);
    expect(out).toMatch(/^Cert files\s+\/run\/certs writes=2$/m);
  });

  it('says how the last certificate was obtained, with the CA\'s names', () => {
    const s = status('available');
    const history = [{ serial: '5f1c', publicKeySha256: 'a'.repeat(64), notBefore: iso(-60_000), notAfter: iso(3_540_000), at: iso(-10_000), trigger: 'refresh', method: 'renewal' }];
    expect(formatStatus({ ...s, identity: { ...s.identity, history } }, NOW, 'a')).toMatch(/^Rotations\s+3, last \S+ \(10s ago\) by renewal$/m);
  });

  it('shows membership, the outbound policy, the inbound mode and what left the mesh in plain TCP (transparent mode)', () => {
    const s: SidecarStatus = {
      ...status('available'),
      mesh: {
        kinds: {}, outboundPolicy: 'passthrough', inboundMode: { mode: 'permissive', source: 'ca' },
        membership: { state: 'known', source: 'ca', version: 'ab12-17', entries: 12, receivedAt: iso(-5000), lastRefusal: null },
        passthrough: { total: 3, top: [{ destination: '172.20.0.9:5432', connections: 3, last: iso(-2000) }] },
        inboundPlaintext: { total: 2 },
      },
    };
    const out = formatStatus(s, NOW, 'a');
    expect(out).toMatch(/^Membership\s+version ab12-17, 12 meshed destination\(s\) \(from ca, \S+ \(5s ago\)\)$/m);
    expect(out).toMatch(/^Outbound policy\s+passthrough$/m);
    expect(out).toMatch(/^Inbound mode\s+permissive \(from ca\)$/m);
    expect(out).toMatch(/^Passthrough\s+3 plain connection\(s\) left the mesh$/m);
    expect(out).toMatch(/^Plaintext in\s+2 connection\(s\) accepted without TLS$/m);
    expect(out).toMatch(/172\.20\.0\.9:5432 connections=3/);
    expect(formatStatus({ ...s, mesh: { ...s.mesh!, membership: { ...s.mesh!.membership!, state: 'awaiting' } } }, NOW, 'a')).toMatch(/^Membership\s+AWAITING/m);
  });

  it('shows the authorization policy: its version, when it came, the names in force, and the fail-closed wait before it', () => {
    const authz: NonNullable<SidecarStatus['authz']> = {
      state: 'known', source: 'ca', version: '0123456789abcdef', receivedAt: iso(-3000), defaultPolicy: 'deny',
      policies: ['shop/db-allows-api', 'shop/audit'], dryRun: ['shop/audit'], revokeEstablished: false, lastRefusal: null,
    };
    const out = formatStatus({ ...status('available'), authz }, NOW, 'a');
    expect(out).toMatch(/^Authorization\s+version 0123456789abcdef, mesh default deny, 2 policies: shop\/db-allows-api, shop\/audit \(from ca, \S+ \(3s ago\)\); dry run: shop\/audit; established connections are not revoked$/m);
    expect(formatStatus({ ...status('available'), authz: { ...authz, state: 'awaiting' } }, NOW, 'a')).toMatch(/^Authorization\s+AWAITING the first policy from the CA: every inbound connection is refused/m);
  });

  it('shows the outage budget and the last error while the CA is down', () => {
    const out = formatStatus(status('unavailable', false), NOW, 'a');
    expect(out).toMatch(/^Last error\s+unavailable: CA x:1: down/m);
    expect(out).toMatch(/^CA\s+x:1 UNREACHABLE/m);
    expect(out).toMatch(/^Outage budget\s+59m until the certificate expires$/m);
  });

  it.each([['available', 0], ['renewing', 0], ['unavailable', 0], ['initializing', 1], ['expired', 1], ['untrusted', 1]] as const)('state %s (certificate valid) exits %d', (state, code) => {
    expect(exitCodeFor(status(state), NOW)).toBe(code);
  });

  it('exits on what /readyz answers, and says why it is not ready', () => {
    const s = status('available');
    expect(exitCodeFor({ ...s, readiness: { ready: true, pending: [] } }, NOW)).toBe(0);
    const draining = { ...s, readiness: { ready: false, pending: ['draining'] } };
    expect(exitCodeFor(draining, NOW)).toBe(1);
    expect(formatStatus(draining, NOW, 'a')).toMatch(/^Ready\s+no: draining$/m);
    expect(formatStatus({ ...s, readiness: { ready: true, pending: [] } }, NOW, 'a')).toMatch(/^Ready\s+yes$/m);
  });

  it('shows a failing renewal of a valid certificate as a warning', () => {
    const out = formatStatus(status('unavailable', false), NOW, 'a');
    expect(out).toMatch(/^Ready\s+yes$/m);
    expect(out).toMatch(/^Warning\s+renewal failing \(unavailable, 2 in a row\); the certificate stays valid until \S+ \(in 59m\)$/m);
    expect(formatStatus(status('available'), NOW, 'a')).not.toContain('Warning');
  });

  it('a stranded sidecar says what to run, in one line', () => {
    const s = status('expired');
    const actionNeeded = 'stranded: the certificate expired and the CA refuses the join token in /etc/web.token (token_reused); mint a new one, which the sidecar picks up without a restart: ztmesh ca token create --dir <the CA\'s --dir> --spiffe-id spiffe://cluster.local/ns/a/sa/b --out /etc/web.token';
    const out = formatStatus({ ...s, identity: { ...s.identity, actionNeeded } }, NOW, 'a');
    expect(out.split('\n').filter((l) => l.includes('ztmesh ca token create'))).toEqual([`Action needed  ${actionNeeded}`]);
  });

  it('a CA whose certificate does not verify reads as reached and not trusted', () => {
    const s = status('initializing');
    const refusal = { code: 'ca_untrusted', message: 'CA x:1: self-signed certificate in certificate chain', at: iso(-3000) };
    const out = formatStatus({ ...s, ca: { ...s.ca, reachable: true, refusal } }, NOW, 'a');
    expect(out).toMatch(/^CA\s+x:1 reached, not trusted: CA x:1: self-signed certificate in certificate chain \(ca_untrusted, 3s ago\)$/m);
    expect(out).not.toContain('UNREACHABLE');
  });

  it('renewing exits 0 only while the certificate is still valid', () => {
    const s = status('renewing');
    expect(exitCodeFor(s, NOW)).toBe(0);
    expect(exitCodeFor(s, NOW + 3_600_000)).toBe(1);
    expect(exitCodeFor({ ...s, identity: { ...s.identity, notAfter: null } }, NOW)).toBe(1);
  });

  it('shows durations as a person reads them', () => {
    const s = status('available');
    const out = formatStatus({ ...s, trustBundle: { ...s.trustBundle!, roots: [{ ...s.trustBundle!.roots[0]!, notAfter: iso(3649 * 86_400_000 + 86_399_000) }] } }, NOW, 'a');
    expect(out).toMatch(/expires \S+ \(in 10y\)$/m);
    expect(out).not.toMatch(/\d+d\d+h\d+m\d+s/);
    expect(out).toMatch(/^Next refresh\s+\S+ \(in 29m\)$/m);
  });

  it('a CA that answered "no" reads as reached and refused, not as unreachable', () => {
    const s = status('initializing');
    const out = formatStatus({ ...s, ca: { ...s.ca, refusal: { code: 'identity_mismatch', message: 'CA x:1: identity_mismatch: CSR asks for …', at: iso(-3000) } } }, NOW, 'a');
    expect(out).toMatch(/^CA\s+x:1 reached, refused: identity_mismatch: CA x:1: identity_mismatch: CSR asks for … \(3s ago\)$/m);
    expect(out).not.toContain('UNREACHABLE');
  });

  it('shows the last refusal of a listener with the peer address', () => {
    const s = status('available');
    const listeners = [{ name: 'api', kind: 'outbound', address: '127.0.0.1:9001', connectionsActive: 0, connectionsTotal: 3, denied: 2,
      lastRefusal: { reason: 'server_refused', peer: '127.0.0.1:40100', upstream: '10.0.0.7:15006', peerId: 'spiffe://cluster.local/ns/a/sa/api', at: iso(-5000) } }];
    expect(formatStatus({ ...s, listeners }, NOW, 'a')).toContain('api outbound 127.0.0.1:9001 active=0 total=3 denied=2, last refused: server_refused (app 127.0.0.1:40100 → upstream 10.0.0.7:15006 spiffe://cluster.local/ns/a/sa/api, 5s ago)');
    // Transparent outbound refusing the app's own connection before any upstream: the app's address is not an upstream.
    const own = [{ name: 'transparent-outbound', kind: 'transparent-outbound', address: '0.0.0.0:15001', connectionsActive: 0, connectionsTotal: 1, denied: 1,
      lastRefusal: { reason: 'not_redirected', peer: '10.1.2.3:40200', at: iso(-1000) } }];
    const line = formatStatus({ ...s, listeners: own }, NOW, 'a');
    expect(line).toContain('last refused: not_redirected (app 10.1.2.3:40200, 1s ago)');
    expect(line).not.toContain('upstream');
  });

  it('accepts a port, host:port or a URL for --admin', () => {
    expect(adminUrl('15000')).toBe('http://127.0.0.1:15000');
    expect(adminUrl(':15100')).toBe('http://127.0.0.1:15100');
    expect(adminUrl('127.0.0.1:15000')).toBe('http://127.0.0.1:15000');
    expect(adminUrl('[::1]:15000')).toBe('http://[::1]:15000');
    expect(adminUrl('localhost:15000')).toBe('http://localhost:15000');
    expect(adminUrl('http://h:1/')).toBe('http://h:1');
    expect(() => adminUrl('99999')).toThrow(/--admin "99999"/);
    expect(() => adminUrl('no port here')).toThrow(/give a port/);
  });
});
