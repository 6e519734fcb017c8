// Which JWT authorities a sidecar trusts: one signed by the CA's key under a root trusted now is added; one signed by
// a foreign CA, with a bad signature, already expired, not P-256, or reusing a trusted kid with another key is refused
// with its code; each stays until its notAfter, even when the CA stops listing it; the set is bounded.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { JwtBundleStore, mergeJwtAuthorities, MAX_JWT_AUTHORITIES } from '../../../src/identity/jwt-bundle.js';
import { signAuthority, type JwtAuthority } from '../../../src/pki/jwt-authority.js';
import { captureLogger } from '../../helpers/capture-logger.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { makeCa, makeIntermediate, type TestCa } from '../../helpers/pki.js';

const TD = 'example.org';
const clock = new FakeClock(Date.now());
const root = makeCa(TD);
const intermediate = makeIntermediate(root);
const foreign = makeCa(TD);
const spki = (curve = 'P-256') => generateKeyPairSync('ec', { namedCurve: curve }).publicKey.export({ format: 'der', type: 'spki' });

/** An authority as the CA publishes it, signed by `by` (with `chain` after it). */
function authority(keyId: string, opts: { by?: TestCa; chain?: Buffer[]; notAfterMs?: number; key?: Buffer; tamper?: boolean } = {}): JwtAuthority {
  const by = opts.by ?? root;
  const facts = { keyId, publicKeySpki: opts.key ?? spki(), notAfterMs: opts.notAfterMs ?? clock.now() + 3_600_000 };
  const signature = signAuthority(TD, facts, by.key);
  if (opts.tamper) signature[signature.length - 1] ^= 1;
  return { ...facts, signature, signerChainDer: opts.chain ?? [by.certDer] };
}

function store() {
  const log = captureLogger();
  return { s: new JwtBundleStore({ trustDomain: TD, clock, log: log.logger }), log };
}

describe('JWT authorities a sidecar trusts', () => {
  it('adds one signed by the CA under a trusted root, directly or through an intermediate', () => {
    const { s } = store();
    s.offer([authority('a'), authority('b', { by: intermediate, chain: [intermediate.certDer] })], [root.cert]);
    expect(s.current()).toMatchObject({ trustDomain: TD, sequence: 1, authorities: [{ keyId: 'a' }, { keyId: 'b' }] });
  });

  it.each([
    ['signed by a CA the sidecar does not trust', () => authority('x', { by: foreign }), 'untrusted_chain'],
    ['whose signature does not verify', () => authority('x', { tamper: true }), 'jwt_authority_bad_signature'],
    ['already expired', () => authority('x', { notAfterMs: clock.now() - 1 }), 'jwt_authority_expired'],
    ['not a P-256 key', () => authority('x', { key: spki('P-384') }), 'jwt_authority_bad_key'],
    ['whose signer chain does not parse', () => authority('x', { chain: [Buffer.from('nope')] }), 'malformed_certificate'],
  ])('refuses one %s (%s), logs it and keeps the rest', (_, make, code) => {
    const { s, log } = store();
    s.offer([make(), authority('good')], [root.cert], '127.0.0.1:15012');
    expect(s.current().authorities.map((a) => a.keyId)).toEqual(['good']);
    expect(s.refusal()).toMatchObject({ keyId: 'x', code, from: '127.0.0.1:15012' });
    expect(log.lines.find((l) => l.msg === 'JWT authority from the CA refused')).toMatchObject({ code, keyId: 'x' });
  });

  it('refuses a trusted kid offered with another key, and keeps the key it trusts', () => {
    const { s } = store();
    const a = authority('a');
    s.offer([a], [root.cert]);
    s.offer([authority('a')], [root.cert]);
    expect(s.refusal()).toMatchObject({ code: 'jwt_authority_kid_reused' });
    expect(s.current().authorities[0]!.publicKeySpki.equals(a.publicKeySpki)).toBe(true);
    expect(s.current().sequence).toBe(1);
  });

  it('keeps an authority the CA no longer lists until its notAfter, then drops it on time', async () => {
    const { s } = store();
    s.offer([authority('old', { notAfterMs: clock.now() + 60_000 }), authority('new')], [root.cert]);
    s.offer([authority('newer')], [root.cert]);
    expect(s.current().authorities.map((a) => a.keyId)).toEqual(['new', 'newer', 'old']);
    await clock.advance(60_000);
    expect(s.current()).toMatchObject({ sequence: 3, authorities: [{ keyId: 'new' }, { keyId: 'newer' }] });
    s.stop();
  });

  it(`holds at most ${MAX_JWT_AUTHORITIES}, dropping those that expire first`, () => {
    const many = Array.from({ length: MAX_JWT_AUTHORITIES + 3 }, (_, i) => ({ keyId: `k${i}`, publicKeySpki: Buffer.from([i]), notAfterMs: clock.now() + 1_000 * (i + 1) }));
    const { next } = mergeJwtAuthorities([], many.map((m) => ({ ...m, signature: Buffer.alloc(0), signerChainDer: [] })), () => undefined, clock.now());
    expect(next).toHaveLength(MAX_JWT_AUTHORITIES);
    expect(next.map((a) => a.keyId)).not.toContain('k0');
  });
});
