// The CA's signing key in force, swapped without a restart (`ztmesh ca root activate`): a new signer must pass its
// self-test before one reference is swapped, and the old one closes after the signatures it holds.
import { X509Certificate } from 'node:crypto';
import type { Clock } from '../../common/clock.js';
import { describe } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { Watchable } from '../../common/watchable.js';
import { bridgeCertificates, rootId } from '../root/bundle-file.js';
import { waitUntilReady, type Signer, type SignerHealth } from './signer.js';
import type { SignJob, SignResult } from './signing-policy.js';
import type { SigningMaterial } from '../state-dir.js';
import { assertBundleHoldsCaRoot, findCaRoot, type BundleSnapshot, type CaChain } from '../root/trust-bundle.js';

/** How long a new signer may take to pass its self-test before the switch is abandoned (the old key stays). */
export const SWITCH_READY_TIMEOUT_MS = 10_000;

/** One complete set of signing machinery. */
export interface SigningGeneration {
  material: SigningMaterial;
  signer: Signer;
  chain: CaChain;
}

/** A signed leaf with what goes with it: the certificates to send after it and the root it chains to. */
export interface Issued extends SignResult {
  /** Intermediates (plug-in CA), then cross-certificates bridging to roots still in the bundle. */
  chainTailDer: Buffer[];
  /** SHA-256 hex of the root the leaf chains to (the issuance log records it; `ca root retire` reads it). */
  rootSha256: string | undefined;
}

/** The root a generation's certificates chain to in a bundle snapshot, and the cross-certificates that bridge it. */
export interface Bridge {
  bundle: BundleSnapshot;
  root: X509Certificate | undefined;
  rootSha256: string | undefined;
  bridgeDer: Buffer[];
}

/** What the service needs of a signer: a signature, with the chain and root it belongs to. */
export interface IssuingSigner {
  sign(job: SignJob): Promise<Issued>;
}

/** The parsed chain of some signing material. */
export function chainOf(material: SigningMaterial): CaChain {
  return { cert: material.issuer.cert, intermediates: material.intermediatesDer.map((d) => new X509Certificate(d)) };
}

export interface SigningSwitchOptions {
  initial: SigningGeneration;
  /** Builds a signer for new material (its health turns ready once its self-test passed). */
  build: (material: SigningMaterial) => Signer;
  bundle: () => BundleSnapshot;
  bundlePath: string;
  clock: Clock;
  log: Logger;
  readyTimeoutMs?: number;
}

/** Signs with the generation in force; switchTo() replaces it whole. */
export class SigningSwitch implements Signer {
  readonly health: Watchable<SignerHealth>;
  private gen: SigningGeneration;
  private unsubscribeHealth: () => void;
  private readonly inFlight = new Map<Signer, number>();
  private readonly retired = new Set<Signer>();
  private readonly listeners = new Set<(g: SigningGeneration) => void>();
  private readonly bridges = new WeakMap<SigningGeneration, Bridge>();
  private switching: Promise<boolean> = Promise.resolve(true);
  private closed = false;

  constructor(private readonly opts: SigningSwitchOptions) {
    this.gen = opts.initial;
    this.health = new Watchable(opts.initial.signer.health.get());
    this.unsubscribeHealth = this.follow(opts.initial.signer);
  }

  current(): SigningGeneration {
    return this.gen;
  }

  get mode(): string {
    return this.gen.signer.mode;
  }

  /** Called after every switch with the new generation. Returns unsubscribe. */
  onSwitch(listener: (g: SigningGeneration) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /**
   * Cross-certificates to send after a certificate of `gen` (the one in force by default): they bridge its root to
   * the other roots of the bundle, for peers that do not trust it yet. Empty once those roots are retired.
   */
  bridge(gen: SigningGeneration = this.gen): Bridge {
    // Signature checks are not free: computed once per (generation, bundle snapshot), not per signature.
    const bundle = this.opts.bundle();
    const hit = this.bridges.get(gen);
    if (hit?.bundle === bundle) return hit;
    const root = findCaRoot(bundle.roots, gen.chain);
    const bridgeDer = bridgeCertificates(root, bundle.roots, bundle.cross, this.opts.clock.now()).map((c) => c.raw);
    const computed = { bundle, root, rootSha256: root ? rootId(root) : undefined, bridgeDer };
    this.bridges.set(gen, computed);
    return computed;
  }

  /** Signs with the generation in force when called; the result names that generation's chain and root. */
  async sign(job: SignJob): Promise<Issued> {
    const gen = this.gen;
    const { signer, material } = gen;
    this.inFlight.set(signer, (this.inFlight.get(signer) ?? 0) + 1);
    try {
      const result = await signer.sign(job);
      const { rootSha256, bridgeDer } = this.bridge(gen);
      return { ...result, chainTailDer: [...material.intermediatesDer, ...bridgeDer], rootSha256 };
    } finally {
      const left = (this.inFlight.get(signer) ?? 1) - 1;
      this.inFlight.set(signer, left);
      if (left === 0 && this.retired.has(signer)) void this.closeRetired(signer);
    }
  }

  /**
   * Builds a signer for `material` and swaps it in once it passed its self-test. Refused (false, old key kept,
   * one log line) when the bundle lacks the new root or the self-test does not pass in time. Serialised.
   */
  switchTo(material: SigningMaterial): Promise<boolean> {
    this.switching = this.switching.then(() => this.doSwitch(material)).catch((e: unknown) => {
      this.opts.log.error({ code: 'signer_switch_failed', err: describe(e).message }, 'could not build a signer for the new signing key; keeping the current one');
      return false;
    });
    return this.switching;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribeHealth();
    await this.switching;
    await Promise.all([...this.retired].map((s) => s.close()));
    await this.gen.signer.close();
  }

  private follow(signer: Signer): () => void {
    return signer.health.subscribe((h) => this.health.set(h));
  }

  private async doSwitch(material: SigningMaterial): Promise<boolean> {
    if (this.closed) return false;
    const { log } = this.opts;
    const chain = chainOf(material);
    const from = describeCa(this.gen.material);
    const to = describeCa(material);
    try {
      assertBundleHoldsCaRoot(this.opts.bundle().roots, chain, this.opts.bundlePath);
    } catch (e) {
      log.warn({ code: describe(e).code, from, to, err: describe(e).message }, 'new signing certificate refused; keeping the current one');
      return false;
    }
    const signer = this.opts.build(material);
    await waitUntilReady(signer.health, this.opts.clock, this.opts.readyTimeoutMs ?? SWITCH_READY_TIMEOUT_MS);
    if (!signer.health.get().ready || this.closed) {
      if (!this.closed) log.error({ code: 'signer_switch_failed', from, to, why: signer.health.get().detail }, 'new signing key did not pass its self-test; keeping the current one');
      await signer.close();
      return false;
    }
    const old = this.gen.signer;
    this.unsubscribeHealth();
    this.gen = { material, signer, chain };
    this.unsubscribeHealth = this.follow(signer);
    this.retired.add(old);
    if ((this.inFlight.get(old) ?? 0) === 0) void this.closeRetired(old);
    log.info({ from, to, signer: signer.mode }, 'signing certificate switched: new certificates are issued under it');
    for (const l of [...this.listeners]) l(this.gen);
    return true;
  }

  private async closeRetired(signer: Signer): Promise<void> {
    if (!this.retired.delete(signer)) return;
    this.inFlight.delete(signer);
    await signer.close();
  }
}

/** The signing certificate as log lines name it: its SHA-256 and subject. */
function describeCa(m: SigningMaterial): { sha256: string; subject: string } {
  return { sha256: rootId(m.issuer.cert), subject: (m.issuer.cert.subject ?? '').replace(/\n/g, ', ') };
}
