// Property tests of the CA's CSR parser and verifier (fast-check): whatever the bytes, parseAndVerifyCsr returns a
// parsed CSR or throws a PkiError with one of its stable codes; never a TypeError, never a hang.
import { generateKeyPairSync, createPrivateKey, sign } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PkiError } from '../../../src/common/errors.js';
import { buildCsr, generateKeySync, parseAndVerifyCsr } from '../../../src/pki/index.js';
import * as der from '../../../src/pki/der.js';

const CODES = new Set(['malformed_csr', 'bad_csr_signature', 'weak_key']);
/** Slowest single call allowed: an RSA-8192 signature check takes a few milliseconds. */
const MAX_CALL_MS = 250;

/** Runs the parser and fails the property on anything but success or a PkiError with a stable code. */
function holds(bytes: Uint8Array): boolean {
  const started = performance.now();
  try {
    const parsed = parseAndVerifyCsr(Buffer.from(bytes));
    expect(parsed.uris.every((u) => typeof u === 'string')).toBe(true);
    expect(parsed.spki.length).toBeGreaterThan(0);
  } catch (e) {
    if (!(e instanceof PkiError) || !CODES.has(e.code)) throw new Error(`unexpected ${(e as Error)?.name}: ${(e as Error)?.message}`, { cause: e });
    // Nor a JavaScript error dressed up as one: the message says what is wrong with the CSR.
    if (/Cannot read|undefined|is not a function|TypeError/.test(e.message)) throw new Error(`a JavaScript error inside: ${e.message}`, { cause: e });
  }
  const took = performance.now() - started;
  if (took > MAX_CALL_MS) throw new Error(`took ${took.toFixed(0)} ms`);
  return true;
}

const rsa = createPrivateKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
const seeds = [
  buildCsr(generateKeySync('ec-p256'), { uris: ['spiffe://example.org/ns/default/sa/web'], dnsNames: ['web.example'] }),
  buildCsr(generateKeySync('ec-p384')),
  buildCsr(rsa, { uris: ['spiffe://example.org/ns/default/sa/api'] }),
];

/** A valid CSR with one byte changed, a range cut out, bytes inserted, or the tail cut off. */
const mutated = fc.tuple(fc.constantFrom(...seeds), fc.nat(), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.constantFrom('flip', 'set', 'cut', 'insert', 'truncate'))
  .map(([seed, a, b, bytes, how]) => {
    const s = Buffer.from(seed);
    const i = a % s.length;
    const j = i + (b % 16);
    switch (how) {
      case 'flip': s[i]! ^= 1 << (b % 8); return s;
      case 'set': s[i] = bytes[0]!; return s;
      case 'cut': return Buffer.concat([s.subarray(0, i), s.subarray(j)]);
      case 'insert': return Buffer.concat([s.subarray(0, i), bytes, s.subarray(i)]);
      default: return s.subarray(0, i);
    }
  });

/** Random DER trees: constructed nodes of random tags holding random primitives, wrapped like a CSR. */
const { tree } = fc.letrec<{ tree: Buffer; node: Buffer }>((tie) => ({
  tree: fc.array(tie('node'), { maxLength: 4 }).chain((kids) => fc.constantFrom(0x30, 0x31, 0xa0, 0xa3, 0x04).map((tag) => der.tlv(tag, Buffer.concat(kids)))),
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(fc.constantFrom(0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x16, 0x82, 0x86), fc.uint8Array({ maxLength: 24 })).map(([t, b]) => der.tlv(t, Buffer.from(b))),
    tie('tree'),
  ),
}));

/** A properly signed CSR whose SAN extension holds arbitrary GeneralNames (any tag, any bytes). */
const key = generateKeySync('ec-p256');
const spkiNode = der.children(der.children(der.readWhole(buildCsr(key)))[0]!)[2]!;
const signedWithSans = fc.array(fc.tuple(fc.constantFrom(0x81, 0x82, 0x86, 0x87, 0xa0, 0x30, 0x04), fc.uint8Array({ maxLength: 40 })), { maxLength: 5 })
  .map((names) => {
    const san = der.seq(der.oid('2.5.29.17'), der.octets(der.seq(...names.map(([t, b]) => der.tlv(t, Buffer.from(b))))));
    const info = der.seq(der.smallInt(0), der.seq(), spkiNode.raw, der.tlv(0xa0, der.seq(der.oid('1.2.840.113549.1.9.14'), der.set(der.seq(san)))));
    return der.seq(info, der.seq(der.oid('1.2.840.10045.4.3.2')), der.bitString(sign('sha256', info, key)));
  });

/** A CSR whose extensionRequest attribute holds random DER in place of its extensions. */
const randomExtensions = fc.array(tree, { maxLength: 3 }).map((exts) => {
  const info = der.seq(der.smallInt(0), der.seq(), spkiNode.raw, der.tlv(0xa0, der.seq(der.oid('1.2.840.113549.1.9.14'), der.set(der.seq(...exts)))));
  return der.seq(info, der.seq(der.oid('1.2.840.10045.4.3.2')), der.bitString(sign('sha256', info, key)));
});

/** A CSR carrying a random RSA public key (any modulus size up to 9000 bits, any exponent) and a random signature. */
const randomRsaKey = fc.tuple(fc.integer({ min: 1, max: 1125 }), fc.integer({ min: 1, max: 1125 }), fc.integer()).map(([nBytes, eBytes, seed]) => {
  const bytes = (n: number, salt: number) => Buffer.from(Array.from({ length: n }, (_, i) => (seed * 31 + i * 7 + salt) & 0xff));
  const spkiRsa = der.seq(der.seq(der.oid('1.2.840.113549.1.1.1'), der.nul()), der.bitString(der.seq(der.uint(bytes(nBytes, 1)), der.uint(bytes(eBytes, 2)))));
  const info = der.seq(der.smallInt(0), der.seq(), spkiRsa, der.tlv(0xa0, Buffer.alloc(0)));
  return der.seq(info, der.seq(der.oid('1.2.840.113549.1.1.11'), der.nul()), der.bitString(bytes(nBytes, 3)));
});

describe('parseAndVerifyCsr under fuzzing', () => {
  it('any bytes: a parsed CSR or a PkiError with a stable code', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), holds), { numRuns: 1000 });
  });

  it('mutated valid CSRs (EC P-256, P-384, RSA-2048)', () => {
    fc.assert(fc.property(mutated, holds), { numRuns: 1500 });
  });

  it('random DER trees shaped like a CSR', () => {
    fc.assert(fc.property(fc.tuple(tree, tree, tree), ([a, b, c]) => holds(der.seq(a, b, c))), { numRuns: 1000 });
    fc.assert(fc.property(tree, holds), { numRuns: 500 });
  });

  it('random RSA keys of any size and exponent: refused or checked quickly', () => {
    fc.assert(fc.property(randomRsaKey, holds), { numRuns: 300 });
  });

  it('correctly signed CSRs with random DER for extensions', () => {
    fc.assert(fc.property(randomExtensions, holds), { numRuns: 500 });
  });

  it('correctly signed CSRs with arbitrary SAN entries parse without throwing anything else', () => {
    fc.assert(fc.property(signedWithSans, holds), { numRuns: 300 });
  });
});
