// `ztmesh ca root prepare|activate|retire`: offline steps on the CA state dir (or a local copy of its Secret), written as
// whole files a running CA picks up; only a root ztmesh manages is rotated, a plug-in CA's root is the operator's.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { ConfigError, RotationError } from '../../common/errors.js';
import { writeFileAtomic, writeSecretFile } from '../../common/files.js';
import { createCrossCertificate, isSelfSignedCa } from '../../pki/cross-cert.js';
import { spkiOf } from '../../pki/certificate.js';
import { createRootCa, loadIssuer } from '../../pki/issuer.js';
import { generateKeySync, loadPrivateKey, privateKeyPem } from '../../pki/keys.js';
import { certsToPem, fromPemAll, toPem } from '../../pki/pem.js';
import { certFingerprint } from '../../pki/fingerprint.js';
import { formatBundleFile, parseBundle, parseCrossCertificates, relevantCrossCertificates, rootId } from './bundle-file.js';
import { verifyAuditLog, type VerifiedEntry } from '../audit/audit-chain.js';
import { retireBound, type ActivationRecord, type RetireBound } from './retire-check.js';
import type { RootDirView } from './root-status.js';
import { assertCaDir, CA_FILES, loadSigningMaterial, type SigningMaterial } from '../state-dir.js';
import { findCaRoot } from './trust-bundle.js';

/** The files a rotation adds to the state directory. */
export const ROOT_FILES = { next: 'next.pem', nextKey: 'next.key', previous: 'previous.pem', previousKey: 'previous.key', rotation: 'rotation.json' } as const;

/** Everything a step needs from the directory. */
export interface RootDir extends RootDirView {
  material: SigningMaterial;
  rootsDer: Buffer[];
  cross: X509Certificate[];
}

const file = (dir: string, name: string) => path.join(dir, name);
const exists = (p: string) => fs.stat(p).then(() => true, () => false);

async function readOptional(p: string): Promise<string | undefined> {
  return fs.readFile(p, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw new ConfigError('ca_file_unreadable', `${p}: cannot read (${e.code})`, { cause: e });
  });
}

function parseActivation(text: string | undefined, p: string): ActivationRecord | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    const ms = (k: string) => { const t = Date.parse(String(v[k])); if (Number.isNaN(t)) throw new Error(`"${k}" is not a time`); return t; };
    if (typeof v.previousRoot !== 'string' || typeof v.maxTtlSeconds !== 'number') throw new Error('"previousRoot" or "maxTtlSeconds" missing');
    return { previousRoot: v.previousRoot, activatedAtMs: ms('activatedAt'), maxTtlMs: v.maxTtlSeconds * 1000, previousSvidsValidUntilMs: ms('previousSvidsValidUntil') };
  } catch (e) {
    throw new ConfigError('bad_rotation_record', `${p}: ${(e as Error).message}`, { cause: e });
  }
}

/** Reads the state directory as the rotation steps and `status` see it. */
export async function readRootDir(dir: string): Promise<RootDir> {
  await assertCaDir(dir);
  const material = await loadSigningMaterial(dir);
  const bundlePath = file(dir, CA_FILES.bundle);
  const bundleText = await readOptional(bundlePath);
  if (bundleText === undefined) throw new ConfigError('bundle_missing', `${bundlePath}: file not found`);
  const bundle = parseBundle(bundleText, bundlePath);
  const crossPath = file(dir, CA_FILES.cross);
  const cross = parseCrossCertificates((await readOptional(crossPath)) ?? '', crossPath);
  const nextText = await readOptional(file(dir, ROOT_FILES.next));
  const nextDer = nextText === undefined ? undefined : fromPemAll(nextText)[0];
  const intermediates = material.intermediatesDer.map((d) => new X509Certificate(d));
  const rotationPath = file(dir, ROOT_FILES.rotation);
  return {
    dir, trustDomain: material.trustDomain, material,
    plugin: intermediates.length > 0 || !isSelfSignedCa(material.issuer.cert),
    roots: bundle.roots, rootsDer: bundle.rootsDer, sequence: bundle.sequence, cross,
    active: findCaRoot(bundle.roots, { cert: material.issuer.cert, intermediates }),
    next: nextDer ? new X509Certificate(nextDer) : undefined,
    activation: parseActivation(await readOptional(rotationPath), rotationPath),
  };
}

/**
 * The root the CA signed with before `activate` (previous.pem), when previous.key matches it: the CA still holds its
 * key, so it trusts that root as its own at start (its SVIDs renew until `retire`). Anything else: none.
 */
export async function loadPreviousRoot(dir: string): Promise<X509Certificate | undefined> {
  const [certText, keyText] = await Promise.all([readOptional(file(dir, ROOT_FILES.previous)), readOptional(file(dir, ROOT_FILES.previousKey))]);
  if (certText === undefined || keyText === undefined) return undefined;
  try {
    const der = fromPemAll(certText)[0];
    if (!der) return undefined;
    const { cert } = loadIssuer(der, loadPrivateKey(keyText, ROOT_FILES.previousKey));
    return isSelfSignedCa(cert) ? cert : undefined;
  } catch {
    return undefined;
  }
}

function refusePlugin(d: RootDir): void {
  if (!d.plugin) return;
  throw new RotationError('plugin_ca_root_rotation',
    `${file(d.dir, CA_FILES.cert)} is an intermediate under your own root (plug-in CA): ztmesh does not hold that root's key, so "ca root" cannot rotate it. `
    + 'Rotate it with your PKI: add the new root to bundle.pem (raising its sequence line) with a cross-certificate from the old root in cross.pem, '
    + 'then replace ca.pem, ca.key and chain.pem (docs/ca.md "Root rotation with a plug-in CA")');
}

/** What prepare made. */
export interface Prepared { newRoot: string; currentRoot: string; sequence: number }

/**
 * Makes the next root (key 0600 in next.key, certificate in next.pem), cross-signs it with the current root
 * (cross.pem) and adds it to bundle.pem with the next sequence. The CA keeps signing with the current root.
 */
export async function prepareRoot(dir: string, nowMs: number): Promise<Prepared> {
  const d = await readRootDir(dir);
  refusePlugin(d);
  if (!d.active) throw new RotationError('bundle_lacks_ca_root', `${file(dir, CA_FILES.bundle)} does not hold the active root (ca.pem): fix that first`);
  if ((await exists(file(dir, ROOT_FILES.next))) || (await exists(file(dir, ROOT_FILES.nextKey)))) {
    throw new RotationError('root_already_prepared', `a root is already prepared (${ROOT_FILES.next}, ${ROOT_FILES.nextKey}): run "ztmesh ca root activate --dir ${dir}" or remove those two files`);
  }
  const others = d.roots.filter((r) => !r.raw.equals(d.active!.raw));
  if (others.length) {
    throw new RotationError('rotation_in_progress', `bundle.pem still holds ${others.length} root(s) besides the active one (${others.map(rootId).map((f) => f.slice(0, 16)).join(', ')}…): run "ztmesh ca root retire --dir ${dir}" first`);
  }
  const key = generateKeySync();
  // Roots of successive rotations get distinct names (chain building matches names first), from their public keys.
  const probe = certFingerprint(spkiOf(key)).slice(0, 8);
  const rootDer = createRootCa({ trustDomain: d.trustDomain, key, nowMs, commonName: `ztmesh root CA ${d.trustDomain} ${probe}` });
  const cross = createCrossCertificate({ rootDer, issuer: d.material.issuer, trustDomain: d.trustDomain, nowMs });
  const sequence = d.sequence + 1;
  // The new root and its voucher exist before the bundle names it: a CA reading bundle.pem finds cross.pem ready.
  await writeSecretFile(file(dir, ROOT_FILES.nextKey), privateKeyPem(key));
  await writeFileAtomic(file(dir, ROOT_FILES.next), toPem(rootDer));
  await writeFileAtomic(file(dir, CA_FILES.cross), certsToPem([cross]));
  await writeFileAtomic(file(dir, CA_FILES.bundle), formatBundleFile([...d.rootsDer, rootDer], sequence));
  return { newRoot: rootId(new X509Certificate(rootDer)), currentRoot: rootId(d.active), sequence };
}

/** What activate did. */
export interface Activated { newRoot: string; previousRoot: string; previousSvidsValidUntilMs: number }

/**
 * Makes the prepared root the signing one: ca.pem/ca.key become next.pem/next.key (the old pair is kept as
 * previous.pem/previous.key until retire), and rotation.json records when every old-root SVID will have expired.
 */
export async function activateRoot(dir: string, nowMs: number, maxTtlMs: number): Promise<Activated> {
  const d = await readRootDir(dir);
  refusePlugin(d);
  const nextKeyPem = await readOptional(file(dir, ROOT_FILES.nextKey));
  if (!d.next || nextKeyPem === undefined) {
    throw new RotationError('no_prepared_root', `no prepared root (${ROOT_FILES.next} and ${ROOT_FILES.nextKey}): run "ztmesh ca root prepare --dir ${dir}" first`);
  }
  try {
    loadIssuer(d.next.raw, loadPrivateKey(nextKeyPem, ROOT_FILES.nextKey));
  } catch (e) {
    throw new RotationError('next_key_mismatch', `${file(dir, ROOT_FILES.nextKey)} does not match ${file(dir, ROOT_FILES.next)}: ${(e as Error).message}`, { cause: e });
  }
  if (!d.roots.some((r) => r.raw.equals(d.next!.raw))) {
    throw new RotationError('bundle_lacks_next_root', `${file(dir, CA_FILES.bundle)} does not hold the prepared root: sidecars would refuse what it signs (run "ztmesh ca root status --dir ${dir}")`);
  }
  const previousRoot = rootId(d.material.issuer.cert);
  const untilMs = nowMs + maxTtlMs;
  await writeSecretFile(file(dir, ROOT_FILES.previousKey), d.material.keyPem);
  await writeFileAtomic(file(dir, ROOT_FILES.previous), toPem(d.material.caCertDer));
  // Key first, then certificate: a CA reading in between sees a pair that does not match and keeps its key.
  await writeSecretFile(file(dir, CA_FILES.key), nextKeyPem);
  await writeFileAtomic(file(dir, CA_FILES.cert), toPem(d.next.raw));
  await writeFileAtomic(file(dir, ROOT_FILES.rotation), `${JSON.stringify({
    previousRoot, activatedAt: new Date(nowMs).toISOString(), maxTtlSeconds: Math.round(maxTtlMs / 1000), previousSvidsValidUntil: new Date(untilMs).toISOString(),
  }, null, 2)}\n`);
  await fs.rm(file(dir, ROOT_FILES.next));
  await fs.rm(file(dir, ROOT_FILES.nextKey));
  return { newRoot: rootId(d.next), previousRoot, previousSvidsValidUntilMs: untilMs };
}

/** The roots retire would remove: every root of the bundle that is neither active nor prepared. */
export function retiringRoots(d: RootDir): X509Certificate[] {
  return d.roots.filter((r) => !(d.active && r.raw.equals(d.active.raw)) && !(d.next && r.raw.equals(d.next.raw)));
}

/** What retire removed. */
export interface Retired { removed: string[]; sequence: number }

/** What retire checked before removing: the bound on old-root SVIDs, and whether --force overrode it. */
export interface RetireOutcome extends Retired { bound: RetireBound; forced: boolean }

/** Reads one replica's issuance log: FILE.1 (when rotation left one) then FILE, verified as one chain. */
export async function readVerifiedLog(logFile: string): Promise<{ name: string; entries: VerifiedEntry[] }> {
  const parts: { name: string; text: string }[] = [];
  for (const name of [`${logFile}.1`, logFile]) {
    const text = await readOptional(name);
    if (text !== undefined) parts.push({ name, text });
  }
  if (!parts.some((p) => p.name === logFile)) throw new ConfigError('audit_log_missing', `--audit-log ${logFile}: file not found`);
  const v = verifyAuditLog(parts);
  if (!v.ok) throw new RotationError('audit_log_broken', `the issuance log cannot be trusted: ${v.message} (ztmesh ca audit verify ${parts.map((p) => p.name).join(' ')})`);
  return { name: logFile, entries: v.entries };
}

/**
 * `ca root retire`: refuses (RotationError `old_root_svids_valid`) while SVIDs issued under a retiring root may
 * still be valid, according to the given issuance logs or, without any, to the time activate recorded; `force`
 * retires anyway. A broken log refuses too (`audit_log_broken`) unless forced.
 */
export async function retireRoot(dir: string, nowMs: number, opts: { auditLogs: readonly string[]; force: boolean; defaultMaxTtlMs: number }): Promise<RetireOutcome> {
  const d = await readRootDir(dir);
  refusePlugin(d);
  const retiring = retiringRoots(d).map(rootId);
  const logs: { name: string; entries: VerifiedEntry[] }[] = [];
  for (const f of opts.auditLogs) {
    try {
      logs.push(await readVerifiedLog(f));
    } catch (e) {
      if (!(opts.force && e instanceof RotationError)) throw e;
    }
  }
  const bound = retireBound({ retiringRoots: retiring, logs, activation: d.activation, defaultMaxTtlMs: opts.defaultMaxTtlMs, nowMs });
  if (retiring.length && bound.untilMs > nowMs && !opts.force) {
    const until = Number.isFinite(bound.untilMs) ? `until ${new Date(bound.untilMs).toISOString()}` : 'for all it can tell';
    throw new RotationError('old_root_svids_valid', `SVIDs issued under the old root may still be valid ${until} (${bound.basis}); workloads holding them could no longer be verified: retire then, or pass --force`);
  }
  return { ...(await retireRoots(d, nowMs)), bound, forced: opts.force && bound.untilMs > nowMs };
}

/**
 * Removes the retiring roots from bundle.pem (next sequence), drops cross-certificates that no longer vouch for a
 * root of the bundle, and deletes previous.pem/previous.key and rotation.json, which activate wrote. The safety
 * check (retire-check.ts) is the caller's: this only writes.
 */
export async function retireRoots(d: RootDir, nowMs: number): Promise<Retired> {
  refusePlugin(d);
  const retiring = retiringRoots(d);
  if (!retiring.length || !d.active) throw new RotationError('nothing_to_retire', `bundle.pem holds no root besides the active${d.next ? ' and the prepared' : ''} one`);
  const keep = d.roots.filter((r) => !retiring.includes(r));
  const sequence = d.sequence + 1;
  await writeFileAtomic(file(d.dir, CA_FILES.bundle), formatBundleFile(keep.map((r) => r.raw), sequence));
  const crossLeft = relevantCrossCertificates(keep, d.cross, nowMs);
  if (crossLeft.length) await writeFileAtomic(file(d.dir, CA_FILES.cross), certsToPem(crossLeft.map((c) => c.raw)));
  else await fs.rm(file(d.dir, CA_FILES.cross), { force: true });
  const previousText = await readOptional(file(d.dir, ROOT_FILES.previous));
  const previous = previousText === undefined ? undefined : fromPemAll(previousText)[0];
  if (previous && retiring.some((r) => r.raw.equals(previous))) {
    await fs.rm(file(d.dir, ROOT_FILES.previousKey), { force: true });
    await fs.rm(file(d.dir, ROOT_FILES.previous), { force: true });
  }
  await fs.rm(file(d.dir, ROOT_FILES.rotation), { force: true });
  return { removed: retiring.map(rootId), sequence };
}
