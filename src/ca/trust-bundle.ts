// The trust bundle as served by WatchTrustBundle: bundle.pem on disk, reloaded when it changes.
// fs.watch on the directory reacts at once (editors and kubelet replace files by rename); a stat poll
// catches what fs.watch misses (network filesystems, some container mounts). Bad content keeps the last good bundle.
import { watch, promises as fs, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { Clock, TimerHandle } from '../common/clock.js';
import { ConfigError, describe } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { Watchable } from '../common/watchable.js';
import { certsFromPem, certsToPem } from '../pki/pem.js';

/** How often the fallback poll stats bundle.pem. */
export const BUNDLE_POLL_MS = 1_000;
/** fs.watch fires several events per write; wait this long for the writer to finish. */
export const BUNDLE_DEBOUNCE_MS = 50;

/** One immutable version of the bundle. `sequence` grows by one on every content change (per process). */
export interface BundleSnapshot {
  trustDomain: string;
  rootsDer: Buffer[];
  roots: X509Certificate[];
  pem: string;
  sequence: number;
}

/** Names a certificate in a message: its subject, or its serial when the subject is empty (as in an SVID). */
function describeCert(c: X509Certificate): string {
  const subject = (c.subject ?? '').replace(/\n/g, ', ');
  return subject ? `"${subject}"` : `with serial ${c.serialNumber} and no subject`;
}

/** Parses bundle.pem content; throws ConfigError `bad_bundle` naming the file. */
export function parseBundle(pem: string, file: string): { rootsDer: Buffer[]; roots: X509Certificate[] } {
  try {
    const rootsDer = certsFromPem(pem, file);
    const roots = rootsDer.map((d) => new X509Certificate(d));
    for (const r of roots) {
      if (!r.ca) throw new Error(`certificate ${describeCert(r)} is not a certificate authority (the trust bundle lists root CAs only)`);
    }
    return { rootsDer, roots };
  } catch (e) {
    throw new ConfigError('bad_bundle', `${file}: ${(e as Error).message}`, { cause: e });
  }
}

/** The CA's signing certificate and the intermediates above it (chain.pem), whose root the bundle must hold. */
export interface CaChain {
  cert: X509Certificate;
  intermediates: readonly X509Certificate[];
}

const isSelfSigned = (c: X509Certificate) => c.checkIssued(c) && c.verify(c.publicKey);

/**
 * Checks that `roots` hold the root the CA's chain leads to (ca.pem, then up through chain.pem): otherwise no
 * sidecar could verify what the CA signs. Throws ConfigError `bundle_lacks_ca_root` naming the file. Pure.
 */
export function assertBundleHoldsCaRoot(roots: readonly X509Certificate[], chain: CaChain, file: string): void {
  let current = chain.cert;
  for (let depth = 0; depth <= chain.intermediates.length + 1; depth++) {
    if (isSelfSigned(current)) {
      if (roots.some((r) => r.raw.equals(current.raw))) return;
      break;
    }
    if (roots.some((r) => isSelfSigned(r) && current.checkIssued(r) && current.verify(r.publicKey))) return;
    const next = chain.intermediates.find((c) => c.ca && !c.raw.equals(current.raw) && current.checkIssued(c) && current.verify(c.publicKey));
    if (!next) break;
    current = next;
  }
  const issuer = (current.issuer ?? '').replace(/\n/g, ', ');
  throw new ConfigError('bundle_lacks_ca_root', `${file} does not hold the CA's root (the self-signed certificate ${issuer ? `"${issuer}"` : ''} that ca.pem and chain.pem lead to); sidecars could not verify what this CA signs`);
}

function sameRoots(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  return a.length === b.length && a.every((d, i) => d.equals(b[i]!));
}

/** Watches bundle.pem and publishes snapshots; subscribe() gets the current one at once. */
export class TrustBundleSource {
  private readonly value: Watchable<BundleSnapshot>;
  private watcher: FSWatcher | undefined;
  private pollTimer: TimerHandle | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private lastStat = '';
  private reloading: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly file: string,
    trustDomain: string,
    initial: { rootsDer: Buffer[]; roots: X509Certificate[] },
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly pollMs: number,
    private readonly caChain: CaChain | undefined,
  ) {
    this.value = new Watchable<BundleSnapshot>({ trustDomain, ...initial, pem: certsToPem(initial.rootsDer), sequence: 1 });
  }

  /** Loads the bundle (failing startup when it is bad) and starts watching. */
  static async open(opts: { file: string; trustDomain: string; caChain?: CaChain; clock: Clock; log: Logger; pollMs?: number }): Promise<TrustBundleSource> {
    const pem = await fs.readFile(opts.file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new ConfigError('bundle_missing', `${opts.file}: cannot read (${e.code})`, { cause: e });
    });
    const initial = parseBundle(pem, opts.file);
    if (opts.caChain) assertBundleHoldsCaRoot(initial.roots, opts.caChain, opts.file);
    const src = new TrustBundleSource(opts.file, opts.trustDomain, initial, opts.clock, opts.log, opts.pollMs ?? BUNDLE_POLL_MS, opts.caChain);
    src.lastStat = await src.statKey();
    src.startWatching();
    return src;
  }

  current(): BundleSnapshot {
    return this.value.get();
  }

  /** Current snapshot now, then every change. Returns unsubscribe. */
  subscribe(listener: (b: BundleSnapshot) => void): () => void {
    return this.value.subscribe(listener);
  }

  /** Re-reads the file now; publishes sequence+1 when the roots changed. Serialised. */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(() => this.doReload());
    return this.reloading;
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.pollTimer?.cancel();
    if (this.debounce) clearTimeout(this.debounce);
  }

  private async doReload(): Promise<void> {
    if (this.closed) return;
    let parsed: { rootsDer: Buffer[]; roots: X509Certificate[] };
    try {
      this.lastStat = await this.statKey();
      parsed = parseBundle(await fs.readFile(this.file, 'utf8'), this.file);
      if (this.caChain) assertBundleHoldsCaRoot(parsed.roots, this.caChain, this.file);
    } catch (e) {
      this.log.warn({ code: describe(e).code, file: this.file, err: describe(e).message }, 'trust bundle refused; keeping the last good one');
      return;
    }
    const cur = this.value.get();
    if (sameRoots(cur.rootsDer, parsed.rootsDer)) return;
    const next: BundleSnapshot = { trustDomain: cur.trustDomain, ...parsed, pem: certsToPem(parsed.rootsDer), sequence: cur.sequence + 1 };
    this.log.info({ sequence: next.sequence, roots: next.roots.length }, 'trust bundle changed');
    this.value.set(next);
  }

  private async statKey(): Promise<string> {
    const st = await fs.stat(this.file).catch(() => undefined);
    return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : 'missing';
  }

  private startWatching(): void {
    const name = path.basename(this.file);
    try {
      this.watcher = watch(path.dirname(this.file), { persistent: false }, (_event, changed) => {
        if (changed !== null && changed !== name && !String(changed).startsWith('..')) return;
        if (this.debounce) clearTimeout(this.debounce);
        this.debounce = setTimeout(() => void this.reload(), BUNDLE_DEBOUNCE_MS);
        this.debounce.unref();
      });
      this.watcher.on('error', (e) => this.log.warn({ err: e.message }, 'fs.watch failed; relying on the poll'));
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'fs.watch unavailable; relying on the poll');
    }
    const poll = () => {
      if (this.closed) return;
      void this.statKey().then((k) => (k !== this.lastStat ? this.reload() : undefined)).finally(() => {
        if (!this.closed) this.pollTimer = this.clock.setTimeout(poll, this.pollMs);
      });
    };
    this.pollTimer = this.clock.setTimeout(poll, this.pollMs);
  }
}
