// ValidateJWTSVID on a real sidecar, with a CA whose JWT signing key changes every 2 s: a token is cached until its
// half-life, then a new one comes signed by a newer key, and both old and new tokens validate (the old key stays
// published until its tokens expire). A token for another audience, an expired one, one signed by a key the CA never
// published and one for another trust domain are refused with INVALID_ARGUMENT (`jwt_invalid`).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { SignJWT, decodeProtectedHeader } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { deriveJwtKey, periodAt } from '../../src/ca/jwt/jwt-keys.js';
import { loadPrivateKey } from '../../src/pki/keys.js';
import { WEB_ID } from '../helpers/sidecar.js';
import { unary, unaryError, workloadApiSidecarForSuite, type SpiffeWorkloadAPIClient } from '../helpers/workload-api.js';

const SCHEDULE = { periodMs: 2_000, maxTtlMs: 10_000 };
const suite = workloadApiSidecarForSuite({ ca: { args: ['--jwt-key-period', '2s', '--jwt-max-ttl', '10s', '--jwt-ttl', '6s'] } });
let c: SpiffeWorkloadAPIClient;
beforeAll(() => { c = suite.wl.client(); });

const fetchToken = async (audience: string[]) => (await unary<{ svids: { svid: string }[] }>(c, 'FetchJWTSVID', { audience })).svids[0]!.svid;
const validate = (svid: string, audience: string) => unary<{ spiffeId: string; claims: { fields: Record<string, unknown> } }>(c, 'ValidateJWTSVID', { audience, svid });
const kidOf = (token: string) => decodeProtectedHeader(token).kid;

/** A token signed with `key`, as the CA would sign one, with the claims given. */
function forge(key: Parameters<SignJWT['sign']>[0], kid: string, claims: { sub?: string; aud?: string; iat: number; exp: number }) {
  return new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' }).setSubject(claims.sub ?? WEB_ID).setAudience(claims.aud ?? 'db')
    .setIssuedAt(claims.iat).setExpirationTime(claims.exp).sign(key);
}

describe('JWT-SVIDs on a sidecar', () => {
  it('serves a token from its cache until half-life; after the key rotated, old and new tokens both validate', async () => {
    const first = await fetchToken(['db']);
    expect(await fetchToken(['db'])).toBe(first);
    expect((await suite.wl.sidecar.status()).workloadApi!.jwtSvids).toMatchObject({ fetched: 1, servedFromCache: 1 });
    // Half of the 6 s lifetime, then a fresh token: 3 s later the 2 s key period has moved on at least once. Polled:
    // the cached token until its half-life, then a new one (never before it).
    const halfLife = (JSON.parse(Buffer.from(first.split('.')[1]!, 'base64url').toString()) as { iat: number }).iat * 1000 + 3_000;
    let second = first;
    await expect.poll(async () => (second = await fetchToken(['db'])), { timeout: 10_000, interval: 200 }).not.toBe(first);
    expect(Date.now()).toBeGreaterThanOrEqual(halfLife - 1_000); // iat has one-second precision
    expect(kidOf(second)).not.toBe(kidOf(first));
    for (const token of [first, second]) {
      const v = await validate(token, 'db');
      expect(v.spiffeId).toBe(WEB_ID);
      expect(v.claims.fields.sub).toMatchObject({ stringValue: WEB_ID });
    }
    const bundle = (await suite.wl.sidecar.status()).workloadApi!.jwtBundle!;
    expect(bundle.keyIds).toEqual(expect.arrayContaining([kidOf(first), kidOf(second)]));
  });

  it('refuses a token for another audience, an expired one, one signed by an unpublished key and one for another trust domain', async () => {
    const token = await fetchToken(['db', 'cache']);
    const refusal = async (svid: string, audience: string) => {
      const e = await unaryError(c, 'ValidateJWTSVID', { audience, svid });
      expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
      return e.details;
    };
    expect(await refusal(token, 'payments')).toBe('jwt_invalid: the JWT-SVID is not valid: its audience does not include "payments"');
    // The CA's own key of this period (derived from ca.key as the CA derives it), on a token that expired a minute ago.
    const now = Math.floor(Date.now() / 1000);
    const caKey = loadPrivateKey(readFileSync(join(suite.ca.dir, 'ca.key'), 'utf8'), 'ca.key');
    const key = deriveJwtKey(caKey, 'example.org', periodAt(Date.now(), SCHEDULE), SCHEDULE);
    expect((await validate(await forge(key.privateKey, key.keyId, { iat: now - 5, exp: now + 5 }), 'db')).spiffeId).toBe(WEB_ID);
    expect(await refusal(await forge(key.privateKey, key.keyId, { iat: now - 120, exp: now - 60 }), 'db')).toBe('jwt_invalid: the JWT-SVID is not valid: it has expired');
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    expect(await refusal(await forge(stranger, key.keyId, { iat: now, exp: now + 60 }), 'db')).toMatch(/^jwt_invalid: the JWT-SVID is not valid: ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
    expect(await refusal(await forge(stranger, 'nobody-published-this', { iat: now, exp: now + 60 }), 'db')).toBe('jwt_invalid: the JWT-SVID is not valid: no trusted JWT authority has kid "nobody-published-this"');
    expect(await refusal(await forge(key.privateKey, key.keyId, { sub: 'spiffe://other.org/ns/default/sa/web', iat: now, exp: now + 60 }), 'db'))
      .toMatch(/^jwt_invalid: the JWT-SVID is not valid: sub "spiffe:\/\/other.org\/ns\/default\/sa\/web" is not a SPIFFE ID of this trust domain/);
    expect(await refusal('not-a-jwt', 'db')).toMatch(/^jwt_invalid/);
  });
});
