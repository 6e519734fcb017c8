// One file of the issuance log as the CA holds it: opened without following a symbolic link and only when the CA's
// user owns it, locked, its unfinished last line cut off, and appended to one whole line at a time.
//
// Invariants: after append() returns, the file ends with the whole line; after it throws, the file is as it was
// before (a short or failed write is cut back, or the cut is retried before the next append). The descriptor is
// never used to write a file that is no longer at the path: whereabouts() says when it was moved or deleted.
import { closeSync, constants, fstatSync, ftruncateSync, lstatSync, openSync, readSync, writeSync, type Stats } from 'node:fs';
import { AuditLogError, ConfigError } from '../../common/errors.js';
import { tryLockExclusive } from '../../common/file-lock.js';
import { readTail, type Tail } from './audit-chain.js';

/** How much of the end of an existing log is read to continue its chain (far more than one line). */
export const TAIL_BYTES = 64 * 1024;
/** Mode of the files the CA creates: the CA writes, its group (a log shipper) reads. */
export const AUDIT_FILE_MODE = 0o640;

/** Where the file the descriptor writes is now, compared with the path it was opened at. */
export type Whereabouts = 'here' | 'moved' | 'deleted';

const euid = () => (typeof process.geteuid === 'function' ? process.geteuid() : undefined);

/**
 * Opens `file` for reading and appending (created with AUDIT_FILE_MODE), refusing a symbolic link, anything but a
 * regular file, and a file another user owns: ConfigError naming `flag` and the file. The caller closes the fd.
 */
export function openOwnedFile(file: string, flag: string, append: boolean): { fd: number; stat: Stats } {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | (append ? constants.O_APPEND : 0), AUDIT_FILE_MODE);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new ConfigError('audit_log_symlink', `${flag} ${file} is a symbolic link; give the file itself (the log is never written through a link)`, { cause: e });
    throw new ConfigError('audit_log_unwritable', `${flag} ${file}: cannot open for appending (${code ?? (e as Error).message})`, { cause: e });
  }
  const stat = fstatSync(fd);
  const uid = euid();
  const refuse = (code: string, why: string): never => {
    closeSync(fd);
    throw new ConfigError(code, `${flag} ${file} ${why}`);
  };
  if (!stat.isFile()) refuse('audit_log_not_a_file', 'is not a regular file');
  if (uid !== undefined && stat.uid !== uid) refuse('audit_log_not_owned', `is owned by uid ${stat.uid}, not by the CA's user (uid ${uid}); another user could rewrite it`);
  return { fd, stat };
}

function tailBytes(fd: number): { buf: Buffer; whole: boolean } {
  const size = fstatSync(fd).size;
  const len = Math.min(size, TAIL_BYTES);
  const buf = Buffer.alloc(len);
  readSync(fd, buf, 0, len, size - len);
  return { buf, whole: len === size };
}

function tailOfFd(fd: number): Tail {
  const { buf, whole } = tailBytes(fd);
  return buf.length === 0 ? { lastLine: undefined, cut: 0, needsNewline: false } : readTail(buf, whole);
}

/** The end of a log file that is only read (FILE.1); undefined when it is missing, a link, or unreadable. */
export function readTailOf(file: string): Tail | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    return fstatSync(fd).isFile() ? tailOfFd(fd) : undefined;
  } finally {
    closeSync(fd);
  }
}

/** An open, locked log file. */
export class AuditFile {
  private constructor(
    readonly path: string,
    private readonly fd: number,
    private readonly dev: number,
    private readonly ino: number,
    /** Bytes of whole lines the file holds, as far as this writer knows. */
    private size: number,
    /** A failed write could not be cut back: cut to `size` before the next append. */
    private dirty: boolean,
  ) {}

  /** Opens and locks FILE (ConfigError `audit_log_locked` when another process holds it). */
  static open(file: string): AuditFile {
    const { fd, stat } = openOwnedFile(file, '--audit-log', true);
    if (tryLockExclusive(fd) === 'busy') {
      closeSync(fd);
      throw new ConfigError('audit_log_locked', `--audit-log ${file} is written by another process; give each replica its own file (docs/ca.md "Issuance log")`);
    }
    return new AuditFile(file, fd, stat.dev, stat.ino, stat.size, false);
  }

  /** Reads the end of the file: its last line, and an unfinished line after it. */
  tail(): Tail {
    return tailOfFd(this.fd);
  }

  /** The last TAIL_BYTES of the file as text. */
  tailText(): string {
    return tailBytes(this.fd).buf.toString('utf8');
  }

  /** Makes the file end with a whole line: cuts an unfinished one off, or ends a whole record with its newline. */
  repairTail(t: Tail): void {
    const size = fstatSync(this.fd).size;
    if (t.cut > 0) ftruncateSync(this.fd, size - t.cut);
    else if (t.needsNewline) writeSync(this.fd, '\n');
    this.size = fstatSync(this.fd).size;
  }

  /** Ends the file's last line when it lacks its newline, cutting nothing (for a file the CA did not write). */
  endLastLine(t: Tail): void {
    if (t.cut > 0 || t.needsNewline) writeSync(this.fd, '\n');
    this.size = fstatSync(this.fd).size;
  }

  /** Current size in bytes (from the descriptor). */
  currentSize(): number {
    return fstatSync(this.fd).size;
  }

  /**
   * Appends `bytes` (one whole line) in one write. A write cut short (a full disk stops at a page boundary) or
   * failed is cut back to the size before it, so the next line never glues onto a fragment; AuditLogError
   * `audit_log_short_write` or `audit_log_write_failed` says what happened.
   */
  append(bytes: Buffer): void {
    if (this.dirty) {
      ftruncateSync(this.fd, this.size);
      this.dirty = false;
    }
    const before = fstatSync(this.fd).size;
    let written: number;
    try {
      written = writeSync(this.fd, bytes);
    } catch (e) {
      this.cutBack(before);
      throw new AuditLogError('audit_log_write_failed', `${this.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
    }
    if (written !== bytes.length) {
      this.cutBack(before);
      throw new AuditLogError('audit_log_short_write', `${this.path}: only ${written} of ${bytes.length} bytes written (disk full?); cut back to the last whole line`);
    }
    this.size = before + written;
  }

  /** Whether the file is still at its path, was moved (renamed, or replaced by another), or was deleted. */
  whereabouts(): Whereabouts {
    if (fstatSync(this.fd).nlink === 0) return 'deleted';
    try {
      const st = lstatSync(this.path);
      return st.dev === this.dev && st.ino === this.ino ? 'here' : 'moved';
    } catch {
      return 'moved';
    }
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }

  private cutBack(size: number): void {
    this.size = size;
    try {
      ftruncateSync(this.fd, size);
    } catch {
      this.dirty = true;
    }
  }
}
