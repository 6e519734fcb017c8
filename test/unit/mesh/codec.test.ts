// The mesh stream's codec: typed round trips, a refusal (never a throw) for every malformed message, and fast-check
// over arbitrary objects and arbitrary bytes through the real protobuf decoder.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadCaProto } from '../../../src/common/ca-proto.js';
import { policiesArb } from '../../helpers/policies.js';
import { checkAnnounced, decodeRequest, decodeUpdate, encodeUpdate, isRoutableAddress, type MeshUpdate } from '../../../src/mesh/codec.js';
import { trustBundleVersion } from '../../../src/mesh/kinds.js';

const { proto } = loadCaProto();
const Update = proto.ztmesh.mesh.v1.Mesh.service.Stream;
const roundTrip = (u: MeshUpdate) => decodeUpdate(Update.responseDeserialize(Update.responseSerialize(encodeUpdate(u))));
const TD = 'spiffe://cluster.local';
const JWT = { keyId: 'kid-1', publicKey: Buffer.from('spki'), notAfter: '1700000000', signature: Buffer.from('sig'), signerChain: [Buffer.from('ca')] };
const jwtBundle = (sequence: string, jwtAuthorities: unknown) => ({ roots: [Buffer.from('r')], sequence, jwtAuthorities });

describe('mesh codec', () => {
  it.each<MeshUpdate>([
    { kind: 'trust-bundle', version: '7', base: '', bundle: { trustDomain: 'cluster.local', roots: [Buffer.from('root')], sequence: '7', crossCertificates: [], jwtAuthorities: [] } },
    {
      kind: 'trust-bundle', version: trustBundleVersion('8', [JWT]), base: '',
      bundle: { trustDomain: 'cluster.local', roots: [Buffer.from('root')], sequence: '8', crossCertificates: [], jwtAuthorities: [JWT] },
    },
    { kind: 'membership', version: 'i-2', base: 'i-1', upsert: [{ key: 'pod/a/b', cidrs: ['10.0.0.1/32', 'fd00::1/128'], ports: [80], identities: [`${TD}/ns/a/sa/b`] }], remove: ['pod/a/c'] },
    { kind: 'membership', version: 'i-3', base: '', upsert: [], remove: [] },
    { kind: 'config', version: 'i-1', base: '', config: { inboundMode: 'permissive' } },
    { kind: 'config', version: 'i-2', base: '', config: {} },
    { kind: 'policy', version: 'ab12', base: '', policy: { defaultPolicy: 'deny', policies: [] } },
    { kind: 'policy', version: 'cd34', base: '', policy: { defaultPolicy: 'allow', policies: [
      { namespace: 'shop', name: 'db', action: 'ALLOW', dryRun: false, selector: { serviceAccounts: ['db'] }, rules: [{ from: [{ principals: [`${TD}/ns/shop/sa/api`] }, { namespaces: ['ops'] }], to: [{ ports: [5432] }] }, {}] },
      { namespace: 'ztmesh-system', name: 'no', action: 'DENY', dryRun: true, rules: [] },
    ] } },
  ])('round-trips a $kind update through the wire', (u) => {
    expect(roundTrip(u)).toEqual({ ok: true, value: u });
  });

  it.each([
    ['no version', { kind: 'config', version: '', config: {} }, 'malformed_update'],
    ['a kind nobody subscribed to', { kind: 'audit', version: '1' }, 'unknown_kind'],
    ['a policy delta', { kind: 'policy', version: '2', baseVersion: '1', policy: { defaultPolicy: 'allow' } }, 'malformed_update'],
    ['a policy body missing', { kind: 'policy', version: '1' }, 'malformed_policy'],
    ['an unknown mesh default', { kind: 'policy', version: '1', policy: { defaultPolicy: 'open', policies: [] } }, 'malformed_policy'],
    ['a policy with an unknown action', { kind: 'policy', version: '1', policy: { defaultPolicy: 'deny', policies: [{ namespace: 'a', name: 'b', action: 'AUDIT' }] } }, 'malformed_policy'],
    ['a policy source naming nobody', { kind: 'policy', version: '1', policy: { defaultPolicy: 'deny', policies: [{ namespace: 'a', name: 'b', action: 'ALLOW', rules: [{ from: [{}] }] }] } }, 'malformed_policy'],
    ['a policy twice', { kind: 'policy', version: '1', policy: { defaultPolicy: 'deny', policies: [{ namespace: 'a', name: 'b', action: 'DENY' }, { namespace: 'a', name: 'b', action: 'DENY' }] } }, 'malformed_policy'],
    ['a bundle delta', { kind: 'trust-bundle', version: '2', baseVersion: '1', trustBundle: { roots: [], sequence: '2' } }, 'malformed_update'],
    ['a bundle whose version is not its sequence', { kind: 'trust-bundle', version: '3', trustBundle: { roots: [], sequence: '2' } }, 'malformed_update'],
    ['a bundle with JWT keys versioned by its sequence alone', { kind: 'trust-bundle', version: '2', trustBundle: jwtBundle('2', [JWT]) }, 'malformed_update'],
    ['a bundle whose JWT hash is not its keys\'', { kind: 'trust-bundle', version: trustBundleVersion('2', [{ ...JWT, keyId: 'kid-2' }]), trustBundle: jwtBundle('2', [JWT]) }, 'malformed_update'],
    ['a JWT authority without a kid', { kind: 'trust-bundle', version: '2.x', trustBundle: jwtBundle('2', [{ ...JWT, keyId: '' }]) }, 'malformed_update'],
    ['a JWT authority whose not_after is no number', { kind: 'trust-bundle', version: '2.x', trustBundle: jwtBundle('2', [{ ...JWT, notAfter: 'soon' }]) }, 'malformed_update'],
    ['a JWT authority with a long signer chain', { kind: 'trust-bundle', version: '2.x', trustBundle: jwtBundle('2', [{ ...JWT, signerChain: Array(9).fill(Buffer.from('c')) }]) }, 'malformed_update'],
    ['too many JWT authorities', { kind: 'trust-bundle', version: '2.x', trustBundle: jwtBundle('2', Array(65).fill(JWT)) }, 'malformed_update'],
    ['a membership body missing', { kind: 'membership', version: '1' }, 'malformed_update'],
    ['a snapshot that removes', { kind: 'membership', version: '1', membership: { upsert: [], remove: ['x'] } }, 'malformed_update'],
    ['a destination without a CIDR', { kind: 'membership', version: '1', membership: { upsert: [{ key: 'k', cidrs: [] }] } }, 'malformed_destination'],
    ['a bad CIDR', { kind: 'membership', version: '1', membership: { upsert: [{ key: 'k', cidrs: ['10.0.0.1/33'] }] } }, 'malformed_destination'],
    ['a bare address for a CIDR', { kind: 'membership', version: '1', membership: { upsert: [{ key: 'k', cidrs: ['10.0.0.1'] }] } }, 'malformed_destination'],
    ['port 0', { kind: 'membership', version: '1', membership: { upsert: [{ key: 'k', cidrs: ['10.0.0.1/32'], ports: [0] }] } }, 'malformed_destination'],
    ['an identity that is no SPIFFE ID', { kind: 'membership', version: '1', membership: { upsert: [{ key: 'k', cidrs: ['10.0.0.1/32'], identities: ['http://x'] }] } }, 'malformed_destination'],
    ['an unknown inbound mode', { kind: 'config', version: '1', config: { inboundMode: 'open' } }, 'malformed_update'],
    ['a string for a list', { kind: 'membership', version: '1', membership: { upsert: 'x' } }, 'malformed_update'],
    ['not an object', 'hello', 'malformed_update'],
  ])('refuses %s', (_what, msg, code) => {
    const r = decodeUpdate(msg);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.refusal.code).toBe(code);
  });

  it('decodes requests and refuses what is none of them', () => {
    expect(decodeRequest({ request: 'subscribe', subscribe: { kinds: ['membership'], sidecarVersion: '0.1.0', addresses: ['10.0.0.1'] } }))
      .toEqual({ ok: true, value: { type: 'subscribe', kinds: ['membership'], sidecarVersion: '0.1.0', addresses: ['10.0.0.1'] } });
    expect(decodeRequest({ request: 'ack', ack: { kind: 'membership', version: 'i-1', applied: false, errorCode: 'base_mismatch', errorDetail: 'x' } }))
      .toMatchObject({ ok: true, value: { type: 'ack', applied: false, errorCode: 'base_mismatch' } });
    expect(decodeRequest({ request: 'subscribe', subscribe: { kinds: Array(17).fill('k') } })).toMatchObject({ ok: false, refusal: { code: 'malformed_request' } });
    expect(decodeRequest({})).toMatchObject({ ok: false, refusal: { code: 'malformed_request' } });
  });

  it.each([
    ['10.0.0.1', true], ['fd00::1', true], ['::ffff:10.0.0.1', true], ['2001:db8::1', true],
    ['127.0.0.1', false], ['::1', false], ['0.0.0.0', false], ['::', false], ['169.254.1.1', false], ['fe80::1', false],
    ['224.0.0.1', false], ['255.255.255.255', false], ['ff02::1', false], ['example.org', false], ['10.0.0.1/32', false],
  ])('isRoutableAddress(%s) = %s', (a, ok) => expect(isRoutableAddress(a)).toBe(ok));

  it('bounds and checks announced addresses', () => {
    expect(checkAnnounced(['10.0.0.1', '::ffff:10.0.0.1', 'FD00::1'])).toEqual({ ok: true, value: ['10.0.0.1', 'fd00::1'] });
    expect(checkAnnounced(Array.from({ length: 17 }, (_, i) => `10.0.0.${i + 1}`))).toMatchObject({ ok: false, refusal: { code: 'announce_too_many_addresses' } });
    expect(checkAnnounced(['127.0.0.1'])).toMatchObject({ ok: false, refusal: { code: 'announce_bad_address' } });
  });
});

describe('mesh codec never throws', () => {
  const anyValue = fc.anything({ withBigInt: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true });
  const shaped = fc.record({
    kind: fc.oneof(fc.constantFrom('trust-bundle', 'membership', 'config', 'policy', ''), anyValue),
    version: fc.oneof(fc.string(), anyValue),
    baseVersion: fc.oneof(fc.string(), anyValue),
    trustBundle: fc.oneof(fc.record({
      roots: fc.array(fc.uint8Array()), sequence: fc.oneof(fc.string(), fc.nat()), trustDomain: anyValue,
      jwtAuthorities: fc.oneof(fc.array(fc.record({ keyId: anyValue, publicKey: fc.oneof(fc.uint8Array(), anyValue), notAfter: fc.oneof(fc.string(), fc.nat(), anyValue), signature: anyValue, signerChain: fc.oneof(fc.array(fc.uint8Array()), anyValue) }, { requiredKeys: [] })), anyValue),
    }, { requiredKeys: [] }), anyValue),
    membership: fc.oneof(fc.record({ upsert: fc.array(fc.record({ key: anyValue, cidrs: fc.array(fc.oneof(fc.string(), anyValue)), ports: fc.array(fc.oneof(fc.integer(), anyValue)), identities: anyValue })), remove: anyValue }), anyValue),
    config: fc.oneof(fc.record({ inboundMode: anyValue }), anyValue),
    policy: fc.oneof(fc.record({ defaultPolicy: fc.oneof(fc.constantFrom('allow', 'deny'), anyValue), policies: fc.array(fc.oneof(
      fc.record({ namespace: fc.oneof(fc.constant('shop'), anyValue), name: fc.oneof(fc.constant('p'), anyValue), action: fc.oneof(fc.constantFrom('ALLOW', 'DENY'), anyValue), selector: anyValue, rules: fc.oneof(fc.array(fc.record({ from: anyValue, to: anyValue })), anyValue) }, { requiredKeys: [] }),
      anyValue,
    ), { maxLength: 3 }) }, { requiredKeys: [] }), anyValue),
  }, { requiredKeys: [] });

  it('round-trips every valid policy set through the wire', () => {
    fc.assert(fc.property(policiesArb, fc.constantFrom('allow' as const, 'deny' as const), (policies, defaultPolicy) => {
      const u: MeshUpdate = { kind: 'policy', version: 'v', base: '', policy: { defaultPolicy, policies } };
      expect(roundTrip(u)).toEqual({ ok: true, value: u });
    }), { numRuns: 300 });
  });

  it('over arbitrary objects shaped like updates and requests', () => {
    fc.assert(fc.property(fc.oneof(shaped, anyValue), (msg) => {
      const u = decodeUpdate(msg);
      expect(typeof u.ok).toBe('boolean');
      const r = decodeRequest(msg);
      expect(typeof r.ok).toBe('boolean');
    }), { numRuns: 2000 });
  });

  it('over arbitrary bytes through the protobuf decoder (what the decoder takes, the codec judges)', () => {
    const Req = proto.ztmesh.mesh.v1.Mesh.service.Stream;
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      for (const [deserialize, decode] of [[Req.responseDeserialize, decodeUpdate], [Req.requestDeserialize, decodeRequest]] as const) {
        let msg: unknown;
        try {
          msg = deserialize(Buffer.from(bytes));
        } catch {
          continue; // the transport's decoder refuses it (tolerantDecoders on the CA, a failed call on the sidecar)
        }
        expect(typeof decode(msg).ok).toBe('boolean');
      }
    }), { numRuns: 2000 });
  });

  it('over valid updates with one field corrupted on the wire', () => {
    const valid = encodeUpdate({ kind: 'membership', version: 'i-2', base: 'i-1', upsert: [{ key: 'pod/a/b', cidrs: ['10.0.0.1/32'], ports: [80], identities: [`${TD}/ns/a/sa/b`] }], remove: ['x'] });
    const bytes = Update.responseSerialize(valid);
    fc.assert(fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 }), (i, b) => {
      const copy = Buffer.from(bytes);
      copy[i] = b;
      let msg: unknown;
      try {
        msg = Update.responseDeserialize(copy);
      } catch {
        return;
      }
      expect(typeof decodeUpdate(msg).ok).toBe('boolean');
    }), { numRuns: 2000 });
  });
});

describe('trust-bundle versions', () => {
  const k = (keyId: string, notAfter = '1700000000') => ({ keyId, notAfter });
  it.each([
    ['the sequence alone without JWT keys', '7', [], /^7$/],
    ['the sequence, then 12 hex of the JWT keys', '7', [k('a')], /^7\.[0-9a-f]{12}$/],
  ])('is %s', (_what, seq, keys, re) => expect(trustBundleVersion(seq, keys)).toMatch(re));

  it('changes with the keys or their notAfter, never with their order', () => {
    const v = trustBundleVersion('7', [k('a'), k('b')]);
    expect(trustBundleVersion('7', [k('b'), k('a')])).toBe(v);
    expect(trustBundleVersion('7', [k('a'), k('c')])).not.toBe(v);
    expect(trustBundleVersion('7', [k('a'), k('b', '1700000001')])).not.toBe(v);
    expect(trustBundleVersion('8', [k('a'), k('b')])).toBe(`8.${v.split('.')[1]}`);
  });
});
