// Rebuilds a replica's fleet view (issued-ids.ts) at start from what it keeps: its issuance log (--audit-log), FILE.1
// then FILE, replayed in order. So `ztmesh ca status` after a restart lists every ID issued within the max TTL.
//
// Invariants: streamed line by line (the log may be 2 × --audit-log-max-size), memory bounded by the view's own cap;
// only `issued` records within the window are replayed; a line that does not parse is skipped (the view is an
// operator's aid, `ztmesh ca audit verify` is the check of the chain); a missing file is an empty history.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseRecord } from './audit-chain.js';
import type { IssuedIdentities, RebuiltFrom } from './issued-ids.js';

/** What is replayed from one `issued` record. */
interface IssuedRecord { spiffeId: string; serial: string; notAfterMs: number; method: string; peer: string; atMs: number }

/** The `issued` records of `file`, in order; nothing when it does not exist. */
async function* issuedRecords(file: string): AsyncGenerator<IssuedRecord> {
  const input = createReadStream(file, { encoding: 'utf8' });
  const opened = await new Promise<boolean>((resolve, reject) => {
    input.once('ready', () => resolve(true));
    input.once('error', (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? resolve(false) : reject(e)));
  });
  if (!opened) return;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    // Most lines are refusals and markers: skip them before parsing.
    if (!line.includes('"event":"issued"')) continue;
    const p = parseRecord(line);
    if (!('record' in p)) continue;
    const r = p.record;
    const atMs = Date.parse(r.time);
    const notAfterMs = Date.parse(r.notAfter ?? '');
    if (!r.spiffeId || !r.serial || Number.isNaN(atMs) || Number.isNaN(notAfterMs)) continue;
    yield { spiffeId: r.spiffeId, serial: r.serial, notAfterMs, method: r.method ?? 'unknown', peer: r.peer ?? 'unknown', atMs };
  }
}

/**
 * Replays the issuance log `file` (FILE.1 first, when size rotation left one) into `ids`: the records issued within
 * `windowMs` before `nowMs`. Records the result on the view, and returns it.
 */
export async function rebuildFromIssuanceLog(file: string, ids: IssuedIdentities, nowMs: number, windowMs: number): Promise<RebuiltFrom> {
  let records = 0;
  for (const name of [`${file}.1`, file]) {
    for await (const r of issuedRecords(name)) {
      if (r.atMs < nowMs - windowMs) continue;
      ids.record(r);
      records++;
    }
  }
  const from: RebuiltFrom = { auditLog: file, records, identities: ids.size };
  ids.rebuilt(from);
  return from;
}
