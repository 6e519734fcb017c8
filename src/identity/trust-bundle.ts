// Trust bundle decisions: loading the bootstrap file (the first trust) and whether a bundle from the CA replaces the
// one in force. Pure apart from the file read; the manager applies the outcome by swapping one reference.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../common/errors.js';
import { judgeRootSuccession } from '../pki/root-succession.js';
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

export type BundleDecision =
  | 'accept' | 'same' | 'stale' | 'wrong_trust_domain' | 'empty' | 'malformed' | 'drops_trusted_roots' | 'unvouched_root';

/** What decideBundle concluded, with a sentence for the log when it is a refusal. */
export interface BundleVerdict {
  decision: BundleDecision;
  detail?: string;
}

/** The decisions that refuse a bundle as untrustworthy (not merely old news): logged with a code, shown in /status. */
export const BUNDLE_REFUSALS: ReadonlySet<BundleDecision> = new Set(['wrong_trust_domain', 'empty', 'malformed', 'drops_trusted_roots', 'unvouched_root']);

/**
 * Whether `candidate` from the CA replaces `current` (the bootstrap file's roots are the first trust). Pure.
 * - Between CA bundles only a higher sequence wins, so a lagging replica cannot roll roots back.
 * - Then the rule the CA applies to its own bundle.pem too (pki/root-succession.ts): at least one root trusted now
 *   stays (`drops_trusted_roots`), and a root not trusted now needs a cross-certificate from a root trusted now
 *   (`unvouched_root`), so the CA's identity alone cannot swap the roots.
 * A sidecar that missed steps of a rotation still moves forward: each bundle is judged against what it trusts now,
 * and a jump that keeps one trusted root and vouches for every new one is as good as the steps it skipped.
 */
export function decideBundle(
  current: { bundle: TrustBundle; source: BundleSource }, candidate: RawBundle, trustDomain: string, nowMs: number,
): BundleVerdict {
  if (candidate.rootsDer.length === 0) return { decision: 'empty', detail: 'the bundle holds no root' };
  if (candidate.trustDomain && candidate.trustDomain !== trustDomain) {
    return { decision: 'wrong_trust_domain', detail: `the bundle is for "${candidate.trustDomain}", not "${trustDomain}"` };
  }
  if (current.source === 'ca') {
    if (candidate.sequence < current.bundle.sequence) return { decision: 'stale' };
    if (candidate.sequence === current.bundle.sequence) return { decision: 'same' };
  }
  let roots: X509Certificate[];
  let cross: X509Certificate[];
  try {
    roots = candidate.rootsDer.map((d) => new X509Certificate(d));
    cross = (candidate.crossCertsDer ?? []).map((d) => new X509Certificate(d));
  } catch (e) {
    return { decision: 'malformed', detail: `a certificate in the bundle cannot be parsed: ${(e as Error).message}` };
  }
  const refusal = judgeRootSuccession(current.bundle.roots, roots, cross, nowMs);
  if (refusal) return { decision: refusal.code, detail: refusal.detail };
  return { decision: 'accept' };
}
