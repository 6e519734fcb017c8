// The X.509 encoder for ztmesh's fixed profiles: SPIFFE leaf SVIDs (the CA's hot path)
// and CA certificates. TBSCertificate is assembled from DER pieces and signed by node:crypto.
import { createHash, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import * as der from './der.js';
import { OID } from './oids.js';
import { generalNames, signatureAlgorithm } from './csr.js';
import { signatureHashFor } from './keys.js';

/** The signer's side of an issuance: everything read once from the CA files. */
export interface IssuerMaterial {
  /** Raw DER of the issuer's subject Name, copied as the leaf's issuer. */
  subjectDer: Buffer;
  /** The issuer's subject key identifier, copied as the leaf's authority key identifier. */
  keyId: Buffer;
  key: KeyObject;
  /** The issuer certificate's notAfter (ms); a leaf never outlives it. */
  notAfterMs: number;
}

export interface TbsProfile {
  serial: Buffer;
  notBeforeMs: number;
  notAfterMs: number;
  subjectDer: Buffer;
  spki: Buffer;
  uris: readonly string[];
  dnsNames: readonly string[];
  isCa: boolean;
  /** Leaf only: RSA keys also get keyEncipherment. */
  rsa?: boolean;
}

/** A fresh positive 128-bit serial number. */
export function newSerial(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b;
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? der.seq(der.oid(id), der.bool(true), der.octets(value)) : der.seq(der.oid(id), der.octets(value));
}

/** SHA-1 over the subjectPublicKey bits: RFC 5280 method 1 key identifier. */
export function keyIdentifier(spki: Buffer): Buffer {
  const bits = der.children(der.readWhole(spki, der.TAG.SEQUENCE))[1]!;
  return createHash('sha1').update(bits.content.subarray(1)).digest();
}

const LEAF_EKU = der.seq(der.oid(OID.serverAuth), der.oid(OID.clientAuth));

/** Encodes and signs a certificate for `profile` with `issuer` (self-signed when issuer describes this same key). */
export function signCertificate(profile: TbsProfile, issuer: IssuerMaterial): Buffer {
  const sigAlg = signatureAlgorithm(issuer.key);
  const exts: Buffer[] = [];
  if (profile.isCa) {
    exts.push(extension(OID.basicConstraints, true, der.seq(der.bool(true))));
    exts.push(extension(OID.keyUsage, true, der.tlv(der.TAG.BIT_STRING, Buffer.from([0x01, 0x06]))));
  } else {
    exts.push(extension(OID.basicConstraints, true, der.seq()));
    const ku = profile.rsa ? Buffer.from([0x05, 0xa0]) : Buffer.from([0x07, 0x80]);
    exts.push(extension(OID.keyUsage, true, der.tlv(der.TAG.BIT_STRING, ku)));
    exts.push(extension(OID.extKeyUsage, false, LEAF_EKU));
  }
  exts.push(extension(OID.subjectKeyIdentifier, false, der.octets(keyIdentifier(profile.spki))));
  exts.push(extension(OID.authorityKeyIdentifier, false, der.seq(der.tlv(0x80, issuer.keyId))));
  if (profile.uris.length + profile.dnsNames.length > 0) {
    // An empty subject makes the SAN the only name, so RFC 5280 requires it to be critical.
    const critical = profile.subjectDer.equals(EMPTY_NAME);
    exts.push(extension(OID.subjectAltName, critical, generalNames(profile.uris, profile.dnsNames)));
  }
  const tbs = der.seq(
    der.explicit(0, der.smallInt(2)),
    der.uint(profile.serial),
    sigAlg,
    issuer.subjectDer,
    der.seq(der.time(profile.notBeforeMs), der.time(profile.notAfterMs)),
    profile.subjectDer,
    profile.spki,
    der.explicit(3, der.seq(...exts)),
  );
  const signature = sign(signatureHashFor(issuer.key), tbs, issuer.key);
  return der.seq(tbs, sigAlg, der.bitString(signature));
}

/** DER of an empty Name (the SPIFFE leaf subject). */
export const EMPTY_NAME = der.seq();

/** A Name with O and CN, for CA certificates. */
export function caName(organization: string, commonName: string): Buffer {
  const rdn = (id: string, v: string) => der.set(der.seq(der.oid(id), der.tlv(der.TAG.UTF8, Buffer.from(v, 'utf8'))));
  return der.seq(rdn('2.5.4.10', organization), rdn('2.5.4.3', commonName));
}

/** SubjectPublicKeyInfo DER of a key. */
export function spkiOf(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ format: 'der', type: 'spki' });
}
