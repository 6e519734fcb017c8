// `ca serve --audit-log FILE`: one hash-chained record per issuance and refusal (audit-chain.ts), one file per process
// (held with flock), continued across restarts and size rotation (FILE → FILE.1); synchronous writes keep the order.
import { closeSync, fstatSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../../common/clock.js';
import { ConfigError } from '../../common/errors.js';
import { tryLockExclusive } from '../../common/file-lock.js';
import { LogThrottle } from '../../common/log-throttle.js';
import type { Logger } from '../../common/logger.js';
import { formatRecord, GENESIS, lineHash, parseRecord, splitLines, type AuditFields } from './audit-chain.js';

/** Default size at which the log moves to FILE.1 and a new FILE continues the chain. */
export const DEFAULT_AUDIT_MAX_BYTES = 64 * 1024 * 1024;
/** How much of the end of an existing log is read to continue its chain (far more than one line). */
const TAIL_BYTES = 64 * 1024;

/** What an issuance adds to the CA's stdout audit line: the record's place in the chain, a witness of the head. */
export interface Recorded {
  auditSeq: number;
  auditHash: string;
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
}

/** Reads the last line of an open file: its text, and whether the file ends with a newline. */
function lastLine(fd: number): { line: string | undefined; complete: boolean } {
  const size = fstatSync(fd).size;
  if (size === 0) return { line: undefined, complete: true };
  const len = Math.min(size, TAIL_BYTES);
  const buf = Buffer.alloc(len);
  readSync(fd, buf, 0, len, size - len);
  const text = buf.toString('utf8');
  const lines = splitLines(text);
  return { line: lines.at(-1), complete: text.endsWith('\n') };
}

/** The hash-chained issuance log of one CA process. */
export class IssuanceLog implements IssuanceRecorder {
  private fd: number;
  private size: number;
  private seq: number;
  private prev: string;
  private readonly throttles = new Map<string, LogThrottle>();
  private readonly errorThrottle: LogThrottle;

  private constructor(private readonly opts: IssuanceLogOptions, fd: number, size: number, seq: number, prev: string) {
    this.fd = fd;
    this.size = size;
    this.seq = seq;
    this.prev = prev;
    this.errorThrottle = new LogThrottle(opts.clock);
  }

  /** Opens (or creates, mode 0640) FILE, takes its lock and continues its chain; ConfigError naming the file. */
  static open(opts: IssuanceLogOptions): IssuanceLog {
    const { fd, seq, prev } = IssuanceLog.openChained(opts.file);
    const log = new IssuanceLog(opts, fd, fstatSync(fd).size, seq, prev);
    log.append({ event: 'opened' });
    return log;
  }

  private static openChained(file: string): { fd: number; seq: number; prev: string } {
    let fd: number;
    try {
      fd = openSync(file, 'a+', 0o640);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new ConfigError('audit_log_unwritable', `--audit-log ${file}: cannot open for appending (${code ?? (e as Error).message})`, { cause: e });
    }
    const lock = tryLockExclusive(fd);
    if (lock === 'busy') {
      closeSync(fd);
      throw new ConfigError('audit_log_locked', `--audit-log ${file} is written by another process; give each replica its own file (docs/ca.md "Issuance log")`);
    }
    const { line, complete } = lastLine(fd);
    if (line === undefined) return { fd, seq: 0, prev: GENESIS };
    // A line cut short by a crash stays as it is (the check reports it); the chain continues after it.
    if (!complete) writeSync(fd, '\n');
    const parsed = parseRecord(line);
    const seq = 'record' in parsed ? parsed.record.seq + 1 : lastParseableSeq(fd) + 2;
    return { fd, seq, prev: lineHash(line) };
  }

  issued(e: IssuedEntry): Recorded | undefined {
    return this.append({
      event: 'issued', spiffeId: e.spiffeId, serial: e.serial, notAfter: new Date(e.notAfterMs).toISOString(),
      ...(e.root ? { root: e.root } : {}), method: e.method, peer: e.peer, code: 'ok',
    });
  }

  /** Refusals are throttled per code (20 per 10 s, then a count), so a flood of bad calls cannot fill the disk. */
  refused(e: RefusedEntry): void {
    let t = this.throttles.get(e.code);
    if (!t) {
      if (this.throttles.size >= 256) this.throttles.clear();
      t = new LogThrottle(this.opts.clock);
      this.throttles.set(e.code, t);
    }
    const suppressed = t.admit();
    if (suppressed === undefined) return;
    this.append({
      event: 'refused', ...(e.spiffeId ? { spiffeId: e.spiffeId } : {}), ...(e.method ? { method: e.method } : {}), peer: e.peer, code: e.code,
      ...(suppressed ? { suppressed } : {}),
    });
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }

  private append(fields: AuditFields): Recorded | undefined {
    try {
      if (this.size > 0 && this.size >= (this.opts.maxBytes ?? DEFAULT_AUDIT_MAX_BYTES)) this.rotate();
      const line = formatRecord(this.seq, this.opts.clock.now(), fields, this.prev);
      const bytes = Buffer.from(`${line}\n`, 'utf8');
      writeSync(this.fd, bytes);
      this.size += bytes.length;
      const recorded = { auditSeq: this.seq, auditHash: lineHash(line) };
      this.seq++;
      this.prev = recorded.auditHash;
      return recorded;
    } catch (e) {
      const suppressed = this.errorThrottle.admit();
      if (suppressed !== undefined) {
        this.opts.log.error({ code: 'audit_log_write_failed', file: this.opts.file, err: (e as Error).message, ...(suppressed ? { suppressed } : {}) },
          'could not write the issuance log; the CA keeps serving and the stdout audit lines still record issuances');
      }
      return undefined;
    }
  }

  /** FILE becomes FILE.1 (replacing an older one); the new FILE starts with a log_rotated record that continues the chain. */
  private rotate(): void {
    const old = `${this.opts.file}.1`;
    renameSync(this.opts.file, old);
    const fd = openSync(this.opts.file, 'a+', 0o640);
    if (tryLockExclusive(fd) === 'busy') {
      closeSync(fd);
      throw new Error(`${this.opts.file} was taken by another process during rotation`);
    }
    closeSync(this.fd);
    this.fd = fd;
    this.size = 0;
    this.append({ event: 'log_rotated', previousFile: path.basename(old) });
  }
}

/** The seq of the last parseable line in the tail of the file (for a file whose very last line was cut short). */
function lastParseableSeq(fd: number): number {
  const size = fstatSync(fd).size;
  const len = Math.min(size, TAIL_BYTES);
  const buf = Buffer.alloc(len);
  readSync(fd, buf, 0, len, size - len);
  for (const l of splitLines(buf.toString('utf8')).reverse()) {
    const p = parseRecord(l);
    if ('record' in p) return p.record.seq;
  }
  return -1;
}
