// The kernel memory TCP sockets pin, read with `ss -tmn` (iproute2): for each socket its skmem, of which the receive
// queue (r), the send queue (w) and the memory reserved ahead (f) are charged to it. Filters are ss's own syntax.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SocketMemory {
  sockets: number;
  /** r + w + f over the matching sockets, in bytes. */
  bytes: number;
  /** The largest r + w + f of one socket. */
  largest: number;
  /** w alone: what waits in the send queues. */
  sendQueued: number;
}

/** Sums the skmem of the TCP sockets `filter` selects, e.g. "( sport = :8080 or dport = :9090 )". */
export async function socketMemory(filter: string): Promise<SocketMemory> {
  const { stdout } = await run('ss', ['-tmnH', 'state', 'all', filter]);
  const out: SocketMemory = { sockets: 0, bytes: 0, largest: 0, sendQueued: 0 };
  for (const m of stdout.matchAll(/skmem:\(([^)]*)\)/g)) {
    const fields = Object.fromEntries(m[1]!.split(',').map((kv) => [kv.replace(/\d+$/, ''), Number(/\d+$/.exec(kv)?.[0] ?? 0)]));
    const pinned = (fields.r ?? 0) + (fields.w ?? 0) + (fields.f ?? 0);
    out.sockets++;
    out.bytes += pinned;
    out.largest = Math.max(out.largest, pinned);
    out.sendQueued += fields.w ?? 0;
  }
  return out;
}
