// The trust bundle on disk: bundle.pem (the roots, headed by a sequence line) and cross.pem (cross-certificates).
// The sequence lives in the file, so every replica serving the same files sends the same sequence for the same roots.
import { X509Certificate } from 'node:crypto';
import { ConfigError } from '../../common/errors.js';
import { certFingerprint } from '../../pki/fingerprint.js';
import { vouchesFor } from '../../pki/cross-cert.js';
import { certsFromPem, certsToPem, fromPemAll } from '../../pki/pem.js';

/** The sequence line that heads bundle.pem: a comment, which PEM readers (OpenSSL, Node, ztmesh) skip. */
export const SEQUENCE_LINE = /^# ztmesh trust bundle sequence: (\d{1,15})\s*$/m;
/** A bundle.pem without the line (made by hand or by an older ztmesh) counts as sequence 1. */
export const DEFAULT_SEQUENCE = 1;

/** Names a certificate in a message: its subject, or its serial when the subject is empty (as in an SVID). */
export function describeCert(c: X509Certificate): string {
  const subject = (c.subject ?? '').replace(/\n/g, ', ');
  return subject ? `"${subject}"` : `with serial ${c.serialNumber} and no subject`;
}

/** The sequence bundle.pem's text declares. */
export function readSequence(pem: string): number {
  const m = SEQUENCE_LINE.exec(pem);
  return m ? Number(m[1]) : DEFAULT_SEQUENCE;
}

/** bundle.pem's text: the sequence line, then the roots. */
export function formatBundleFile(rootsDer: readonly Buffer[], sequence: number): string {
  return `# ztmesh trust bundle sequence: ${sequence}\n${certsToPem(rootsDer)}`;
}

/** Parses bundle.pem content; throws ConfigError `bad_bundle` naming the file. */
export function parseBundle(pem: string, file: string): { rootsDer: Buffer[]; roots: X509Certificate[]; sequence: number } {
  try {
    const rootsDer = certsFromPem(pem, file);
    const roots = rootsDer.map((d) => new X509Certificate(d));
    for (const r of roots) {
      if (!r.ca) throw new Error(`certificate ${describeCert(r)} is not a certificate authority (the trust bundle lists root CAs only)`);
    }
    return { rootsDer, roots, sequence: readSequence(pem) };
  } catch (e) {
    throw new ConfigError('bad_bundle', `${file}: ${(e as Error).message}`, { cause: e });
  }
}

/** Parses cross.pem content (it may be empty); throws ConfigError `bad_cross_certificates` naming the file. */
export function parseCrossCertificates(pem: string, file: string): X509Certificate[] {
  try {
    return fromPemAll(pem).map((d) => new X509Certificate(d));
  } catch (e) {
    throw new ConfigError('bad_cross_certificates', `${file}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * The cross-certificates worth sending with `roots`: those vouching for one root of the bundle on behalf of another
 * (a receiver that trusts the second can then add the first). Others (e.g. from a root already retired) are left out.
 */
export function relevantCrossCertificates(roots: readonly X509Certificate[], cross: readonly X509Certificate[], nowMs: number): X509Certificate[] {
  return cross.filter((c) => roots.some((root) => roots.some((by) => by !== root && vouchesFor(c, root, by, nowMs))));
}

/**
 * Certificates to send after a leaf issued under `root` so that peers still trusting only an older root of the
 * bundle can verify it: the cross-certificates of `root`'s key issued by the other roots (empty once they are retired).
 */
export function bridgeCertificates(root: X509Certificate | undefined, roots: readonly X509Certificate[], cross: readonly X509Certificate[], nowMs: number): X509Certificate[] {
  if (!root) return [];
  return cross.filter((c) => roots.some((by) => !by.raw.equals(root.raw) && vouchesFor(c, root, by, nowMs)));
}

/** SHA-256 hex of a root, as /status, `ca root status` and the issuance log name it. */
export function rootId(root: X509Certificate): string {
  return certFingerprint(root.raw);
}
