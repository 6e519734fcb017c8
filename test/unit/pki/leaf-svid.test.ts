// The X.509-SVID leaf rules as one check: a proper SVID passes, and each broken rule has its own code.
import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertLeafSvid, checkLeafSvid } from '../../../src/pki/leaf-svid.js';
import { makeOddLeaf, type OddLeafProfile } from '../../helpers/odd-leaf.js';
import { makeCa, makeIntermediate, makeLeaf } from '../../helpers/pki.js';

const WEB = 'spiffe://example.org/ns/default/sa/web';
const API = 'spiffe://example.org/ns/default/sa/api';
const DS = 0x01;
const KE = 0x04;
const KCS = 0x20;
const CRL = 0x40;

describe('checkLeafSvid', () => {
  const ca = makeCa('example.org');

  it('accepts our SVIDs and an SVID made by another encoder', async () => {
    expect(checkLeafSvid(new X509Certificate(makeLeaf(ca, WEB).certDer))).toEqual({ ok: true, spiffeId: WEB });
    expect(checkLeafSvid(new X509Certificate((await makeOddLeaf(ca, { uris: [WEB], keyUsage: DS | KE })).certDer))).toEqual({ ok: true, spiffeId: WEB });
  });

  const refused: [string, OddLeafProfile, string, string | undefined][] = [
    ['CA=true', { uris: [WEB], isCa: true, keyUsage: DS | KCS }, 'not_a_leaf', WEB],
    ['two URI SANs', { uris: [WEB, API] }, 'no_spiffe_id', undefined],
    ['no URI SAN', { uris: [] }, 'no_spiffe_id', undefined],
    ['a URI SAN that is not a SPIFFE ID', { uris: ['https://example.org/web'] }, 'invalid_spiffe_id', 'https://example.org/web'],
    ['a SPIFFE ID with a dot segment', { uris: ['spiffe://example.org/ns/../sa/web'] }, 'invalid_spiffe_id', 'spiffe://example.org/ns/../sa/web'],
    ['no keyUsage', { uris: [WEB], keyUsage: null }, 'bad_key_usage', WEB],
    ['keyUsage without digitalSignature', { uris: [WEB], keyUsage: KE }, 'bad_key_usage', WEB],
    ['keyUsage with keyCertSign', { uris: [WEB], keyUsage: DS | KCS }, 'bad_key_usage', WEB],
    ['keyUsage with cRLSign', { uris: [WEB], keyUsage: DS | CRL }, 'bad_key_usage', WEB],
  ];
  const certs = new Map<string, X509Certificate>();
  beforeAll(async () => {
    for (const [name, profile] of refused) certs.set(name, new X509Certificate((await makeOddLeaf(ca, profile)).certDer));
  });

  it.each(refused)('refuses %s', (name, _profile, code, spiffeId) => {
    const r = checkLeafSvid(certs.get(name)!);
    expect(r).toMatchObject({ ok: false, code });
    expect(r.ok ? undefined : r.spiffeId).toBe(spiffeId);
    expect(() => assertLeafSvid(certs.get(name)!)).toThrow(expect.objectContaining({ code }));
  });

  it('refuses a CA certificate of our own encoder', () => {
    expect(checkLeafSvid(makeIntermediate(ca).cert)).toMatchObject({ ok: false, code: 'not_a_leaf' });
  });
});
