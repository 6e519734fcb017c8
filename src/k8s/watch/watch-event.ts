// The watch wire format: a byte stream of newline-delimited JSON events, split into bounded lines and decoded into
// checked events. Pure and total: any input gives events or reasons to skip, never a throw (fuzzed by fast-check).
import type { WatchedObject } from './resource.js';

/**
 * The longest event line kept. etcd refuses objects over 1.5 MiB, so a real event stays far below; a longer line is
 * dropped whole instead of growing one buffer without end.
 */
export const MAX_EVENT_LINE_BYTES = 4 * 1024 * 1024;

/** One decoded event of a watch stream. */
export type WatchEvent =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: WatchedObject; resourceVersion: string }
  | { type: 'BOOKMARK'; resourceVersion: string }
  | { type: 'ERROR'; code: number; reason: string; message: string };

/** A line that is not an event: why, for the log. */
export interface Malformed {
  malformed: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks that `obj` is an object the cache can key: metadata.name a non-empty string, namespace a string if present,
 * resourceVersion a non-empty string. Returns the reason when it is not.
 */
export function objectProblem(obj: unknown): string | undefined {
  if (!isRecord(obj)) return 'object is not a JSON object';
  const meta = obj.metadata;
  if (!isRecord(meta)) return 'object has no metadata';
  if (typeof meta.name !== 'string' || meta.name === '') return 'object has no metadata.name';
  if (meta.namespace !== undefined && typeof meta.namespace !== 'string') return 'metadata.namespace is not a string';
  if (typeof meta.resourceVersion !== 'string' || meta.resourceVersion === '') return 'object has no metadata.resourceVersion';
  return undefined;
}

/** Decodes one line of a watch stream. */
export function decodeWatchLine(line: string): WatchEvent | Malformed {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { malformed: 'not JSON' };
  }
  if (!isRecord(parsed)) return { malformed: 'not a JSON object' };
  const { type, object } = parsed;
  if (type === 'ERROR') {
    // The API server sends a Status object: {kind: Status, code: 410, reason: Expired, message: ...}.
    if (!isRecord(object) || typeof object.code !== 'number') return { malformed: 'ERROR event without a Status code' };
    return {
      type, code: object.code,
      reason: typeof object.reason === 'string' ? object.reason : '',
      message: typeof object.message === 'string' ? object.message : '',
    };
  }
  if (type === 'BOOKMARK') {
    const rv = isRecord(object) && isRecord(object.metadata) ? object.metadata.resourceVersion : undefined;
    if (typeof rv !== 'string' || rv === '') return { malformed: 'BOOKMARK without metadata.resourceVersion' };
    return { type, resourceVersion: rv };
  }
  if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
    const problem = objectProblem(object);
    if (problem) return { malformed: `${type} event: ${problem}` };
    const o = object as WatchedObject;
    return { type, object: o, resourceVersion: o.metadata.resourceVersion! };
  }
  return { malformed: `unknown event type ${JSON.stringify(type)?.slice(0, 40) ?? 'undefined'}` };
}

/**
 * Splits a byte stream into lines of at most `maxBytes` bytes (newline excluded). A longer line is reported as
 * `{ overflow: true }` once and skipped up to its newline; nothing larger than `maxBytes` is ever buffered.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private held = 0;
  private skipping = false;

  constructor(private readonly maxBytes: number = MAX_EVENT_LINE_BYTES) {}

  /** Feeds a chunk; returns the complete lines it ended (empty lines dropped), and overflows in order. */
  push(chunk: Buffer): Array<string | { overflow: true }> {
    const out: Array<string | { overflow: true }> = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.skipping) {
        if (this.held + (end - start) > this.maxBytes) {
          this.parts = [];
          this.held = 0;
          this.skipping = true;
          out.push({ overflow: true });
        } else if (end > start) {
          this.parts.push(chunk.subarray(start, end));
          this.held += end - start;
        }
      }
      if (nl === -1) break;
      if (!this.skipping && this.held > 0) {
        const line = Buffer.concat(this.parts, this.held).toString('utf8');
        if (line.trim() !== '') out.push(line);
      }
      this.parts = [];
      this.held = 0;
      this.skipping = false;
      start = nl + 1;
    }
    return out;
  }

  /** Bytes held for an unfinished line. */
  get pending(): number {
    return this.held;
  }
}
