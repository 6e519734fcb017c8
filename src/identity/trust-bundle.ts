// Trust bundle decisions: loading the bootstrap file and whether a bundle from the CA replaces the one in force.
// Pure apart from the file read; the manager applies the outcome by swapping one reference.
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../common/errors.js';
import { certsFromPem } from '../pki/pem.js';
import { uriSans } from '../pki/cert-ids.js';
import { makeTrustBundle, type TrustBundle } from './credentials.js';
import type { RawBundle } from './ca-client.js';

/** Where the bundle in force came from. */
export type BundleSource = 'file' | 'ca';

/** Loads the bootstrap roots (sequence 0, so any bundle from the CA supersedes it). */
export async function loadBundleFile(path: string, trustDomain: string): Promise<TrustBundle> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (e) {
    throw new ConfigError('bundle_unreadable', `ca.bundle: cannot read "${path}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let bundle: TrustBundle;
  try {
    bundle = makeTrustBundle(trustDomain, certsFromPem(pem, `ca.bundle "${path}"`), 0);
  } catch (e) {
    throw new ConfigError('bundle_invalid', `ca.bundle: "${path}" holds no readable certificate: ${(e as Error).message}`);
  }
  const named = bundleTrustDomains(bundle);
  if (named.length > 0 && !named.includes(trustDomain)) {
    // Inconsistent configuration, not a CA problem: retrying could never succeed.
    throw new ConfigError('trust_domain_mismatch',
      `trustDomain "${trustDomain}" does not match ca.bundle "${path}", whose roots are for ${named.map((t) => `"${t}"`).join(', ')}: set trustDomain to the CA's, or use its bundle`);
  }
  return bundle;
}

/** The trust domains the roots name in a spiffe://<td> URI SAN (as `ztmesh ca init` roots do); empty when none does. */
export function bundleTrustDomains(bundle: TrustBundle): string[] {
  const tds = bundle.roots.flatMap((r) => uriSans(r)).map((u) => /^spiffe:\/\/([^/]+)\/?$/.exec(u)?.[1]).filter((t): t is string => !!t);
  return [...new Set(tds)];
}

export type BundleDecision = 'accept' | 'same' | 'stale' | 'wrong_trust_domain' | 'empty';

/**
 * Whether `candidate` from the CA replaces `current`: a CA bundle always beats the bootstrap file;
 * between CA bundles only a higher sequence wins (a lagging replica must not roll roots back).
 */
export function decideBundle(current: { bundle: TrustBundle; source: BundleSource }, candidate: RawBundle, trustDomain: string): BundleDecision {
  if (candidate.rootsDer.length === 0) return 'empty';
  if (candidate.trustDomain && candidate.trustDomain !== trustDomain) return 'wrong_trust_domain';
  if (current.source === 'file') return 'accept';
  if (candidate.sequence > current.bundle.sequence) return 'accept';
  if (candidate.sequence === current.bundle.sequence) return 'same';
  return 'stale';
}
