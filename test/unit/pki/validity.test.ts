// The one reading of a certificate's notAfter, and the one check that a peer's certificate has expired.
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
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

it('src/ reads notAfter nowhere but pki/validity.ts (validTo is parsed once)', () => {
  const root = fileURLToPath(new URL('../../../src', import.meta.url));
  const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
  const found: string[] = [];
  for (const f of files(root)) {
    if (relative(root, f) === join('pki', 'validity.ts')) continue;
    readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
      // Parsed (Date.parse, new Date) or compared: a display of the string (`expired ${cert.validTo}`) is not a check.
      if (/(?:Date\.parse|new Date)\([^)]*\.validTo\b|\.validTo\s*[<>]|[<>]=?\s*[\w.!]*\.validTo\b/.test(line)) found.push(`${relative(root, f)}:${i + 1}`);
    });
  }
  expect(found).toEqual([]);
});
