// Key generation and the key-type allow-list shared by the CA (CSR policy) and the sidecar.
import { generateKeyPair as genKeyPairCb, generateKeyPairSync, createPrivateKey, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { PkiError } from '../common/errors.js';

const genKeyPair = promisify(genKeyPairCb);

/** Key algorithms ztmesh generates and accepts. */
export type KeyAlgorithm = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'];
/** The default for workloads and for `ca init`. */
export const DEFAULT_KEY_ALGORITHM: KeyAlgorithm = 'ec-p256';
/** Smallest RSA modulus the CA signs. */
export const MIN_RSA_BITS = 2048;

function params(alg: KeyAlgorithm): ['ec', { namedCurve: string }] | ['rsa', { modulusLength: number }] {
  switch (alg) {
    case 'ec-p256': return ['ec', { namedCurve: 'P-256' }];
    case 'ec-p384': return ['ec', { namedCurve: 'P-384' }];
    case 'rsa-2048': return ['rsa', { modulusLength: 2048 }];
    case 'rsa-3072': return ['rsa', { modulusLength: 3072 }];
    case 'rsa-4096': return ['rsa', { modulusLength: 4096 }];
  }
}

/** Generates a private key without blocking the event loop. */
export async function generateKey(alg: KeyAlgorithm = DEFAULT_KEY_ALGORITHM): Promise<KeyObject> {
  const [type, opts] = params(alg);
  const { privateKey } = await (genKeyPair as (t: string, o: object) => Promise<{ privateKey: KeyObject }>)(type, opts);
  return privateKey;
}

/** Synchronous variant for CLI one-shots and tests. */
export function generateKeySync(alg: KeyAlgorithm = DEFAULT_KEY_ALGORITHM): KeyObject {
  const [type, opts] = params(alg);
  return (generateKeyPairSync as (t: string, o: object) => { privateKey: KeyObject })(type, opts).privateKey;
}

/** PKCS#8 PEM of a private key. Callers must only ever write it to a 0600 file or hand it to TLS. */
export function privateKeyPem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }) as string;
}

/** Loads a PEM private key; throws PkiError `bad_key` naming `what`. */
export function loadPrivateKey(pem: string | Buffer, what: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (e) {
    throw new PkiError('bad_key', `${what}: not a readable private key`, { cause: e });
  }
}

/** Describes a public or private key for the allow-list, e.g. "ec-p256" or "rsa-1024". */
export function describeKey(key: KeyObject): string {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    return { prime256v1: 'ec-p256', secp384r1: 'ec-p384', secp521r1: 'ec-p521' }[d.namedCurve ?? ''] ?? `ec-${d.namedCurve}`;
  }
  if (key.asymmetricKeyType === 'rsa') return `rsa-${d.modulusLength}`;
  return String(key.asymmetricKeyType);
}

/** Checks a public key against the allow-list (P-256, P-384, RSA ≥ 2048); throws PkiError `weak_key`. */
export function assertAllowedKey(key: KeyObject): string {
  const kind = describeKey(key);
  if (kind === 'ec-p256' || kind === 'ec-p384') return kind;
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits >= MIN_RSA_BITS && bits <= 8192) return kind;
  }
  throw new PkiError('weak_key', `key type ${kind} is not allowed (use ECDSA P-256/P-384 or RSA >= ${MIN_RSA_BITS})`);
}

/** The hash the signing key uses for certificates it signs. */
export function signatureHashFor(key: KeyObject): 'sha256' | 'sha384' {
  return describeKey(key) === 'ec-p384' ? 'sha384' : 'sha256';
}
