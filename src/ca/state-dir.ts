// The CA state directory (docs/design.md "CA state directory and flags"): ca.pem, ca.key, optional chain.pem, bundle.pem, cross.pem, tokens/.
// Loading names the file at fault; `init` creates a root CA and refuses to overwrite one.
import { promises as fs, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { ConfigError, PkiError } from '../common/errors.js';
import { writeFileAtomic, writeSecretFile } from '../common/files.js';
import { certsFromPem, toPem } from '../pki/pem.js';
import { DEFAULT_SEQUENCE, formatBundleFile } from './root/bundle-file.js';
import { generateKeySync, loadPrivateKey, privateKeyPem } from '../pki/keys.js';
import { createRootCa, loadIssuer } from '../pki/issuer.js';
import { uriSans } from '../pki/cert-ids.js';
import { validateTrustDomain } from '../pki/spiffe-id.js';
import type { IssuerMaterial } from '../pki/certificate.js';

/** File names inside --dir (root rotation adds next.*, previous.*, cross.pem and rotation.json: root-files.ts). */
export const CA_FILES = { cert: 'ca.pem', key: 'ca.key', chain: 'chain.pem', bundle: 'bundle.pem', cross: 'cross.pem', tokens: 'tokens' } as const;

/** What the CA signs with, read from ca.pem, ca.key and chain.pem. The key is only ever handed to the signer. */
export interface SigningMaterial {
  trustDomain: string;
  issuer: IssuerMaterial & { cert: X509Certificate };
  /** PKCS#8 PEM of the signing key, for signing worker threads. Never logged. */
  keyPem: string;
  caCertDer: Buffer;
  /** Certificates sent after the leaf: ca.pem when it is not a root, then chain.pem minus roots. */
  intermediatesDer: Buffer[];
  /** Permission bits of ca.key, so the caller can warn when group or others may read it. */
  keyMode: number;
}

/** The signing material read from --dir, and where the bundle is. */
export interface CaState extends SigningMaterial {
  dir: string;
  bundlePath: string;
}

function isSelfSigned(cert: X509Certificate): boolean {
  return cert.checkIssued(cert) && cert.verify(cert.publicKey);
}

async function readRequired(dir: string, name: string, what: string): Promise<Buffer> {
  const file = path.join(dir, name);
  try {
    return await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(`${what}_missing`, `${file}: file not found`);
    throw new ConfigError(`${what}_unreadable`, `${file}: cannot read (${code ?? (e as Error).message})`, { cause: e });
  }
}

/** Checks that --dir exists and is a directory; ConfigError `ca_dir_missing`. */
export async function assertCaDir(dir: string): Promise<void> {
  const st = await fs.stat(dir).catch(() => undefined);
  if (!st) throw new ConfigError('ca_dir_missing', `CA directory ${dir} does not exist (run "ztmesh ca init --dir ${dir}" first)`);
  if (!st.isDirectory()) throw new ConfigError('ca_dir_missing', `CA directory ${dir} is not a directory`);
}

/** Reads and cross-checks the CA's files. Throws ConfigError whose message names the file at fault. */
export async function loadCaState(dir: string, trustDomainFlag?: string): Promise<CaState> {
  await assertCaDir(dir);
  const material = await loadSigningMaterial(dir, trustDomainFlag);
  const bundlePath = path.join(dir, CA_FILES.bundle);
  await fs.access(bundlePath, fsConstants.R_OK).catch(() => {
    throw new ConfigError('bundle_missing', `${bundlePath}: file not found or unreadable (the trust bundle must list the root(s))`);
  });
  return { ...material, dir, bundlePath };
}

/** Reads ca.pem, ca.key and chain.pem and checks they belong together; ConfigError naming the file at fault. */
export async function loadSigningMaterial(dir: string, trustDomainFlag?: string): Promise<SigningMaterial> {
  const certFile = path.join(dir, CA_FILES.cert);
  const keyFile = path.join(dir, CA_FILES.key);
  const certPem = (await readRequired(dir, CA_FILES.cert, 'ca_cert')).toString('utf8');
  const keyPem = (await readRequired(dir, CA_FILES.key, 'ca_key')).toString('utf8');
  let caCertDer: Buffer;
  try {
    caCertDer = certsFromPem(certPem, certFile)[0]!;
  } catch (e) {
    throw new ConfigError('ca_cert_unreadable', `${certFile}: no PEM certificate found`, { cause: e });
  }
  let key: KeyObject;
  try {
    key = loadPrivateKey(keyPem, keyFile);
  } catch (e) {
    throw new ConfigError('ca_key_unreadable', `${keyFile}: not a readable private key`, { cause: e });
  }
  let issuer: CaState['issuer'];
  try {
    issuer = loadIssuer(caCertDer, key);
  } catch (e) {
    const code = e instanceof PkiError ? e.code : 'bad_ca_cert';
    if (code === 'ca_key_mismatch') throw new ConfigError(code, `${keyFile} does not match the certificate in ${certFile}`, { cause: e });
    throw new ConfigError(code, `${certFile}: ${(e as Error).message}`, { cause: e });
  }
  const trustDomain = resolveTrustDomain(issuer.cert, certFile, trustDomainFlag);
  const intermediatesDer: Buffer[] = isSelfSigned(issuer.cert) ? [] : [caCertDer];
  const chainPem = await fs.readFile(path.join(dir, CA_FILES.chain), 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw new ConfigError('ca_chain_unreadable', `${path.join(dir, CA_FILES.chain)}: cannot read (${e.code})`, { cause: e });
  });
  if (chainPem !== undefined && chainPem.trim() !== '') {
    for (const der of certsFromPem(chainPem, path.join(dir, CA_FILES.chain))) {
      if (!isSelfSigned(new X509Certificate(der))) intermediatesDer.push(der);
    }
  }
  const keyMode = (await fs.stat(keyFile)).mode & 0o777;
  return { trustDomain, issuer, keyPem, caCertDer, intermediatesDer, keyMode };
}

function resolveTrustDomain(cert: X509Certificate, certFile: string, flag: string | undefined): string {
  const fromCert = uriSans(cert).find((u) => /^spiffe:\/\/[^/]+$/.test(u))?.slice('spiffe://'.length);
  if (flag !== undefined && fromCert !== undefined && flag !== fromCert) {
    throw new ConfigError('trust_domain_mismatch', `--trust-domain "${flag}" differs from the trust domain of ${certFile} ("${fromCert}")`);
  }
  const td = flag ?? fromCert;
  if (td === undefined) throw new ConfigError('trust_domain_unknown', `${certFile} has no spiffe://<trust-domain> URI SAN; pass --trust-domain`);
  return validateTrustDomain(td);
}

/** The files `ca init` wrote. */
export interface InitResult {
  certPem: string;
  keyPem: string;
  bundlePem: string;
  chainPem?: string;
}

/** Creates a self-signed root in `dir` (created if needed). Refuses when ca.pem or ca.key exists. */
export async function initCaDir(dir: string, trustDomain: string, nowMs: number): Promise<InitResult> {
  validateTrustDomain(trustDomain);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
    const why = e.code === 'EEXIST' || e.code === 'ENOTDIR' ? 'a file is in the way (it exists and is not a directory)'
      : e.code === 'EACCES' || e.code === 'EPERM' ? 'permission denied' : (e.code ?? e.message);
    throw new ConfigError('ca_dir_unusable', `cannot create the CA directory ${dir}: ${why}`, { cause: e });
  });
  for (const name of [CA_FILES.cert, CA_FILES.key, CA_FILES.bundle]) {
    const file = path.join(dir, name);
    if (await fs.stat(file).then(() => true, () => false)) {
      throw new ConfigError('ca_exists', `${file} already exists; refusing to overwrite an existing CA`);
    }
  }
  const key = generateKeySync();
  const certDer = createRootCa({ trustDomain, key, nowMs });
  const keyPem = privateKeyPem(key);
  const certPem = toPem(certDer);
  const bundlePem = formatBundleFile([certDer], DEFAULT_SEQUENCE);
  await writeSecretFile(path.join(dir, CA_FILES.key), keyPem);
  await writeFileAtomic(path.join(dir, CA_FILES.cert), certPem);
  await writeFileAtomic(path.join(dir, CA_FILES.bundle), bundlePem);
  await fs.mkdir(path.join(dir, CA_FILES.tokens), { recursive: true, mode: 0o700 });
  return { certPem, keyPem, bundlePem };
}
