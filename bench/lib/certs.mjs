// Bench-time certificates for the non-ztmesh contenders: an ECDSA P-256 root and two SPIFFE SVIDs,
// made with the project's own pki (dist/pki). Keys go to a private temp dir and are never committed.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createRootCa, generateKeySync, issueSvid, loadIssuer, spkiOf, toPem, privateKeyPem,
} from '../../dist/pki/index.js';

export const BENCH_TRUST_DOMAIN = 'bench.local';
export const CLIENT_ID = `spiffe://${BENCH_TRUST_DOMAIN}/ns/bench/sa/client`;
export const SERVER_ID = `spiffe://${BENCH_TRUST_DOMAIN}/ns/bench/sa/server`;
/** nginx's proxy_ssl_verify checks a DNS name, so the server SVID also carries this optional DNS SAN. */
export const SERVER_DNS = 'server.bench.local';
/** Long enough for any run; the bench never rotates these. */
const LEAF_TTL_MS = 24 * 3_600_000;

/** Writes ca.pem, {client,server}.{pem,key} and {client,server}.combined.pem (haproxy wants cert+key in one file). */
export function makeBenchCerts(dir) {
  const nowMs = Date.now();
  const caKey = generateKeySync('ec-p256');
  const caDer = createRootCa({ trustDomain: BENCH_TRUST_DOMAIN, key: caKey, nowMs });
  const issuer = loadIssuer(caDer, caKey);
  const files = { ca: join(dir, 'ca.pem') };
  writeFileSync(files.ca, toPem(caDer));
  for (const [name, id, dnsNames] of [['client', CLIENT_ID, []], ['server', SERVER_ID, [SERVER_DNS]]]) {
    const key = generateKeySync('ec-p256');
    const leaf = issueSvid({ spki: spkiOf(key), spiffeId: id, nowMs, ttlMs: LEAF_TTL_MS, dnsNames }, issuer);
    const certPem = toPem(leaf.der);
    const keyPem = privateKeyPem(key);
    files[`${name}Cert`] = join(dir, `${name}.pem`);
    files[`${name}Key`] = join(dir, `${name}.key`);
    files[`${name}Combined`] = join(dir, `${name}.combined.pem`);
    writeFileSync(files[`${name}Cert`], certPem);
    writeFileSync(files[`${name}Key`], keyPem, { mode: 0o600 });
    writeFileSync(files[`${name}Combined`], certPem + keyPem, { mode: 0o600 });
  }
  return files;
}
