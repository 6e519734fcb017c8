// The membership a transparent sidecar holds (docs/design.md "Mesh stream"): the consumer of the membership kind, the
// view the outbound's decision reads per connection, the readiness part "mesh-membership", and the copy kept in
// identity.stateDir. Invariants:
// - Until the first membership (from the CA, or kept from a previous run) the sidecar is not ready, and the view is
//   `awaiting`: every destination gets mTLS.
// - An update is checked whole before it is applied; a refused one is NACKed and the set stays as it was. An outage
//   changes nothing: the last membership stays in force.
// - A CA without the mesh stream makes the view `unsupported` (every destination mTLS, as before membership existed).
import path from 'node:path';
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import type { Readiness } from '../../common/readiness.js';
import type { MeshUpdate, Refusal } from '../../mesh/codec.js';
import { MESH_KINDS } from '../../mesh/kinds.js';
import { MembershipSet } from '../../mesh/membership-set.js';
import type { MembershipView } from '../../mesh/outbound-decision.js';
import type { MeshConsumer } from '../../identity/mesh-client.js';
import { readKeptUpdate, writeKeptUpdate } from './kept-update.js';

/** The file in identity.stateDir. */
export const MEMBERSHIP_FILE = 'membership.json';
/** Writes of the file are coalesced over this long (a burst of deltas is one write). */
export const MEMBERSHIP_SAVE_DELAY_MS = 2_000;
/** The readiness part held until the first membership. */
export const MEMBERSHIP_READINESS = 'mesh-membership';

/** Where the membership in force came from. */
export type MembershipSource = 'ca' | 'state-dir';

/** /status `mesh.membership`. */
export interface MembershipStatus {
  state: MembershipView['state'];
  source: MembershipSource | null;
  version: string | null;
  entries: number;
  receivedAtMs: number | null;
  lastRefusal: (Refusal & { atMs: number }) | null;
}

export interface SidecarMembershipOptions {
  clock: Clock;
  log: Logger;
  readiness: Readiness;
  /** identity.stateDir: the membership is kept there across restarts. */
  stateDir?: string;
  /** Told after every change (metrics). */
  onChange?: (entries: number) => void;
}

/** The sidecar's membership. */
export class SidecarMembership implements MeshConsumer {
  readonly kind = MESH_KINDS.membership;
  private readonly set = new MembershipSet();
  private state: MembershipView['state'] = 'awaiting';
  private source: MembershipSource | null = null;
  private receivedAtMs: number | null = null;
  private lastRefusal: MembershipStatus['lastRefusal'] = null;
  private readonly task: { ready(): void; notReady(): void };
  private saveTimer: TimerHandle | undefined;
  private saving = Promise.resolve();
  private readonly log: Logger;

  constructor(private readonly opts: SidecarMembershipOptions) {
    this.log = opts.log.child({ component: 'membership' });
    this.task = opts.readiness.register(MEMBERSHIP_READINESS);
  }

  /** Loads the membership kept in the state directory, if any: the sidecar is ready with it through a CA outage. */
  async restore(): Promise<void> {
    if (!this.opts.stateDir) return;
    const file = path.join(this.opts.stateDir, MEMBERSHIP_FILE);
    const kept = await readKeptUpdate(file, MESH_KINDS.membership, this.log, 'membership');
    if (kept?.kind !== MESH_KINDS.membership) return;
    this.set.apply(kept);
    this.known('state-dir');
    this.log.info({ file, version: this.set.version, entries: this.set.size }, 'membership restored from the state directory; in force until the CA sends one');
  }

  apply(u: MeshUpdate): Refusal | undefined {
    if (u.kind !== MESH_KINDS.membership) return { code: 'unknown_kind', detail: u.kind };
    const refusal = this.set.check(u);
    if (refusal) {
      this.lastRefusal = { ...refusal, atMs: this.opts.clock.now() };
      return refusal;
    }
    this.set.apply(u);
    this.known('ca');
    this.scheduleSave();
    this.log.debug({ version: u.version, base: u.base || null, upserts: u.upsert.length, removals: u.remove.length, entries: this.set.size }, 'membership updated');
    return undefined;
  }

  unsupported(yes: boolean): void {
    if (yes) {
      this.state = 'unsupported';
      this.task.ready();
      this.log.warn('the CA serves no membership: every destination gets mTLS, as without membership');
    } else if (this.state === 'unsupported') {
      this.state = this.source ? 'known' : 'awaiting';
      if (!this.source) this.task.notReady();
    }
  }

  /** What the outbound's decision reads for one destination. */
  view(address: string, port: number): MembershipView {
    if (this.state !== 'known') return { state: this.state };
    return { state: 'known', match: this.set.match(address, port) };
  }

  status(): MembershipStatus {
    return {
      state: this.state, source: this.source, version: this.set.version || null, entries: this.set.size,
      receivedAtMs: this.receivedAtMs, lastRefusal: this.lastRefusal,
    };
  }

  /** Writes a pending change now and waits for the writes in progress. */
  async close(): Promise<void> {
    if (this.saveTimer) {
      this.saveTimer.cancel();
      this.saveTimer = undefined;
      this.save();
    }
    await this.saving;
  }

  private known(source: MembershipSource): void {
    if (this.state !== 'unsupported') this.state = 'known';
    this.source = source;
    this.receivedAtMs = this.opts.clock.now();
    this.task.ready();
    this.opts.onChange?.(this.set.size);
  }

  private scheduleSave(): void {
    const dir = this.opts.stateDir;
    if (!dir || this.saveTimer) return;
    this.saveTimer = this.opts.clock.setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, MEMBERSHIP_SAVE_DELAY_MS);
  }

  private save(): void {
    const file = path.join(this.opts.stateDir!, MEMBERSHIP_FILE);
    const snapshot: MeshUpdate = { kind: MESH_KINDS.membership, version: this.set.version, base: '', upsert: [...this.set.destinations()], remove: [] };
    this.saving = writeKeptUpdate(file, snapshot, this.saving, this.log, 'membership');
  }
}
