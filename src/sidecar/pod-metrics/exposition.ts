// Reads an app's Prometheus text exposition (format 0.0.4, or OpenMetrics text) into well-formed families and writes
// them back out so that they can follow the sidecar's own in one valid answer (docs/design.md "Metrics in a pod").
//
// Invariants: pure (text in, text out); never throws on any input; the output has at most one `# HELP` and one
// `# TYPE` per family, each family's lines together, no series twice, and no family or sample name the sidecar
// itself exposes (`reserved`): such a family is renamed `app_<name>`, or dropped when that name is taken too.
// A line that does not parse is dropped and counted, never passed on.

/** Metric and label names, as Prometheus defines them. */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** A sample value: a Go float literal, or ±Inf / NaN. */
const VALUE = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$/;
const TIMESTAMP = /^-?\d{1,19}$/;
/** Suffixes a sample may add to its family's name (classic histograms and summaries, OpenMetrics counters and gauge histograms). */
const SUFFIXES = ['_bucket', '_sum', '_count', '_total', '_created', '_gcount', '_gsum', '_info'] as const;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
/** The prefix a colliding app family gets. */
export const APP_RENAME_PREFIX = 'app_';

/** One family as written out. */
interface Family {
  name: string;
  help?: string;
  type?: string;
  /** Sample lines, already re-serialized under the family's final name. */
  samples: { name: string; rest: string }[];
  seen: Set<string>;
}

export interface SanitizeResult {
  /** The families as text, each line ending in "\n"; empty when there are none. */
  text: string;
  families: number;
  samples: number;
  /** Lines dropped: unparsable, a second HELP or TYPE, a series seen before, a family that could not be renamed. */
  droppedLines: number;
  /** App families renamed because the sidecar exposes the name (old → new). */
  renamed: Record<string, string>;
}

/**
 * Parses a label set `{a="x",b="y\"z"}` starting at `text[0] === '{'`. Returns the canonical text and the index after
 * `}`, or undefined when it is not one (bad name, bad escape, unterminated, a name twice).
 */
export function parseLabels(text: string): { canonical: string; end: number } | undefined {
  let i = 1;
  const pairs: string[] = [];
  const names = new Set<string>();
  const skipSpace = () => { while (text[i] === ' ' || text[i] === '\t') i++; };
  for (;;) {
    skipSpace();
    if (text[i] === '}') return { canonical: pairs.length ? `{${pairs.join(',')}}` : '', end: i + 1 };
    const nameStart = i;
    while (i < text.length && /[a-zA-Z0-9_]/.test(text[i]!)) i++;
    const name = text.slice(nameStart, i);
    if (!LABEL_NAME.test(name) || names.has(name)) return undefined;
    names.add(name);
    skipSpace();
    if (text[i] !== '=') return undefined;
    i++;
    skipSpace();
    if (text[i] !== '"') return undefined;
    i++;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) return undefined;
      if (c === '"') break;
      if (c === '\\') {
        const e = text[i + 1];
        if (e !== '\\' && e !== '"' && e !== 'n') return undefined;
        value += `\\${e}`;
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++;
    pairs.push(`${name}="${value}"`);
    skipSpace();
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] === '}') return { canonical: `{${pairs.join(',')}}`, end: i + 1 };
    return undefined;
  }
}

/** One sample line split into name, canonical labels, value and optional timestamp; undefined when it does not parse. */
export function parseSample(line: string): { name: string; labels: string; value: string; timestamp?: string } | undefined {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (!m) return undefined;
  const name = m[1]!;
  let rest = line.slice(name.length);
  let labels = '';
  if (rest.startsWith('{')) {
    const parsed = parseLabels(rest);
    if (!parsed) return undefined;
    labels = parsed.canonical;
    rest = rest.slice(parsed.end);
  }
  // Without labels, the name must end at a blank (`name1` is not `name 1`).
  if (labels === '' && !/^[ \t]/.test(rest)) return undefined;
  const fields = rest.trim().split(/[ \t]+/);
  const [value, timestamp, extra] = fields;
  if (value === undefined || !VALUE.test(value) || extra !== undefined) return undefined;
  if (timestamp !== undefined && !TIMESTAMP.test(timestamp)) return undefined;
  return { name, labels, value, ...(timestamp !== undefined ? { timestamp } : {}) };
}

/** The family a sample named `name` belongs to, given the families typed so far. */
function familyOf(name: string, typed: ReadonlyMap<string, string>): string {
  if (typed.has(name)) return name;
  for (const s of SUFFIXES) if (name.endsWith(s) && typed.has(name.slice(0, -s.length))) return name.slice(0, -s.length);
  return name;
}

/**
 * Every sample name a family of `type` called `name` can produce: what an app family must not reuse when the sidecar
 * exposes `name` with that type.
 */
export function sampleNames(name: string, type: string): string[] {
  if (type === 'histogram') return [name, `${name}_bucket`, `${name}_sum`, `${name}_count`];
  if (type === 'summary') return [name, `${name}_sum`, `${name}_count`];
  return [name];
}

/**
 * Sanitizes an app's exposition. `reserved` holds every family and sample name the sidecar exposes; an app family
 * that uses one is renamed with APP_RENAME_PREFIX (all its lines), or dropped when the new name is taken as well.
 */
export function sanitizeExposition(input: string, reserved: ReadonlySet<string>): SanitizeResult {
  const families = new Map<string, Family>();
  const typed = new Map<string, string>();
  let dropped = 0;
  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) {
      f = { name, samples: [], seen: new Set() };
      families.set(name, f);
    }
    return f;
  };
  for (const raw of input.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      if (!m) continue; // other comments, `# EOF`, `# UNIT`: not needed, not counted
      const [, kind, name, arg = ''] = m;
      if (!METRIC_NAME.test(name!)) { dropped++; continue; }
      const f = family(name!);
      if (kind === 'HELP') {
        // The format knows two escapes in a docstring, `\\` and `\n`; any other backslash makes the answer unparsable.
        if (f.help !== undefined || arg.replace(/\\[\\n]/g, '').includes('\\')) dropped++;
        else f.help = arg;
        continue;
      }
      const type = arg.trim().toLowerCase() === 'unknown' ? 'untyped' : arg.trim().toLowerCase();
      // A TYPE after the family's samples, a second TYPE or an unknown type would make the output invalid.
      if (f.type !== undefined || f.samples.length > 0 || !TYPES.has(type)) { dropped++; continue; }
      f.type = type;
      typed.set(name!, type);
      continue;
    }
    const s = parseSample(line);
    if (!s) { dropped++; continue; }
    const f = family(familyOf(s.name, typed));
    const key = `${s.name}${s.labels}`;
    if (f.seen.has(key)) { dropped++; continue; }
    f.seen.add(key);
    f.samples.push({ name: s.name, rest: `${s.labels} ${s.value}${s.timestamp !== undefined ? ` ${s.timestamp}` : ''}` });
  }

  const taken = new Set(reserved);
  for (const f of families.values()) for (const s of f.samples) taken.add(s.name);
  for (const name of families.keys()) taken.add(name);
  const renamed: Record<string, string> = {};
  const out: string[] = [];
  let count = 0;
  let samples = 0;
  for (const f of families.values()) {
    if (f.samples.length === 0 && f.type === undefined) continue;
    if (f.type === 'counter' && !families.has(`${f.name}_total`)) asClassicCounter(f);
    const names = new Set([f.name, ...f.samples.map((s) => s.name)]);
    let prefix = '';
    if ([...names].some((n) => reserved.has(n))) {
      const clash = [...names].some((n) => taken.has(`${APP_RENAME_PREFIX}${n}`));
      if (clash) { dropped += f.samples.length + (f.help !== undefined ? 1 : 0) + (f.type !== undefined ? 1 : 0); continue; }
      prefix = APP_RENAME_PREFIX;
      renamed[f.name] = `${prefix}${f.name}`;
      for (const n of names) taken.add(`${prefix}${n}`);
    }
    const name = `${prefix}${f.name}`;
    if (f.help !== undefined) out.push(`# HELP ${name} ${f.help}`);
    out.push(`# TYPE ${name} ${f.type ?? 'untyped'}`);
    for (const s of f.samples) out.push(`${prefix}${s.name}${s.rest}`);
    count++;
    samples += f.samples.length;
  }
  return { text: out.length ? `${out.join('\n')}\n` : '', families: count, samples, droppedLines: dropped, renamed };
}

/**
 * An OpenMetrics counter (`# TYPE foo counter` with samples `foo_total` and `foo_created`) as the classic format
 * writes it: the family is `foo_total`, and `_created` samples, which that format has no place for, are left out.
 */
function asClassicCounter(f: Family): void {
  const total = `${f.name}_total`;
  if (!f.samples.some((s) => s.name === total)) return;
  f.samples = f.samples.filter((s) => s.name === total);
  f.name = total;
}

/** Every family and sample name in a well-formed exposition (the sidecar's own, from prom-client). */
export function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)/.exec(line);
    if (t) for (const n of sampleNames(t[1]!, t[2]!)) names.add(n);
    else if (line && !line.startsWith('#')) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
      if (m) names.add(m[1]!);
    }
  }
  return names;
}
