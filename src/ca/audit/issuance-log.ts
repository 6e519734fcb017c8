// `ca serve --audit-log FILE`: one hash-chained record per issuance and refusal (audit-chain.ts), one file per process
// (held with flock), continued across restarts, size rotation (FILE → FILE.1) and a FILE moved or deleted under it.
//
// Invariants: records are written synchronously, whole or not at all (audit-file.ts), so `seq` advances only past a
// record that is in the file; every record's hash reaches stdout (issuances in their `issued` line, every other
// record through `witness`), so `ca audit verify --head` covers them all; FILE.head names the last record written
// (audit-head.ts), and a log that no longer ends with it is reported at start and the loss recorded in the chain.
import { renameSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../../common/clock.js';
import { AuditLogError, ConfigError, describe, ZtmeshError } from '../../common/errors.js';
import { KeyedLogThrottle, LogThrottle } from '../../common/log-throttle.js';
import type { Logger } from '../../common/logger.js';
import { formatRecord, lineHash, parseRecord, splitLines, type AuditEvent, type AuditFields } from './audit-chain.js';
import { AuditFile, readTailOf } from './audit-file.js';
import { AuditHead, resumeChain, type Resume } from './audit-head.js';

/** Default size at which the log moves to FILE.1 and a new FILE continues the chain. */
export const DEFAULT_AUDIT_MAX_BYTES = 64 * 1024 * 1024;
/** At most one error line about the log (a failing write, a reopened file) per window: the docs promise one per 10 s. */
export const AUDIT_TROUBLE_LOG = { max: 1, windowMs: 10_000 } as const;

/** What an issuance adds to the CA's stdout audit line: the record's place in the chain, a witness of the head. */
export interface Recorded {
  auditSeq: number;
  auditHash: string;
}

/** The stdout witness of a record that is not an issuance. */
export interface Witnessed extends Recorded {
  event: AuditEvent;
  code?: string;
}

export interface IssuedEntry { spiffeId: string; serial: string; notAfterMs: number; root: string | undefined; method: string; peer: string }
export interface RefusedEntry { peer: string; code: string; spiffeId?: string | undefined; method?: string | undefined }

/** Where the service records issuances and refusals (an interface so tests and other sinks can stand in). */
export interface IssuanceRecorder {
  issued(e: IssuedEntry): Recorded | undefined;
  refused(e: RefusedEntry): void;
}

export interface IssuanceLogOptions {
  file: string;
  maxBytes?: number;
  clock: Clock;
  log: Logger;
  /** Told the place of every record written that is not an issuance (those go back to the caller). */
  witness?: (w: Witnessed) => void;
  /** Told of every record that could not be written. */
  onLost?: (event: AuditEvent) => void;
}

/** The file FILE.head of a log FILE. */
export const headFileOf = (file: string) => `${file}.head`;

/** The hash-chained issuance log of one CA process. */
export class IssuanceLog implements IssuanceRecorder {
  /** A record the current file must begin with before any other (it continues the chain of the file before). */
  private pendingStart: AuditFields | undefined;
  private readonly refusals: KeyedLogThrottle;
  private readonly trouble: LogThrottle;

  private constructor(
    private readonly opts: IssuanceLogOptions,
    private file: AuditFile,
    private readonly head: AuditHead | undefined,
    private seq: number,
    private prev: string,
  ) {
    this.refusals = new KeyedLogThrottle(opts.clock);
    this.trouble = new LogThrottle(opts.clock, AUDIT_TROUBLE_LOG.max, AUDIT_TROUBLE_LOG.windowMs);
  }

  /**
   * Opens (or creates, mode 0640) FILE, refusing a symbolic link or a file another user owns, takes its lock, cuts
   * an unfinished last line, and continues its chain; ConfigError naming the file. A log that lost records since
   * this CA last wrote it (FILE.head) is reported loudly and the loss is recorded in its `opened` line.
   */
  static open(opts: IssuanceLogOptions): IssuanceLog {
    const file = AuditFile.open(opts.file);
    let head: AuditHead | undefined;
    try {
      head = AuditHead.open(headFileOf(opts.file));
    } catch (e) {
      if (e instanceof ZtmeshError && e.code !== 'audit_log_unwritable') {
        file.close();
        throw e;
      }
      opts.log.warn({ code: 'audit_head_unwritable', file: headFileOf(opts.file), err: describe(e).message },
        'cannot keep the issuance log\'s head file; a truncated log will not be noticed at the next start');
    }
    const tail = file.tail();
    if (tail.cut > 0) {
      opts.log.warn({ code: 'audit_log_unfinished_line', file: opts.file, bytes: tail.cut }, 'the issuance log ended with an unfinished line (a write cut short); it was cut off');
    }
    try {
      file.repairTail(tail);
    } catch (e) {
      file.close();
      head?.close();
      throw new ConfigError('audit_log_unwritable', `--audit-log ${opts.file}: cannot cut its unfinished last line (${describe(e).message})`, { cause: e });
    }
    let resume = resumeChain(tail.lastLine, lastSeqOf(tail.lastLine, file), head?.previous);
    const starts: AuditFields[] = [];
    // Stopped between moving FILE to FILE.1 and continuing the chain in FILE: continue it now.
    const rotated = tail.lastLine === undefined && head?.previous ? readTailOf(`${opts.file}.1`) : undefined;
    if (rotated?.lastLine !== undefined) {
      const r = resumeChain(rotated.lastLine, lastSeqOf(rotated.lastLine), head!.previous);
      if (!r.truncated) {
        resume = r;
        starts.push({ event: 'log_rotated', previousFile: `${path.basename(opts.file)}.1` });
      }
    }
    starts.push(openedRecord(opts, resume));
    const log = new IssuanceLog(opts, file, head, resume.seq, resume.prev);
    for (const s of starts) log.append(s);
    return log;
  }

  issued(e: IssuedEntry): Recorded | undefined {
    return this.append({
      event: 'issued', spiffeId: e.spiffeId, serial: e.serial, notAfter: new Date(e.notAfterMs).toISOString(),
      ...(e.root ? { root: e.root } : {}), method: e.method, peer: e.peer, code: 'ok',
    });
  }

  /** Refusals are throttled per code (20 per 10 s, then a count), so a flood of bad calls cannot fill the disk. */
  refused(e: RefusedEntry): void {
    const suppressed = this.refusals.admit(e.code);
    if (suppressed === undefined) return;
    this.append({
      event: 'refused', ...(e.spiffeId ? { spiffeId: e.spiffeId } : {}), ...(e.method ? { method: e.method } : {}), peer: e.peer, code: e.code,
      ...(suppressed ? { suppressed } : {}),
    });
  }

  close(): void {
    this.file.close();
    this.head?.close();
  }

  private append(fields: AuditFields): Recorded | undefined {
    try {
      this.follow();
      if (this.pendingStart) {
        this.write(this.pendingStart);
        this.pendingStart = undefined;
      }
      return this.write(fields);
    } catch (e) {
      this.opts.onLost?.(fields.event);
      const { code, message } = describe(e);
      this.report(code === 'internal' ? 'audit_log_write_failed' : code, { event: fields.event, seq: this.seq, err: message },
        'could not write the issuance log; the record is lost (its seq is not used), the CA keeps serving, and the stdout audit lines still record issuances');
      return undefined;
    }
  }

  /** Writes one record whole, retrying once a write cut short; the chain advances only after it is in the file. */
  private write(fields: AuditFields): Recorded {
    const line = formatRecord(this.seq, this.opts.clock.now(), fields, this.prev);
    const bytes = Buffer.from(`${line}\n`, 'utf8');
    try {
      this.file.append(bytes);
    } catch (e) {
      if (!(e instanceof AuditLogError && e.code === 'audit_log_short_write')) throw e;
      this.file.append(bytes);
    }
    const recorded = { auditSeq: this.seq, auditHash: lineHash(line) };
    this.seq++;
    this.prev = recorded.auditHash;
    try {
      this.head?.write({ seq: recorded.auditSeq, hash: recorded.auditHash });
    } catch (e) {
      this.report('audit_head_write_failed', { file: this.head!.path, err: describe(e).message }, 'could not update the issuance log\'s head file');
    }
    if (fields.event !== 'issued') this.opts.witness?.({ event: fields.event, ...(fields.code ? { code: fields.code } : {}), ...recorded });
    return recorded;
  }

  /** Before a write: a new FILE when ours was moved or deleted, FILE.1 at the size limit. */
  private follow(): void {
    const where = this.file.whereabouts();
    if (where !== 'here') {
      const code = where === 'deleted' ? 'audit_log_deleted' : 'audit_log_moved';
      this.startNewFile({ event: 'log_reopened', code });
      this.report(code, {}, `the issuance log was ${where} while the CA wrote it; a new ${path.basename(this.opts.file)} continues the chain`);
      return;
    }
    if (this.file.currentSize() > 0 && this.file.currentSize() >= (this.opts.maxBytes ?? DEFAULT_AUDIT_MAX_BYTES)) {
      renameSync(this.opts.file, `${this.opts.file}.1`);
      this.startNewFile({ event: 'log_rotated', previousFile: `${path.basename(this.opts.file)}.1` });
    }
  }

  /** Opens a new FILE whose first record (`start`) continues the chain; a file already there is appended to, never cut. */
  private startNewFile(start: AuditFields): void {
    const next = AuditFile.open(this.opts.file);
    const t = next.tail();
    if (t.lastLine !== undefined || t.cut > 0) {
      this.report('audit_log_replaced', {}, `another file took the issuance log's place; the chain goes on after its content`);
      next.endLastLine(t);
    }
    this.file.close();
    this.file = next;
    this.pendingStart = start;
  }

  /** One error line per AUDIT_TROUBLE_LOG window, with the count of those left out; the metric counts every loss. */
  private report(code: string, fields: Record<string, unknown>, msg: string): void {
    const suppressed = this.trouble.admit();
    if (suppressed === undefined) return;
    this.opts.log.error({ code, file: this.opts.file, ...fields, ...(suppressed ? { suppressed } : {}) }, msg);
  }
}

/** The `opened` record, noting a loss found at start (reported loudly here: the CA goes on, see docs/ca.md). */
function openedRecord(opts: IssuanceLogOptions, resume: Resume): AuditFields {
  if (!resume.truncated) return { event: 'opened' };
  const { headSeq, head, found } = resume.truncated;
  opts.log.error({ code: 'audit_log_truncated', file: opts.file, headSeq, head, found },
    `the issuance log does not end with the last record this CA wrote (seq ${headSeq}); it ends with ${found}: records were removed or lost. The chain goes on from seq ${resume.seq}, and "ztmesh ca audit verify" names the gap`);
  return { event: 'opened', code: 'audit_log_truncated', headSeq, head };
}

/** The seq the last line holds, or (a line that is not a record) the one after the last record before it. */
function lastSeqOf(lastLine: string | undefined, file?: AuditFile): number | undefined {
  if (lastLine === undefined) return undefined;
  const parsed = parseRecord(lastLine);
  if ('record' in parsed) return parsed.record.seq;
  const before = file ? splitLines(file.tailText()).reverse().map(parseRecord).find((p) => 'record' in p) : undefined;
  return before && 'record' in before ? before.record.seq + 1 : 0;
}
