// The one reading of a certificate's notAfter, and the one check that a peer's certificate has expired.
import { X509Certificate } from 'node:crypto';
import { expect, it } from 'vitest';
import { certExpired, certNotAfterMs } from '../../../src/pki/validity.js';
import { makeCa } from '../../helpers/pki.js';

it('reads notAfter in ms, and counts a certificate expired from its notAfter on', () => {
  const cert = new X509Certificate(makeCa('example.org').certPem);
  const notAfter = certNotAfterMs(cert);
  expect(new Date(notAfter).toUTCString()).toBe(new Date(cert.validTo).toUTCString());
  expect(certExpired(notAfter, notAfter - 1)).toBe(false);
  expect(certExpired(notAfter, notAfter)).toBe(true);
  expect(certExpired(notAfter, notAfter + 1)).toBe(true);
});
