// `ztmesh inject` over manifests: finds the pod template in each workload kind of a multi-document YAML stream.
// Documents that need no change are re-emitted from their source text, byte for byte.
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments, stringify as stringifyYaml, visit, type Document } from 'yaml';
import { ConfigError } from '../common/errors.js';
import { ZTMESH_VERSION } from '../common/version.js';
import { injectPod, type InjectOptions, type PodLike } from './inject.js';
import { parseJsonStream } from './json-stream.js';
import { uninjectPod } from './uninject.js';

/** Where each supported kind keeps its pod (template). */
const POD_PATHS: Record<string, readonly string[]> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

/** The kinds whose pods are injected (everything else passes through unchanged). */
export const INJECTABLE_KINDS: readonly string[] = Object.keys(POD_PATHS);

/** One line for stderr per object looked at (injected or skipped with the reason), plus one per warning. */
export interface InjectNote {
  kind: string;
  name: string;
  outcome: string;
  warnings?: string[];
}

/** The Pod Security label whose `baseline` and `restricted` levels forbid the iptables init container. */
export const POD_SECURITY_ENFORCE = 'pod-security.kubernetes.io/enforce';
const FORBIDS_NET_ADMIN = new Set(['baseline', 'restricted']);

/** What the input says about namespaces: namespace → its Pod Security enforce level, from Namespace objects. */
export interface NamespaceContext {
  podSecurity: ReadonlyMap<string, string>;
}

/** Collects the Pod Security enforce level of every Namespace object among `values` (Lists included). */
export function namespaceContext(values: readonly unknown[], into = new Map<string, string>()): NamespaceContext {
  for (const v of values) {
    if (!isObj(v)) continue;
    if (Array.isArray(v.items)) namespaceContext(v.items, into);
    const meta = isObj(v.metadata) ? v.metadata : undefined;
    const level = isObj(meta?.labels) ? meta.labels[POD_SECURITY_ENFORCE] : undefined;
    if (v.kind === 'Namespace' && typeof meta?.name === 'string' && typeof level === 'string') into.set(meta.name, level);
  }
  return { podSecurity: into };
}

/** A warning when a transparent-mode workload lands in a namespace whose Pod Security level refuses NET_ADMIN. */
function podSecurityWarning(obj: Obj, options: InjectOptions, ctx: NamespaceContext): string[] {
  const ns = isObj(obj.metadata) ? obj.metadata.namespace : undefined;
  const level = typeof ns === 'string' ? ctx.podSecurity.get(ns) : undefined;
  if (options.mode !== 'transparent' || level === undefined || !FORBIDS_NET_ADMIN.has(level)) return [];
  return [`namespace ${String(ns)} enforces Pod Security "${level}", which refuses the NET_ADMIN and NET_RAW of the ztmesh-init container, `
    + `so its pods will not be created; label the namespace ${POD_SECURITY_ENFORCE}=privileged or inject with --mode explicit`];
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What one pod (template) becomes: the new pod, the note's outcome, and warnings; `pod` is the same reference when unchanged. */
export interface PodRewrite {
  pod: unknown;
  outcome: string;
  warnings?: string[];
}

/** A rewrite of the pod (template) found at `at` (e.g. "spec.template") in an object of `kind`. */
export type PodTransform = (pod: Obj, where: { at: string; kind: string; object: Obj }) => PodRewrite;

/** injectPod as a PodTransform, with the namespace's Pod Security warning. */
export function injectTransform(options: InjectOptions, ctx: NamespaceContext): PodTransform {
  return (pod, { at, kind, object }) => {
    const result = injectPod(pod as PodLike, options, at, { kind });
    if (result.outcome !== 'injected') return { pod, outcome: `${result.reason === 'up_to_date' ? 'unchanged' : 'skipped'}: ${result.reason}` };
    const warnings = [...(result.upgradedFrom === undefined ? podSecurityWarning(object, options, ctx) : []), ...result.warnings];
    const outcome = result.upgradedFrom === undefined ? 'injected' : `upgraded (injected by ztmesh ${result.upgradedFrom}, now ${ZTMESH_VERSION})`;
    return { pod: result.pod, outcome, ...(warnings.length ? { warnings } : {}) };
  };
}

/** uninjectPod as a PodTransform. */
export const uninjectTransform: PodTransform = (pod, { at }) => {
  const result = uninjectPod(pod as PodLike, at);
  return result.outcome === 'uninjected' ? { pod: result.pod, outcome: 'uninjected' } : { pod, outcome: `unchanged: ${result.reason}` };
};

/**
 * Applies `transform` to the pod (template) of one Kubernetes object (or of each item of a List). Returns the new
 * object, or the same reference when nothing changed, so callers can keep the original text.
 */
export function rewriteObject(obj: unknown, transform: PodTransform, notes: InjectNote[]): unknown {
  if (!isObj(obj)) return obj;
  const name = String((isObj(obj.metadata) ? obj.metadata.name : undefined) ?? '<unnamed>');
  if (typeof obj.kind !== 'string') {
    notes.push({ kind: '(no kind)', name, outcome: 'unchanged (not a Kubernetes object: no kind)' });
    return obj;
  }
  const kind = obj.kind;
  if (kind === 'List' || (kind.endsWith('List') && Array.isArray(obj.items))) {
    const items = (obj.items as unknown[] | undefined) ?? [];
    const out = items.map((item) => rewriteObject(item, transform, notes));
    return out.every((v, i) => v === items[i]) ? obj : { ...obj, items: out };
  }
  const path = POD_PATHS[kind];
  if (!path) {
    notes.push({ kind, name, outcome: 'unchanged (kind not a workload)' });
    return obj;
  }
  let pod: unknown = obj;
  for (const [i, key] of path.entries()) {
    const parent = pod;
    pod = isObj(parent) ? parent[key] : undefined;
    if (pod !== undefined && pod !== null && !isObj(pod)) {
      throw new ConfigError('invalid_workload', `${kind}/${name}: ${path.slice(0, i + 1).join('.')}: must be a mapping, got ${Array.isArray(pod) ? 'a list' : typeof pod}`);
    }
  }
  if (!isObj(pod)) {
    notes.push({ kind, name, outcome: 'skipped: no pod template' });
    return obj;
  }
  let result: PodRewrite;
  try {
    result = transform(pod, { at: path.join('.'), kind, object: obj });
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(e.code, `${kind}/${name}: ${e.message}`, { cause: e });
    throw e;
  }
  notes.push({ kind, name, outcome: result.outcome, ...(result.warnings?.length ? { warnings: result.warnings } : {}) });
  return result.pod === pod ? obj : setPath(obj, path, result.pod);
}

/** Injects one Kubernetes object (or a List of them); the same reference when nothing changed. */
export function injectObject(obj: unknown, options: InjectOptions, notes: InjectNote[], ctx: NamespaceContext = namespaceContext([obj])): unknown {
  return rewriteObject(obj, injectTransform(options, ctx), notes);
}

function setPath(obj: Obj, path: readonly string[], value: unknown): Obj {
  if (path.length === 0) return value as Obj;
  const [head, ...rest] = path as [string, ...string[]];
  return { ...obj, [head]: setPath(obj[head] as Obj, rest, value) };
}

/** Kubernetes style is "key:\n- item" (kubectl, most repos); follow whichever style the document already uses. */
function indentsSequences(text: string): boolean {
  const flush = text.match(/^( *)[^\s#-][^\n]*:[ \t]*\n\1- /gm)?.length ?? 0;
  const indented = text.match(/^( *)[^\s#-][^\n]*:[ \t]*\n\1 {2}- /gm)?.length ?? 0;
  return indented > flush;
}

/**
 * Edits `doc` in place so that it holds `after` instead of `before`, touching only the nodes that differ:
 * comments, key order, quoting and flow style of everything else survive.
 */
function applyDiff(doc: Document, path: (string | number)[], before: unknown, after: unknown): void {
  if (isDeepStrictEqual(before, after)) return;
  if (isObj(before) && isObj(after) && path.length >= 0) {
    for (const k of Object.keys(before)) if (!(k in after)) doc.deleteIn([...path, k]);
    for (const [k, v] of Object.entries(after)) applyDiff(doc, [...path, k], before[k], v);
    return;
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length <= after.length) {
    // Items appended (an env variable, a volume mount): the ones already there keep their formatting.
    before.forEach((v, i) => applyDiff(doc, [...path, i], v, after[i]));
    for (const v of after.slice(before.length)) doc.addIn(path, doc.createNode(v, { aliasDuplicateObjects: false }));
    return;
  }
  doc.setIn(path, doc.createNode(after, { aliasDuplicateObjects: false }));
}

function hasAliases(doc: Document): boolean {
  let found = false;
  visit(doc, { Alias: () => { found = true; return visit.BREAK; } });
  return found;
}

/**
 * Rewrites every supported object of a multi-document YAML text. Unchanged documents keep their exact text.
 * Changed ones are edited node by node, so their comments and formatting outside the changed parts remain.
 */
export function rewriteManifests(source: string, transform: PodTransform): { output: string; notes: InjectNote[] } {
  const docs = parseYamlStream(source);
  const notes: InjectNote[] = [];
  let output = docs.length ? '' : source;
  docs.forEach((doc, i) => {
    const start = i === 0 ? 0 : doc.range[0];
    const end = i === docs.length - 1 ? source.length : docs[i + 1]!.range[0];
    const text = source.slice(start, end);
    const original = doc.toJS({ maxAliasCount: 100 }) as unknown;
    const changed = rewriteObject(original, transform, notes);
    if (changed === original || !doc.contents) {
      output += text;
      return;
    }
    if (hasAliases(doc)) {
      // Editing through aliases would change every place that shares the anchor: write the document afresh.
      doc.contents = doc.createNode(changed, { aliasDuplicateObjects: false }) as typeof doc.contents;
    } else {
      applyDiff(doc, [], original, changed);
    }
    const rendered = doc.toString({ lineWidth: 0, indentSeq: indentsSequences(text) });
    // Keep an explicit end marker ("...") that followed the document.
    output += rendered + (/^\.\.\.\s*$/m.test(source.slice(doc.range[1], end)) && !rendered.includes('\n...') ? source.slice(doc.range[1], end) : '');
  });
  return { output, notes };
}

/** Injects every supported object of a multi-document YAML text (see rewriteManifests). */
export function injectManifests(source: string, options: InjectOptions, context?: NamespaceContext): { output: string; notes: InjectNote[] } {
  const ctx = context ?? namespaceContext(parseYamlStream(source).map((d) => d.toJS({ maxAliasCount: 100 }) as unknown));
  return rewriteManifests(source, injectTransform(options, ctx));
}

/** The documents of a YAML stream; throws ConfigError `invalid_manifest` naming the first broken one. */
function parseYamlStream(source: string): Document.Parsed[] {
  const docs = parseAllDocuments(source);
  if (!Array.isArray(docs)) return []; // an empty stream
  for (const [i, d] of docs.entries()) {
    if (d.errors.length) throw new ConfigError('invalid_manifest', `document ${i + 1}: ${d.errors[0]!.message}`);
  }
  return docs;
}

/** One input of `ztmesh inject`: a file's (or stdin's) name and text. */
export interface ManifestSource {
  name: string;
  text: string;
}

/** JSON when the first thing in the text is `{` or `[` (as `kubectl ... -o json` writes); YAML otherwise. */
export function isJsonText(text: string): boolean {
  return /^\s*[{[]/.test(text);
}

function withSource(name: string, e: unknown): never {
  if (e instanceof ConfigError) throw new ConfigError(e.code, `${name}: ${e.message}`, { cause: e });
  throw e;
}

/** The indentation of a JSON text's first nested line (kubectl writes 4 spaces), for writing JSON back alike. */
function jsonIndent(text: string): number {
  const m = /^[{[]\s*\n( +)\S/.exec(text.trimStart());
  return m ? m[1]!.length : 4;
}

/** The values of a JSON input: one value, or a stream of concatenated ones; an array's elements. */
function jsonValues(src: ManifestSource): unknown[] {
  try {
    return parseJsonStream(src.text).flatMap((v) => (Array.isArray(v) ? v : [v]));
  } catch (e) {
    return withSource(src.name, e);
  }
}

/**
 * Rewrites several inputs and writes them as one stream `kubectl apply -f -` reads: JSON when every input is JSON
 * (one object as it came, several wrapped in a v1 List, as kubectl does), YAML documents otherwise. A YAML input
 * keeps its text wherever nothing changed; a JSON input of one value left unchanged is written back byte for byte.
 */
export function rewriteSources(sources: readonly ManifestSource[], transform: PodTransform): { output: string; notes: InjectNote[]; format: 'json' | 'yaml' } {
  const notes: InjectNote[] = [];
  type Part = { json: true; values: unknown[]; text: string; changed: boolean } | { json: false; text: string };
  const parts: Part[] = sources.map((src): Part => {
    if (!isJsonText(src.text)) {
      try {
        const r = rewriteManifests(src.text, transform);
        notes.push(...r.notes);
        return { json: false, text: r.output };
      } catch (e) {
        return withSource(src.name, e);
      }
    }
    const before = jsonValues(src);
    let values: unknown[];
    try {
      values = before.map((v) => rewriteObject(v, transform, notes));
    } catch (e) {
      return withSource(src.name, e);
    }
    const single = before.length === 1 && !/^\s*\[/.test(src.text);
    return { json: true, values, text: src.text, changed: !single || values.some((v, i) => v !== before[i]) };
  });
  if (parts.length > 0 && parts.every((p) => p.json)) {
    const jsonParts = parts as Extract<Part, { json: true }>[];
    const indent = jsonIndent(jsonParts[0]!.text);
    const values = jsonParts.flatMap((p) => p.values);
    if (jsonParts.length === 1 && !jsonParts[0]!.changed) return { output: ensureNewline(jsonParts[0]!.text), notes, format: 'json' };
    const doc = values.length === 1 ? values[0] : { apiVersion: 'v1', kind: 'List', items: values };
    return { output: `${JSON.stringify(doc, null, indent)}\n`, notes, format: 'json' };
  }
  const docs = parts.flatMap((p) => (p.json ? p.values.map((v) => stringifyYaml(v, { lineWidth: 0 })) : [p.text])).filter((t) => t.trim() !== '');
  return { output: docs.map((d, i) => (i > 0 && !/^---/.test(d) ? `---\n${ensureNewline(d)}` : ensureNewline(d))).join(''), notes, format: 'yaml' };
}

/** Injects several inputs (see rewriteSources); the Pod Security warning reads Namespaces from all of them. */
export function injectSources(sources: readonly ManifestSource[], options: InjectOptions): { output: string; notes: InjectNote[]; format: 'json' | 'yaml' } {
  const ctx = namespaceContext(sources.flatMap((src) => {
    try {
      return isJsonText(src.text) ? parseJsonStream(src.text).flat() : parseYamlStream(src.text).map((d) => d.toJS({ maxAliasCount: 100 }) as unknown);
    } catch {
      return []; // reported with its source by rewriteSources
    }
  }));
  return rewriteSources(sources, injectTransform(options, ctx));
}

/** Removes the injection from several inputs (see rewriteSources). */
export function uninjectSources(sources: readonly ManifestSource[]): { output: string; notes: InjectNote[]; format: 'json' | 'yaml' } {
  return rewriteSources(sources, uninjectTransform);
}

function ensureNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}
