// The issuance log's format and its check: one JSON record per line, each carrying its sequence number and the
// SHA-256 of the line before it, so that changing, removing or reordering a line breaks the chain. Pure.
import { createHash } from 'node:crypto';

/** The `prev` of the very first line of a log. */
export const GENESIS = '0'.repeat(64);

export type AuditEvent = 'opened' | 'issued' | 'refused' | 'log_rotated' | 'log_reopened';

/** The events that may begin a file by continuing the chain of another (a rotated, moved or deleted one). */
export const CONTINUATION_EVENTS: ReadonlySet<string> = new Set<AuditEvent>(['log_rotated', 'log_reopened']);

/** What one line holds. Never a token, a key, a CSR or a certificate: only the fields below. */
export interface AuditFields {
  event: AuditEvent;
  spiffeId?: string;
  serial?: string;
  notAfter?: string;
  /** SHA-256 hex of the root the certificate chains to. */
  root?: string;
  /** How the caller proved its identity: the attestor, `join_token`, `renewal` or `k8s_token`. */
  method?: string;
  peer?: string;
  /** `ok` for an issuance, the refusal code otherwise. */
  code?: string;
  /** Refusals with this code left out of the log since the last one written (a flood is throttled). */
  suppressed?: number;
  /** log_rotated: the file the chain continues from. */
  previousFile?: string;
  /** opened after a truncation (code audit_log_truncated): the last record the CA had written, by seq and SHA-256. */
  headSeq?: number;
  head?: string;
}

export interface AuditRecord extends AuditFields {
  seq: number;
  time: string;
  prev: string;
}

const FIELD_ORDER: readonly (keyof AuditFields)[] = ['event', 'spiffeId', 'serial', 'notAfter', 'root', 'method', 'peer', 'code', 'suppressed', 'previousFile', 'headSeq', 'head'];

/** SHA-256 hex of one line as written (without its newline). */
export function lineHash(line: string): string {
  return createHash('sha256').update(line, 'utf8').digest('hex');
}

/** One line: seq and time first, the whitelisted fields in a fixed order, prev last. */
export function formatRecord(seq: number, timeMs: number, fields: AuditFields, prev: string): string {
  const rec: Record<string, unknown> = { seq, time: new Date(timeMs).toISOString() };
  for (const k of FIELD_ORDER) if (fields[k] !== undefined) rec[k] = fields[k];
  rec.prev = prev;
  return JSON.stringify(rec);
}

/** Parses one line; undefined with a reason when it is not a record. */
export function parseRecord(line: string): { record: AuditRecord } | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { error: 'not valid JSON' };
  }
  const r = v as Partial<AuditRecord> | null;
  if (!r || typeof r !== 'object' || Array.isArray(r)) return { error: 'not a JSON object' };
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 0) return { error: 'no valid "seq"' };
  if (typeof r.prev !== 'string' || !/^[0-9a-f]{64}$/.test(r.prev)) return { error: 'no valid "prev" hash' };
  if (typeof r.event !== 'string' || typeof r.time !== 'string') return { error: 'no "event" or "time"' };
  return { record: r as AuditRecord };
}

/** What the end of a log file holds, as the writer reads it before continuing the chain. */
export interface Tail {
  /** The last line that ends with a newline, or that lacks only its newline but is a whole record. */
  lastLine: string | undefined;
  /** Bytes at the very end that are an unfinished line (a write cut short): to be cut off. */
  cut: number;
  /** The last line is a whole record missing only its newline (the write stopped just before it). */
  needsNewline: boolean;
}

/**
 * Reads the end of a log file: `tail` is its last bytes, `whole` says whether they are the whole file. Works on bytes
 * (a newline byte never occurs inside a UTF-8 sequence), so a cut inside a character is still found. Pure.
 */
export function readTail(tail: Buffer, whole: boolean): Tail {
  const end = tail.lastIndexOf(0x0a);
  const after = tail.subarray(end + 1);
  if (after.length > 0 && (end >= 0 || whole)) {
    const text = after.toString('utf8');
    if ('record' in parseRecord(text) && Buffer.byteLength(text, 'utf8') === after.length) return { lastLine: text, cut: 0, needsNewline: true };
  }
  if (end < 0) {
    // No newline in view: the whole file is one unfinished line, or a line longer than any record (not ours).
    return whole ? { lastLine: undefined, cut: after.length, needsNewline: false } : { lastLine: undefined, cut: 0, needsNewline: false };
  }
  // (lastIndexOf with a negative offset counts from the end: a file that starts with its newline has no line before.)
  const start = end === 0 ? -1 : tail.lastIndexOf(0x0a, end - 1);
  if (start < 0 && !whole) return { lastLine: undefined, cut: after.length, needsNewline: false };
  return { lastLine: tail.subarray(start + 1, end).toString('utf8'), cut: after.length, needsNewline: false };
}

/** The lines of one file's text; a last line without its newline (a write cut short) still counts. */
export function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

export interface VerifiedEntry { file: string; line: number; record: AuditRecord }

export type VerifyResult =
  | { ok: true; lines: number; head: string; entries: VerifiedEntry[]; continues: boolean }
  | { ok: false; file: string; line: number; problem: 'altered' | 'removed' | 'reordered'; message: string };

interface Entry { file: string; line: number; raw: string; record?: AuditRecord; error?: string }

const seqRange = (from: number, to: number) => (to > from ? `seq ${from}–${to}` : `seq ${from}`);

/**
 * Checks the chain across `files` (in order: an older rotated file first) and names the first line altered, removed
 * or reordered. A log may begin with a `log_rotated` or `log_reopened` record (it continues a file not given). `head`, when known
 * (the last `auditHash` the CA wrote to stdout), also protects the last line, which no later line vouches for.
 */
export function verifyAuditLog(files: readonly { name: string; text: string }[], opts: { head?: string } = {}): VerifyResult {
  const entries: Entry[] = files.flatMap((f) => splitLines(f.text).map((raw, i) => {
    const parsed = parseRecord(raw);
    return { file: f.name, line: i + 1, raw, ...('record' in parsed ? { record: parsed.record } : { error: parsed.error }) };
  }));
  const fail = (e: Entry, problem: 'altered' | 'removed' | 'reordered', what: string): VerifyResult =>
    ({ ok: false, file: e.file, line: e.line, problem, message: `${e.file}: line ${e.line} ${what}` });
  const continues = CONTINUATION_EVENTS.has(entries[0]?.record?.event ?? '');
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (!e.record) return fail(e, 'altered', `was altered: ${e.error}`);
    const p = i > 0 ? entries[i - 1]! : undefined;
    const expectedSeq = p ? p.record!.seq + 1 : continues ? e.record.seq : 0;
    const linkOk = p ? e.record.prev === lineHash(p.raw) : continues || e.record.prev === GENESIS;
    const seqOk = e.record.seq === expectedSeq;
    if (linkOk && seqOk) continue;
    if (linkOk && e.record.seq > expectedSeq && e.record.code === 'audit_log_truncated') {
      // The writer found records gone at its start and went on after the last line left, with the seq after the head.
      return fail(e, 'removed', `was removed: ${seqRange(expectedSeq, e.record.seq - 1)} ${p ? `should follow line ${p.line}` : 'should start the log'} but is missing (the CA found them gone at its start: audit_log_truncated)`);
    }
    if (linkOk) return fail(e, 'altered', `was altered: it holds seq ${e.record.seq} where seq ${expectedSeq} belongs`);
    if (seqOk) {
      if (!p) return fail(e, 'altered', 'was altered: the first line does not start the chain');
      // Either the line before changed, or this line's own prev did (then the next link breaks too).
      const next = entries[i + 1];
      if (!next || next.record?.prev === lineHash(e.raw)) return fail(p, 'altered', `was altered: its SHA-256 no longer matches the "prev" of line ${e.line}`);
      return fail(e, 'altered', 'was altered: its "prev" matches no line before it');
    }
    const later = entries.slice(i + 1).find((x) => x.record?.seq === expectedSeq);
    if (later) return fail(e, 'reordered', `is out of order: it holds seq ${e.record.seq} where seq ${expectedSeq} belongs (that record is at ${later.file === e.file ? '' : `${later.file}: `}line ${later.line})`);
    if (e.record.seq > expectedSeq) {
      return fail(e, 'removed', `was removed: ${seqRange(expectedSeq, e.record.seq - 1)} ${p ? `should follow line ${p.line}` : 'should start the log'} but is missing`);
    }
    return fail(e, 'reordered', `is out of order: seq ${e.record.seq} follows seq ${p ? p.record!.seq : '-'}`);
  }
  const last = entries.at(-1);
  const head = last ? lineHash(last.raw) : GENESIS;
  if (opts.head !== undefined && last && head !== opts.head.toLowerCase()) {
    return fail(last, 'altered', 'was altered, or lines after it were removed: its SHA-256 is not the expected head');
  }
  return { ok: true, lines: entries.length, head, continues, entries: entries.map((x) => ({ file: x.file, line: x.line, record: x.record! })) };
}
