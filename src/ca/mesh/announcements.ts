// The addresses transparent sidecars announce outside Kubernetes, turned into membership, kept in the CA state
// directory (mesh/announced/<sha256 of the ID>.json) so that a restarted CA, and replicas sharing the directory,
// agree. Invariants (docs/design.md "Mesh stream", membership rules):
// - A sidecar announces only addresses; the entry carries the ID the CA authenticated, so a false announcement
//   makes callers expect the announcer's ID there: a refusal, never plaintext.
// - An announced address stays meshed until the announcer's last certificate has expired, whether or not its
//   stream is up: each issuance for the ID extends the addresses its live streams announce. Membership never
//   flaps with a stream.
// - Per ID at most MAX_ADDRESSES_PER_ID addresses (those expiring last are kept).
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isIPv4 } from 'node:net';
import type { Clock, TimerHandle } from '../../common/clock.js';
import { describe } from '../../common/errors.js';
import { writeFileAtomic } from '../../common/files.js';
import type { Logger } from '../../common/logger.js';
import { isRoutableAddress } from '../../mesh/codec.js';
import type { MeshedDestination } from '../../mesh/destination.js';
import { parseSpiffeId } from '../../pki/spiffe-id.js';
import { MEMBERSHIP_PREFIXES, type MembershipWriter } from './membership-kind.js';

/** Where announcements live inside the CA state directory. */
export const ANNOUNCED_DIR = path.join('mesh', 'announced');
/** Addresses kept per announcing ID. */
export const MAX_ADDRESSES_PER_ID = 64;
/** How often a replica reads what the others wrote. */
export const ANNOUNCE_POLL_MS = 5_000;

/** One file: an ID and, per address, when it stops being meshed (epoch ms). */
interface AnnouncedFile {
  spiffeId: string;
  addresses: Record<string, number>;
}

const idHash = (id: string) => createHash('sha256').update(id).digest('hex');
const FILE_NAME = /^[0-9a-f]{64}\.json$/;

/** The membership entry of one announced address. */
export function announcedDestination(spiffeId: string, address: string): MeshedDestination {
  return {
    key: `${MEMBERSHIP_PREFIXES.announce}${idHash(spiffeId).slice(0, 16)}/${address}`,
    cidrs: [`${address}/${isIPv4(address) ? 32 : 128}`], ports: [], identities: [spiffeId],
  };
}

export interface AnnouncementsOptions {
  /** The CA state directory. */
  dir: string;
  writer: MembershipWriter;
  clock: Clock;
  log: Logger;
  pollMs?: number;
}

/** Announced addresses: in memory, in membership, and on disk. */
export class Announcements {
  private readonly byId = new Map<string, Map<string, number>>();
  private readonly root: string;
  private readonly seen = new Map<string, string>();
  private expiryTimer: TimerHandle | undefined;
  private pollTimer: TimerHandle | undefined;
  private writes = Promise.resolve();
  private closed = false;

  constructor(private readonly opts: AnnouncementsOptions) {
    this.root = path.join(opts.dir, ANNOUNCED_DIR);
  }

  /** Loads what the directory holds, publishes it, and starts expiring and reading the other replicas' writes. */
  async start(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
      // A read-only state directory (a mounted Secret) keeps announcements in memory: a restart loses them.
      this.opts.log.warn({ dir: this.root, err: e.code ?? e.message }, 'cannot keep announced addresses in the state directory; holding them in memory only');
    });
    await this.readOthers();
    this.publishAll();
    this.schedulePoll();
  }

  /** Addresses `spiffeId` announced on a stream whose certificate is valid until `notAfterMs`. */
  announce(spiffeId: string, addresses: readonly string[], notAfterMs: number): void {
    const held = this.byId.get(spiffeId) ?? new Map<string, number>();
    let changed = false;
    for (const a of addresses) {
      if ((held.get(a) ?? 0) < notAfterMs) {
        held.set(a, notAfterMs);
        changed = true;
      }
    }
    if (!changed) return;
    this.byId.set(spiffeId, bounded(held));
    this.publish(spiffeId);
    this.persist(spiffeId);
  }

  /** A certificate issued to `spiffeId` until `notAfterMs`: the addresses its live streams announce stay meshed that long. */
  extend(spiffeId: string, live: readonly string[], notAfterMs: number): void {
    if (live.length) this.announce(spiffeId, live, notAfterMs);
  }

  /** Resolves once the writes queued so far are done. */
  flushed(): Promise<void> {
    return this.writes;
  }

  /** Announced IDs and addresses now (for GET /mesh and tests). */
  snapshot(): { spiffeId: string; address: string; expiresAtMs: number }[] {
    return [...this.byId].flatMap(([spiffeId, m]) => [...m].map(([address, expiresAtMs]) => ({ spiffeId, address, expiresAtMs })));
  }

  close(): void {
    this.closed = true;
    this.expiryTimer?.cancel();
    this.pollTimer?.cancel();
  }

  /** Makes membership hold exactly the unexpired addresses of every ID, and arms the next expiry. */
  private publishAll(): void {
    const now = this.opts.clock.now();
    const list: MeshedDestination[] = [];
    for (const [id, m] of this.byId) {
      for (const [a, until] of m) if (until > now) list.push(announcedDestination(id, a));
    }
    this.opts.writer.replacePrefix(MEMBERSHIP_PREFIXES.announce, list);
    this.armExpiry();
  }

  private publish(spiffeId: string): void {
    const now = this.opts.clock.now();
    for (const [a, until] of this.byId.get(spiffeId) ?? []) {
      if (until > now) this.opts.writer.upsert(announcedDestination(spiffeId, a));
    }
    this.armExpiry();
  }

  private armExpiry(): void {
    this.expiryTimer?.cancel();
    if (this.closed) return;
    let next = Infinity;
    for (const m of this.byId.values()) for (const until of m.values()) next = Math.min(next, until);
    if (next === Infinity) return;
    this.expiryTimer = this.opts.clock.setTimeout(() => this.expire(), Math.max(0, next - this.opts.clock.now()));
  }

  private expire(): void {
    const now = this.opts.clock.now();
    for (const [id, m] of this.byId) {
      let changed = false;
      for (const [a, until] of m) {
        if (until > now) continue;
        m.delete(a);
        this.opts.writer.remove(announcedDestination(id, a).key);
        changed = true;
        this.opts.log.info({ spiffeId: id, address: a }, 'announced address no longer meshed: the last certificate of its ID has expired');
      }
      if (m.size === 0) this.byId.delete(id);
      if (changed) this.persist(id);
    }
    this.armExpiry();
  }

  /** Writes one ID's file, merged with what another replica may have written there first (the union, latest expiries). */
  private persist(spiffeId: string): void {
    const file = path.join(this.root, `${idHash(spiffeId)}.json`);
    this.writes = this.writes.then(async () => {
      const onDisk = await readAnnounced(file).catch(() => undefined);
      const m = this.byId.get(spiffeId) ?? new Map<string, number>();
      let merged = false;
      if (onDisk?.spiffeId === spiffeId) {
        for (const [a, until] of Object.entries(onDisk.addresses)) {
          if ((m.get(a) ?? 0) < until) {
            m.set(a, until);
            merged = true;
          }
        }
      }
      const now = this.opts.clock.now();
      for (const [a, until] of m) if (until <= now) m.delete(a);
      if (m.size === 0) {
        this.byId.delete(spiffeId);
        await fs.rm(file, { force: true });
      } else {
        this.byId.set(spiffeId, bounded(m));
        if (merged) this.publish(spiffeId);
        await writeFileAtomic(file, `${JSON.stringify({ spiffeId, addresses: Object.fromEntries(m) } satisfies AnnouncedFile)}\n`, 0o600);
      }
      this.seen.set(path.basename(file), await statKey(file));
    }).catch((e: unknown) => {
      this.opts.log.warn({ file, err: describe(e).message }, 'could not keep announced addresses in the state directory');
    });
  }

  /** Reads the files another replica changed, and merges them (union, latest expiry); the poll calls it. */
  async readOthers(): Promise<void> {
    const names = await fs.readdir(this.root).catch(() => [] as string[]);
    let changed = false;
    for (const name of names.filter((n) => FILE_NAME.test(n))) {
      const file = path.join(this.root, name);
      const key = await statKey(file);
      if (this.seen.get(name) === key) continue;
      this.seen.set(name, key);
      let f: AnnouncedFile;
      try {
        f = await readAnnounced(file);
      } catch (e) {
        this.opts.log.warn({ file, err: describe(e).message }, 'announced addresses file refused; ignoring it');
        continue;
      }
      const m = this.byId.get(f.spiffeId) ?? new Map<string, number>();
      for (const [a, until] of Object.entries(f.addresses)) {
        if ((m.get(a) ?? 0) < until) {
          m.set(a, until);
          changed = true;
        }
      }
      this.byId.set(f.spiffeId, bounded(m));
    }
    if (changed) this.publishAll();
  }

  private schedulePoll(): void {
    if (this.closed) return;
    this.pollTimer = this.opts.clock.setTimeout(() => {
      void this.readOthers().finally(() => this.schedulePoll());
    }, this.opts.pollMs ?? ANNOUNCE_POLL_MS);
  }
}

/** Keeps the addresses expiring last, at most MAX_ADDRESSES_PER_ID. */
function bounded(m: Map<string, number>): Map<string, number> {
  if (m.size <= MAX_ADDRESSES_PER_ID) return m;
  return new Map([...m].sort((a, b) => b[1] - a[1]).slice(0, MAX_ADDRESSES_PER_ID));
}

async function statKey(file: string): Promise<string> {
  const st = await fs.stat(file).catch(() => undefined);
  return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : 'missing';
}

/** Reads and checks one file; throws naming what is wrong. */
async function readAnnounced(file: string): Promise<AnnouncedFile> {
  const doc = JSON.parse(await fs.readFile(file, 'utf8')) as AnnouncedFile;
  if (typeof doc?.spiffeId !== 'string' || typeof doc.addresses !== 'object' || doc.addresses === null) throw new Error('not {spiffeId, addresses}');
  parseSpiffeId(doc.spiffeId);
  if (path.basename(file) !== `${idHash(doc.spiffeId)}.json`) throw new Error('file name is not the SHA-256 of its spiffeId');
  for (const [a, until] of Object.entries(doc.addresses)) {
    if (!isRoutableAddress(a) || typeof until !== 'number' || !Number.isFinite(until)) throw new Error(`addresses["${a.slice(0, 64)}"] is not a routable address with an expiry`);
  }
  return doc;
}
