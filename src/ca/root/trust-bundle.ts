// The trust bundle as served by WatchTrustBundle: bundle.pem and cross.pem on disk, reloaded when they change
// (dir-watch.ts). A change is published only with a higher sequence; bad content keeps the last good bundle.
//
// Invariants: every root of the bundle in force is trusted for renewals (the front door verifies client certificates
// against it, renewal.ts chains to it), so every root got there by the rule the sidecars apply
// (pki/root-succession.ts): at start, the CA's own root (and the previous one, whose key `ca root activate` kept) plus
// roots they vouch for by cross-certificate; later, the roots in force plus roots they vouch for. A bundle.pem that
// breaks the rule is refused (the CA does not start, or keeps the last good bundle) and the log names file and root.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { X509Certificate } from 'node:crypto';
import type { Clock } from '../../common/clock.js';
import { ConfigError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { Watchable } from '../../common/watchable.js';
import { judgeRootSuccession } from '../../pki/root-succession.js';
import { certsToPem } from '../../pki/pem.js';
import { parseBundle, parseCrossCertificates, relevantCrossCertificates, rootId } from './bundle-file.js';
import { DirWatch } from '../dir-watch.js';

export { parseBundle } from './bundle-file.js';

/** The name of the cross-certificate file next to bundle.pem. */
export const CROSS_FILE = 'cross.pem';

/** One immutable version of the bundle, as every replica serving the same files sees it. */
export interface BundleSnapshot {
  trustDomain: string;
  rootsDer: Buffer[];
  roots: X509Certificate[];
  pem: string;
  /** From bundle.pem's sequence line: the same on every replica for the same file. */
  sequence: number;
  /** Cross-certificates from cross.pem that vouch for one of these roots on behalf of another. */
  cross: X509Certificate[];
}

/** The CA's signing certificate and the intermediates above it (chain.pem), whose root the bundle must hold. */
export interface CaChain {
  cert: X509Certificate;
  intermediates: readonly X509Certificate[];
}

const isSelfSigned = (c: X509Certificate) => c.checkIssued(c) && c.verify(c.publicKey);

/** Walks from ca.pem up through chain.pem: the root of `roots` it reaches, or the last certificate it got to. */
function walkToRoot(roots: readonly X509Certificate[], chain: CaChain): { root?: X509Certificate; last: X509Certificate } {
  let current = chain.cert;
  for (let depth = 0; depth <= chain.intermediates.length + 1; depth++) {
    if (isSelfSigned(current)) {
      const root = roots.find((r) => r.raw.equals(current.raw));
      return root ? { root, last: current } : { last: current };
    }
    const root = roots.find((r) => isSelfSigned(r) && current.checkIssued(r) && current.verify(r.publicKey));
    if (root) return { root, last: current };
    const next = chain.intermediates.find((c) => c.ca && !c.raw.equals(current.raw) && current.checkIssued(c) && current.verify(c.publicKey));
    if (!next) break;
    current = next;
  }
  return { last: current };
}

/** The root of `roots` that the CA's chain (ca.pem, then up through chain.pem) leads to, if any. Pure. */
export function findCaRoot(roots: readonly X509Certificate[], chain: CaChain): X509Certificate | undefined {
  return walkToRoot(roots, chain).root;
}

/**
 * Checks that `roots` hold the root the CA's chain leads to: otherwise no sidecar could verify what the CA signs.
 * Returns that root; throws ConfigError `bundle_lacks_ca_root` naming the file. Pure.
 */
export function assertBundleHoldsCaRoot(roots: readonly X509Certificate[], chain: CaChain, file: string): X509Certificate {
  const { root, last } = walkToRoot(roots, chain);
  if (root) return root;
  const issuer = (last.issuer ?? '').replace(/\n/g, ', ');
  throw new ConfigError('bundle_lacks_ca_root', `${file} does not hold the CA's root (the self-signed certificate ${issuer ? `"${issuer}"` : ''} that ca.pem and chain.pem lead to); sidecars could not verify what this CA signs`);
}

function sameDer(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  return a.length === b.length && a.every((d, i) => d.equals(b[i]!));
}

interface Parsed { rootsDer: Buffer[]; roots: X509Certificate[]; sequence: number; cross: X509Certificate[] }

/** Watches bundle.pem and cross.pem and publishes snapshots; subscribe() gets the current one at once. */
export class TrustBundleSource {
  private readonly value: Watchable<BundleSnapshot>;
  private readonly watch: DirWatch<Parsed>;

  private constructor(
    private readonly file: string,
    private readonly crossFile: string,
    trustDomain: string,
    initial: Parsed,
    private readonly clock: Clock,
    private readonly log: Logger,
    pollMs: number | undefined,
    private caChain: CaChain | undefined,
  ) {
    this.value = new Watchable<BundleSnapshot>({ trustDomain, ...initial, pem: certsToPem(initial.rootsDer) });
    this.watch = new DirWatch({
      dir: path.dirname(file), names: [path.basename(file), path.basename(crossFile)], clock, log,
      read: () => this.read(), apply: (parsed) => this.apply(parsed),
      refused: { message: 'trust bundle refused; keeping the last good one', fields: { file } },
      ...(pollMs !== undefined ? { pollMs } : {}),
    });
  }

  /**
   * Loads the bundle (failing startup when it is bad) and starts watching. cross.pem defaults to a sibling.
   * `previousRoots`: roots the CA signed with before and still holds the key of (previous.pem), trusted as its own.
   * Without `caChain` (tests of the file handling alone) the file's roots are the first trust, as for a sidecar.
   */
  static async open(opts: {
    file: string; crossFile?: string; trustDomain: string; caChain?: CaChain; previousRoots?: readonly X509Certificate[];
    clock: Clock; log: Logger; pollMs?: number;
  }): Promise<TrustBundleSource> {
    const crossFile = opts.crossFile ?? path.join(path.dirname(opts.file), CROSS_FILE);
    const pem = await fs.readFile(opts.file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new ConfigError('bundle_missing', `${opts.file}: cannot read (${e.code})`, { cause: e });
    });
    const initial = await readParsed(pem, opts.file, crossFile, opts.clock.now());
    if (opts.caChain) {
      const own = [assertBundleHoldsCaRoot(initial.roots, opts.caChain, opts.file), ...(opts.previousRoots ?? [])];
      assertRootsFollow(own, initial, opts.file, crossFile, opts.clock.now());
    }
    const src = new TrustBundleSource(opts.file, crossFile, opts.trustDomain, initial, opts.clock, opts.log, opts.pollMs, opts.caChain);
    await src.watch.start();
    return src;
  }

  current(): BundleSnapshot {
    return this.value.get();
  }

  /** Current snapshot now, then every change. Returns unsubscribe. */
  subscribe(listener: (b: BundleSnapshot) => void): () => void {
    return this.value.subscribe(listener);
  }

  /** The CA's signing chain changed (a new root activated): later bundles must hold its root; re-reads the files. */
  setCaChain(chain: CaChain): Promise<void> {
    this.caChain = chain;
    return this.reload();
  }

  /** Re-reads the files now; publishes a snapshot when the sequence grew. Serialised. */
  reload(): Promise<void> {
    return this.watch.reload();
  }

  close(): void {
    this.watch.close();
  }

  /** Reads and checks bundle.pem and cross.pem; throws when they must not replace the bundle in force. */
  private async read(): Promise<Parsed> {
    const parsed = await readParsed(await fs.readFile(this.file, 'utf8'), this.file, this.crossFile, this.clock.now());
    const own = this.caChain ? [assertBundleHoldsCaRoot(parsed.roots, this.caChain, this.file)] : [];
    assertRootsFollow([...this.value.get().roots, ...own], parsed, this.file, this.crossFile, this.clock.now());
    return parsed;
  }

  /** Publishes a read bundle when its sequence grew. */
  private apply(parsed: Parsed): void {
    const cur = this.value.get();
    const sameRoots = sameDer(cur.rootsDer, parsed.rootsDer);
    if (parsed.sequence === cur.sequence && sameRoots) return;
    if (parsed.sequence <= cur.sequence) {
      if (sameRoots) return;
      this.log.warn({ code: 'bundle_sequence_not_raised', file: this.file, sequence: parsed.sequence, current: cur.sequence },
        'trust bundle changed but its sequence did not grow; keeping the last good one (raise the "# ztmesh trust bundle sequence:" line, or use "ztmesh ca root")');
      return;
    }
    const next: BundleSnapshot = { trustDomain: cur.trustDomain, ...parsed, pem: certsToPem(parsed.rootsDer) };
    this.log.info({ sequence: next.sequence, roots: next.roots.map(rootId), crossCertificates: next.cross.length }, 'trust bundle changed');
    this.value.set(next);
  }
}

/**
 * Refuses roots that may not follow `trusted` (pki/root-succession.ts, the sidecars' rule): ConfigError
 * `bundle_unvouched_root` or `bundle_drops_trusted_roots`, naming the files and the root.
 */
function assertRootsFollow(trusted: readonly X509Certificate[], parsed: Parsed, file: string, crossFile: string, nowMs: number): void {
  const refusal = judgeRootSuccession(trusted, parsed.roots, parsed.cross, nowMs);
  if (!refusal) return;
  const hint = refusal.code === 'unvouched_root'
    ? `: add to ${crossFile} a cross-certificate from a root trusted now, or remove it from ${file} (docs/ca.md "Trust bundle")`
    : '';
  throw new ConfigError(`bundle_${refusal.code}`, `${file}: ${refusal.detail}${hint}; it could not back a renewal, and sidecars would refuse the bundle`);
}

/** Reads bundle.pem's text and cross.pem (absent: none) into one parsed bundle. */
async function readParsed(pem: string, file: string, crossFile: string, nowMs: number): Promise<Parsed> {
  const bundle = parseBundle(pem, file);
  const crossPem = await fs.readFile(crossFile, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return '';
    throw new ConfigError('bad_cross_certificates', `${crossFile}: cannot read (${e.code})`, { cause: e });
  });
  return { ...bundle, cross: relevantCrossCertificates(bundle.roots, parseCrossCertificates(crossPem, crossFile), nowMs) };
}
