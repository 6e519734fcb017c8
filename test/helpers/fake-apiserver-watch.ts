// The stand-in API server's watches: `?watch=1&resourceVersion=N` streams newline-delimited JSON events as the real
// one does: history after N replayed, then live changes; ADDED for everything first when N is absent or "0"; an
// ERROR event with a 410 Status when N is older than the retained history; BOOKMARKs when asked; selector
// transitions as ADDED/DELETED. Test hooks drop every open watch, send bookmarks or inject raw lines.
import type { ServerResponse } from 'node:http';
import { selects, type Change, type FakeStore, type Selection } from './fake-apiserver-store.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface OpenWatch {
  sel: Selection;
  res: ServerResponse;
  bookmarks: boolean;
  timer?: NodeJS.Timeout;
}

/** The event a watch with selection `sel` sees for change `c`, or undefined (the change is outside it). */
export function eventFor(sel: Selection, c: Change): { type: string; object: Obj } | undefined {
  if (c.info !== sel.info) return undefined;
  const now = c.type !== 'DELETED' && selects(sel, c.object);
  const before = c.old !== undefined && selects(sel, c.old);
  if (c.type === 'DELETED') return before ? { type: 'DELETED', object: c.object } : undefined;
  if (now && before) return { type: 'MODIFIED', object: c.object };
  if (now) return { type: 'ADDED', object: c.object };
  // Left the selection: the watch cache reports it as deleted, with the object as it now is.
  if (before) return { type: 'DELETED', object: c.object };
  return undefined;
}

/** Every open watch of the stand-in. */
export class WatchHub {
  private readonly open = new Set<OpenWatch>();

  constructor(private readonly store: FakeStore) {
    store.onChange((c) => {
      for (const w of this.open) {
        const ev = eventFor(w.sel, c);
        if (ev) write(w, ev);
      }
    });
  }

  get count(): number {
    return this.open.size;
  }

  /** Serves one watch request from resourceVersion `rv` (undefined or "0": current state first). */
  serve(res: ServerResponse, sel: Selection, rv: string | null, bookmarks: boolean, timeoutSeconds: number | undefined): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const w: OpenWatch = { sel, res, bookmarks };
    if (!rv || rv === '0') {
      for (const object of [...this.store.map(sel.info).values()].filter((o) => selects(sel, o))) write(w, { type: 'ADDED', object });
    } else {
      const from = Number(rv);
      if (!Number.isInteger(from) || from < this.store.compactedRevision) {
        write(w, {
          type: 'ERROR',
          object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Expired', code: 410, message: `too old resource version: ${rv} (${this.store.compactedRevision})` },
        });
        res.end();
        return;
      }
      for (const c of this.store.changesSince(from)) {
        const ev = eventFor(sel, c);
        if (ev) write(w, ev);
      }
    }
    this.open.add(w);
    if (timeoutSeconds) {
      w.timer = setTimeout(() => res.end(), timeoutSeconds * 1000);
      w.timer.unref();
    }
    res.on('close', () => {
      clearTimeout(w.timer);
      this.open.delete(w);
    });
  }

  /** Cuts every open watch's connection, as a restarting API server or a dropped load balancer would. */
  dropAll(): number {
    const n = this.open.size;
    for (const w of [...this.open]) w.res.socket?.destroy();
    this.open.clear();
    return n;
  }

  /** Sends a BOOKMARK at the current revision to each watch that allowed them. */
  bookmark(): void {
    for (const w of this.open) {
      if (w.bookmarks) {
        const i = w.sel.info;
        write(w, { type: 'BOOKMARK', object: { kind: i.kind, apiVersion: i.group ? `${i.group}/${i.version}` : i.version, metadata: { resourceVersion: String(this.store.revision) } } });
      }
    }
  }

  /** Writes `text` as is (a newline is added) to every open watch: malformed lines for the tests. */
  injectLine(text: string): void {
    for (const w of this.open) w.res.write(`${text}\n`);
  }

  closeAll(): void {
    for (const w of [...this.open]) w.res.end();
  }
}

function write(w: OpenWatch, ev: { type: string; object: Obj }): void {
  w.res.write(`${JSON.stringify(ev)}\n`);
}
