// keyUsage bits read from certificate DER: agreement with @peculiar/x509 on certificates it made, and fuzzing:
// no input, random or a mutated real certificate, gives anything but a bit set, undefined or PkiError malformed_der.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { PkiError } from '../../../src/common/errors.js';
import { generateKeySync, issueSvid, spkiOf } from '../../../src/pki/index.js';
import { decodeKeyUsage, KEY_USAGE, keyUsageBits } from '../../../src/pki/key-usage.js';
import { makeOddLeaf } from '../../helpers/odd-leaf.js';
import { makeCa, makeLeaf } from '../../helpers/pki.js';

const ID = 'spiffe://example.org/ns/default/sa/web';
const ca = makeCa('example.org');

/** Runs keyUsageBits and reduces the outcome to what the property allows. */
function outcome(der: Buffer): 'bits' | 'none' | 'malformed' {
  try {
    const bits = keyUsageBits(der);
    if (bits === undefined) return 'none';
    expect(Number.isInteger(bits) && bits >= 0 && bits < 512).toBe(true);
    return 'bits';
  } catch (e) {
    expect(e).toBeInstanceOf(PkiError);
    expect((e as PkiError).code).toBe('malformed_der');
    return 'malformed';
  }
}

describe('keyUsageBits', () => {
  it('reads our own profiles: EC leaf digitalSignature, RSA leaf +keyEncipherment, CA keyCertSign|cRLSign', () => {
    expect(keyUsageBits(makeLeaf(ca, ID).certDer)).toBe(1 << KEY_USAGE.digitalSignature);
    const rsa = issueSvid({ spki: spkiOf(generateKeySync('rsa-2048')), spiffeId: ID, nowMs: Date.now(), ttlMs: 60_000, rsa: true }, ca.issuer);
    expect(keyUsageBits(rsa.der)).toBe((1 << KEY_USAGE.digitalSignature) | (1 << KEY_USAGE.keyEncipherment));
    expect(keyUsageBits(ca.certDer)).toBe((1 << KEY_USAGE.keyCertSign) | (1 << KEY_USAGE.cRLSign));
  });

  it('agrees with @peculiar/x509 on every keyUsage it encodes, and says undefined without the extension', async () => {
    const sets = [0x1, 0x4, 0x10, 0x20 | 0x40, 0x80, 0x100, 0x1ff, 0x1 | 0x100, 0x2 | 0x8];
    for (const ku of sets) expect(keyUsageBits((await makeOddLeaf(ca, { uris: [ID], keyUsage: ku })).certDer)).toBe(ku);
    expect(keyUsageBits((await makeOddLeaf(ca, { uris: [ID], keyUsage: null })).certDer)).toBeUndefined();
  });

  it('decodes every 9-bit set from its minimal BIT STRING encoding', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 511 }), (bits) => {
      // The encoding @peculiar/x509 and OpenSSL write: trailing zero bits trimmed, their count in the first byte.
      const asn = new x509.KeyUsagesExtension(bits).value;
      expect(decodeKeyUsage(Buffer.from(asn))).toBe(bits);
    }));
  });

  describe('fuzz', () => {
    let real: Buffer[];
    beforeAll(async () => {
      real = [makeLeaf(ca, ID).certDer, ca.certDer, (await makeOddLeaf(ca, { uris: [ID, ID], isCa: true, keyUsage: 0x21 })).certDer];
    });

    it('random bytes', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => { outcome(Buffer.from(bytes)); }), { numRuns: 2_000 });
    });

    it('a real certificate with bytes overwritten', () => {
      fc.assert(fc.property(
        fc.nat(2), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        (which, edits) => {
          const der = Buffer.from(real[which]!);
          for (const [at, v] of edits) der[at % der.length] = v;
          outcome(der);
        },
      ), { numRuns: 3_000 });
    });

    it('a real certificate truncated or extended', () => {
      fc.assert(fc.property(fc.nat(2), fc.nat(), fc.uint8Array({ maxLength: 16 }), (which, cut, tail) => {
        const src = real[which]!;
        const der = Buffer.concat([src.subarray(0, cut % (src.length + 1)), Buffer.from(tail)]);
        const r = outcome(der);
        if (der.equals(src)) expect(r).toBe('bits');
        else if (tail.length === 0) expect(r).toBe('malformed');
      }), { numRuns: 2_000 });
    });

    it('a keyUsage value of random bytes', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 8 }), (bytes) => {
        try {
          const bits = decodeKeyUsage(Buffer.from(bytes));
          expect(bits >= 0 && bits < 512).toBe(true);
        } catch (e) {
          expect((e as PkiError).code).toBe('malformed_der');
        }
      }), { numRuns: 2_000 });
    });
  });

  it('refuses a certificate that repeats keyUsage', () => {
    const der = makeLeaf(ca, ID).certDer;
    // Rename the extKeyUsage OID (2.5.29.37 → 2.5.29.15): a second keyUsage whose value is not even a BIT STRING.
    const eku = der.indexOf(Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x25]));
    const twice = Buffer.from(der);
    twice[eku + 4] = 0x0f;
    expect(() => keyUsageBits(twice)).toThrow(expect.objectContaining({ code: 'malformed_der' }));
  });
});
