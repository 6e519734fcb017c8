// FILE.head next to the issuance log: the seq and SHA-256 of the last record the CA wrote, overwritten in place after
// every record, so that a restart can tell whether the log lost records at its end (truncated, replaced, deleted).
//
// Invariants: the file is one fixed-width line, rewritten at offset 0 (never grown, so a full disk cannot cut it);
// it is written only after the record it names is whole in the log. resumeChain() is the pure decision at start.
import { closeSync, readSync, writeSync } from 'node:fs';
import { GENESIS, lineHash, parseRecord, type AuditRecord } from './audit-chain.js';
import { openOwnedFile } from './audit-file.js';

/** The last record written, as FILE.head holds it. */
export interface Head {
  seq: number;
  hash: string;
}

const HEAD_LINE = /^([0-9a-f]{64}) (\d{16})\n$/;
const SEQ_DIGITS = 16;
const HEAD_BYTES = 64 + 1 + SEQ_DIGITS + 1;

/** FILE.head's text for `head` (fixed width). */
export function formatHead(head: Head): string {
  return `${head.hash} ${String(head.seq).padStart(SEQ_DIGITS, '0')}\n`;
}

/** Parses FILE.head's text; undefined when it holds no head (new, empty or damaged). */
export function parseHead(text: string): Head | undefined {
  const m = HEAD_LINE.exec(text);
  return m ? { hash: m[1]!, seq: Number(m[2]) } : undefined;
}

/** How the writer continues a log at start. */
export interface Resume {
  seq: number;
  prev: string;
  /** The log does not end with the last record the CA wrote: records were removed, replaced or lost. */
  truncated?: { headSeq: number; head: string; found: string };
}

/**
 * Where the chain goes on, from the log's last line (or none) and the head the CA last recorded (or none). Pure.
 * - No head: continue after the last line (a log from before FILE.head, or a new one).
 * - The last line is the head, or the one after it (the CA stopped between the two writes): continue after it.
 * - Anything else: the log lost records. The chain continues after the last line (so the link holds) but with the
 *   seq after the head, so that `ca audit verify` names the gap, and the caller records and reports it.
 */
export function resumeChain(lastLine: string | undefined, lastSeq: number | undefined, head: Head | undefined): Resume {
  const prev = lastLine === undefined ? GENESIS : lineHash(lastLine);
  const next = lastSeq === undefined ? (lastLine === undefined ? 0 : undefined) : lastSeq + 1;
  if (!head) return { seq: next ?? 0, prev };
  const parsed = lastLine === undefined ? undefined : parseRecord(lastLine);
  const last: AuditRecord | undefined = parsed && 'record' in parsed ? parsed.record : undefined;
  if (last && last.seq === head.seq && prev === head.hash) return { seq: head.seq + 1, prev };
  if (last && last.seq === head.seq + 1 && last.prev === head.hash) return { seq: last.seq + 1, prev };
  const found = lastLine === undefined ? 'no record' : last ? `seq ${last.seq} (sha256 ${prev.slice(0, 16)}…)` : 'a line that is not a record';
  return { seq: Math.max(head.seq + 1, next ?? 0), prev, truncated: { headSeq: head.seq, head: head.hash, found } };
}

/** FILE.head, open for the life of the log. */
export class AuditHead {
  private constructor(private readonly fd: number, readonly path: string, readonly previous: Head | undefined) {}

  /** Opens (or creates) FILE.head with the log's safeguards, and reads the head it holds. */
  static open(file: string): AuditHead {
    const { fd } = openOwnedFile(file, '--audit-log', false);
    const buf = Buffer.alloc(HEAD_BYTES + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return new AuditHead(fd, file, parseHead(buf.subarray(0, n).toString('utf8')));
  }

  /** Records `head` in place; throws when the write fails. */
  write(head: Head): void {
    const bytes = Buffer.from(formatHead(head), 'utf8');
    const n = writeSync(this.fd, bytes, 0, bytes.length, 0);
    if (n !== bytes.length) throw new Error(`${this.path}: only ${n} of ${bytes.length} bytes written`);
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}
