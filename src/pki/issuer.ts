// Loads the CA's signing material and creates self-signed roots.
// Works for a root made by `ca init` and for an operator's intermediate (plug-in CA).
import { X509Certificate, type KeyObject } from 'node:crypto';
import { PkiError } from '../common/errors.js';
import * as der from './der.js';
import { OID } from './oids.js';
import { caName, keyIdentifier, newSerial, signCertificate, spkiOf, type IssuerMaterial } from './certificate.js';
import { trustDomainId } from './spiffe-id.js';
import { certNotAfterMs } from './validity.js';

/** Parses the pieces of a certificate the encoder needs: subject Name DER and subject key id. */
export function tbsPieces(certDer: Buffer): { subjectDer: Buffer; keyId: Buffer } {
  const tbs = der.children(der.children(der.readWhole(certDer, der.TAG.SEQUENCE))[0]!);
  const off = tbs[0]!.tag === 0xa0 ? 1 : 0;
  const subjectDer = tbs[off + 4]!.raw;
  const spki = tbs[off + 5]!.raw;
  let keyId: Buffer | undefined;
  const extsWrapper = tbs.find((n) => n.tag === 0xa3);
  if (extsWrapper) {
    for (const ext of der.children(der.children(extsWrapper)[0]!)) {
      const parts = der.children(ext);
      if (der.oidToString(parts[0]!.content) === OID.subjectKeyIdentifier) {
        keyId = Buffer.from(der.readWhole(parts[parts.length - 1]!.content, der.TAG.OCTET_STRING).content);
      }
    }
  }
  return { subjectDer: Buffer.from(subjectDer), keyId: keyId ?? keyIdentifier(Buffer.from(spki)) };
}

/** Builds issuer material from a CA certificate and its key; checks CA:true and that the key matches. */
export function loadIssuer(certDer: Buffer, key: KeyObject): IssuerMaterial & { cert: X509Certificate } {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certDer);
  } catch (e) {
    throw new PkiError('bad_ca_cert', 'CA certificate cannot be parsed', { cause: e });
  }
  if (!cert.ca) throw new PkiError('bad_ca_cert', 'CA certificate does not have CA:TRUE');
  if (!cert.checkPrivateKey(key)) throw new PkiError('ca_key_mismatch', 'CA key does not match the CA certificate');
  const { subjectDer, keyId } = tbsPieces(certDer);
  return { cert, subjectDer, keyId, key, notAfterMs: certNotAfterMs(cert) };
}

/** Default lifetime of a root made by `ca init`: 10 years. */
export const DEFAULT_ROOT_TTL_MS = 10 * 365 * 86_400_000;

/** Creates a self-signed root for a trust domain (CA:true, keyCertSign|cRLSign, URI SAN spiffe://td). */
export function createRootCa(opts: { trustDomain: string; key: KeyObject; nowMs: number; ttlMs?: number; commonName?: string }): Buffer {
  const subjectDer = caName('ztmesh', opts.commonName ?? `ztmesh root CA ${opts.trustDomain}`);
  const spki = spkiOf(opts.key);
  const notAfterMs = opts.nowMs + (opts.ttlMs ?? DEFAULT_ROOT_TTL_MS);
  return signCertificate(
    {
      serial: newSerial(), notBeforeMs: opts.nowMs - 60_000, notAfterMs, subjectDer, spki,
      uris: [trustDomainId(opts.trustDomain)], dnsNames: [], isCa: true,
    },
    { subjectDer, keyId: keyIdentifier(spki), key: opts.key, notAfterMs },
  );
}

/** Creates an intermediate CA signed by `parent` (used by tests and plug-in CA setups). */
export function createIntermediateCa(opts: {
  trustDomain: string; key: KeyObject; parent: IssuerMaterial; nowMs: number; ttlMs: number; commonName?: string;
}): Buffer {
  return signCertificate(
    {
      serial: newSerial(), notBeforeMs: opts.nowMs - 60_000,
      notAfterMs: Math.min(opts.nowMs + opts.ttlMs, opts.parent.notAfterMs),
      subjectDer: caName('ztmesh', opts.commonName ?? `ztmesh intermediate CA ${opts.trustDomain}`),
      spki: spkiOf(opts.key), uris: [trustDomainId(opts.trustDomain)], dnsNames: [], isCa: true,
    },
    opts.parent,
  );
}
