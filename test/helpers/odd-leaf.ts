// Certificates that chain like SVIDs but break the X.509-SVID leaf rules (CA=true, several URI SANs, another
// keyUsage), made at test time by @peculiar/x509 so the checks meet certificates our own encoder did not write.
import 'reflect-metadata';
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { privateKeyPem, toPem } from '../../src/pki/index.js';
import type { TestCa, TestLeaf } from './pki.js';

/** What a test-made certificate breaks: CA=true, several (or no) URI SANs, another keyUsage (null: none at all). */
export interface OddLeafProfile {
  uris: string[];
  isCa?: boolean;
  /** @peculiar/x509 KeyUsageFlags bits (bit n of RFC 5280 is `1 << n`); default digitalSignature. */
  keyUsage?: number | null;
}

/** A certificate signed by `ca` with `profile`; everything else as in an SVID (EKU serverAuth+clientAuth, AKI). */
export async function makeOddLeaf(ca: TestCa, profile: OddLeafProfile, nowMs = Date.now()): Promise<TestLeaf> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const subtle = webcrypto.subtle;
  const signingKey = await subtle.importKey('pkcs8', ca.key.export({ format: 'der', type: 'pkcs8' }), alg, false, ['sign']);
  const keys = await subtle.generateKey(alg, true, ['sign', 'verify']);
  const issuer = new x509.X509Certificate(ca.certDer);
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(profile.isCa ?? false, undefined, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    await x509.AuthorityKeyIdentifierExtension.create(issuer, false),
  ];
  const ku = profile.keyUsage === undefined ? x509.KeyUsageFlags.digitalSignature : profile.keyUsage;
  if (ku !== null) extensions.push(new x509.KeyUsagesExtension(ku, true));
  if (profile.uris.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(profile.uris.map((value) => ({ type: 'url' as const, value })), true));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'), subject: 'O=ztmesh-test', issuer: issuer.subject,
    notBefore: new Date(nowMs - 60_000), notAfter: new Date(nowMs + 3_600_000),
    signingAlgorithm: alg, publicKey: keys.publicKey, signingKey, extensions,
  });
  const key = createPrivateKey({ key: Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey)), format: 'der', type: 'pkcs8' });
  const certDer = Buffer.from(cert.rawData);
  return { spiffeId: profile.uris[0] ?? '', key, keyPem: privateKeyPem(key), certDer, certPem: toPem(certDer), serialHex: serial.toString('hex') };
}
