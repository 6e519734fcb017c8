// Reading AuthorizationPolicy objects: one object (a file's document, a watched Kubernetes object, a policy from the
// mesh stream) into the model, and policy files (YAML, multi-document, or JSON) into objects. Pure and total: it
// never throws, and every refusal names the object and the field (`spec.rules[0].from[1].principals[0]`).
import { parseAllDocuments } from 'yaml';
import { parseSpiffePattern } from '../pki/spiffe-id.js';
import {
  DEFAULT_NAMESPACE, POLICY_ACTIONS, POLICY_API_VERSION, POLICY_KIND, POLICY_LIMITS, policyKey,
  type AuthorizationPolicy, type PolicyAction, type PolicyOperation, type PolicyRule, type PolicySource,
} from './model.js';

/** One problem of one object: the field (a path into it) and what is wrong. */
export interface FieldProblem {
  field: string;
  message: string;
}

/** One problem of one object of one source (a file, or `namespace/name` on Kubernetes), as `validate` prints it. */
export interface PolicyProblem extends FieldProblem {
  /** The file, or "kubernetes". */
  source: string;
  /** "namespace/name" when the object names itself, else "#<n>" (its place in the file). */
  object: string;
}

export type ParsedObject =
  | { ok: true; policy: AuthorizationPolicy }
  /** `key` is the object's "namespace/name" when its metadata could be read (its last valid version may stay). */
  | { ok: false; key: string | undefined; problems: FieldProblem[] };

/** `file:object:field: message`, one line per problem (`ztmesh policy validate`, the CA's log). */
export function problemLine(p: PolicyProblem): string {
  return `${p.source}:${p.object}:${p.field}: ${p.message}`;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => {
  let text: string;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    text = String(v);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

/** A DNS-1123 label (namespaces): at most 63 characters. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A DNS-1123 subdomain (object and ServiceAccount names): at most 253 characters. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const isLabel = (s: string) => DNS_LABEL.test(s);
const isSubdomain = (s: string) => s.length <= 253 && DNS_SUBDOMAIN.test(s);

/** Collects the problems of one object while it is read. */
class Reader {
  readonly problems: FieldProblem[] = [];

  bad(field: string, message: string): undefined {
    // One object with thousands of bad entries stays one readable refusal.
    if (this.problems.length < 20) this.problems.push({ field, message });
    return undefined;
  }

  /** Refuses fields of `o` not in `known` (a typo is never silently ignored). */
  known(o: Obj, path: string, known: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (known.includes(k)) continue;
      const name = /^[A-Za-z_$][\w$-]*$/.test(k) ? k : JSON.stringify(k.slice(0, 60));
      this.bad(path ? `${path}.${name}` : name, `unknown field (known: ${known.join(', ')})`);
    }
  }

  /** A list of at most `max` strings each passing `check`, non-empty; undefined (and a problem) otherwise. */
  strings(v: unknown, field: string, max: number, check: (s: string) => string | undefined): string[] | undefined {
    if (!Array.isArray(v)) return this.bad(field, `must be a list, not ${show(v)}`);
    if (v.length === 0) return this.bad(field, 'is empty (omit it instead)');
    if (v.length > max) return this.bad(field, `has ${v.length} entries, at most ${max}`);
    const out: string[] = [];
    v.forEach((s, i) => {
      if (typeof s !== 'string') return this.bad(`${field}[${i}]`, `must be a string, not ${show(s)}`);
      const why = check(s);
      if (why) return this.bad(`${field}[${i}]`, why);
      out.push(s);
    });
    return out.length === v.length ? out : undefined;
  }

  list<T>(v: unknown, field: string, max: number, item: (x: unknown, field: string) => T | undefined): T[] | undefined {
    if (!Array.isArray(v)) return this.bad(field, `must be a list, not ${show(v)}`);
    if (v.length > max) return this.bad(field, `has ${v.length} entries, at most ${max}`);
    const out: T[] = [];
    v.forEach((x, i) => {
      const r = item(x, `${field}[${i}]`);
      if (r !== undefined) out.push(r);
    });
    return out.length === v.length ? out : undefined;
  }
}

function principal(s: string): string | undefined {
  try {
    parseSpiffePattern(s);
    return undefined;
  } catch (e) {
    return `is not a SPIFFE ID pattern (spiffe://<trust domain>/<path>, or a prefix ending in /*): ${(e as Error).message.replace(/^.*?: /, '')}`;
  }
}

function source(r: Reader, v: unknown, field: string): PolicySource | undefined {
  if (!isObj(v)) return r.bad(field, `must be a mapping with principals or namespaces, not ${show(v)}`);
  r.known(v, field, ['principals', 'namespaces']);
  if (v.principals === undefined && v.namespaces === undefined) return r.bad(field, 'names neither principals nor namespaces (omit from to match any peer)');
  const principals = v.principals === undefined ? undefined : r.strings(v.principals, `${field}.principals`, POLICY_LIMITS.maxPrincipals, principal);
  const namespaces = v.namespaces === undefined ? undefined
    : r.strings(v.namespaces, `${field}.namespaces`, POLICY_LIMITS.maxNamespaces, (s) => (isLabel(s) ? undefined : `"${s.slice(0, 80)}" is not a namespace name`));
  if ((v.principals !== undefined && !principals) || (v.namespaces !== undefined && !namespaces)) return undefined;
  return { ...(principals ? { principals } : {}), ...(namespaces ? { namespaces } : {}) };
}

function operation(r: Reader, v: unknown, field: string): PolicyOperation | undefined {
  if (!isObj(v)) return r.bad(field, `must be a mapping with ports, not ${show(v)}`);
  r.known(v, field, ['ports']);
  if (v.ports === undefined) return r.bad(`${field}.ports`, 'is required (omit to to match any port)');
  if (!Array.isArray(v.ports) || v.ports.length === 0) return r.bad(`${field}.ports`, `must be a non-empty list of ports, not ${show(v.ports)}`);
  if (v.ports.length > POLICY_LIMITS.maxPorts) return r.bad(`${field}.ports`, `has ${v.ports.length} entries, at most ${POLICY_LIMITS.maxPorts}`);
  const ports: number[] = [];
  v.ports.forEach((p, i) => {
    // A quoted port ("5432") is what YAML users write by habit; Kubernetes' int-or-string takes it too.
    const n = typeof p === 'string' && /^\d{1,5}$/.test(p) ? Number(p) : p;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) return r.bad(`${field}.ports[${i}]`, `${show(p)} is not a port (1-65535)`);
    ports.push(n);
  });
  return ports.length === v.ports.length ? { ports } : undefined;
}

function rule(r: Reader, v: unknown, field: string): PolicyRule | undefined {
  if (!isObj(v)) return r.bad(field, `must be a mapping (from, to), not ${show(v)}`);
  r.known(v, field, ['from', 'to']);
  const from = v.from === undefined ? undefined : r.list(v.from, `${field}.from`, POLICY_LIMITS.maxSources, (x, f) => source(r, x, f));
  const to = v.to === undefined ? undefined : r.list(v.to, `${field}.to`, POLICY_LIMITS.maxOperations, (x, f) => operation(r, x, f));
  if (from?.length === 0) return r.bad(`${field}.from`, 'is empty (omit it to match any peer)');
  if (to?.length === 0) return r.bad(`${field}.to`, 'is empty (omit it to match any port)');
  if ((v.from !== undefined && !from) || (v.to !== undefined && !to)) return undefined;
  return { ...(from ? { from } : {}), ...(to ? { to } : {}) };
}

/**
 * Reads one AuthorizationPolicy object. `defaultNamespace` stands in for a missing metadata.namespace (files, as
 * kubectl apply); without it a namespace is required. Every problem found is returned, not only the first.
 */
export function parsePolicyObject(v: unknown, opts: { defaultNamespace?: string } = {}): ParsedObject {
  const r = new Reader();
  try {
    if (!isObj(v)) return { ok: false, key: undefined, problems: [{ field: '(object)', message: `must be a mapping, not ${show(v)}` }] };
    const meta = isObj(v.metadata) ? v.metadata : undefined;
    const name = typeof meta?.name === 'string' && isSubdomain(meta.name) ? meta.name : undefined;
    const nsRaw = meta?.namespace ?? opts.defaultNamespace;
    const namespace = typeof nsRaw === 'string' && isLabel(nsRaw) ? nsRaw : undefined;
    if (v.apiVersion !== POLICY_API_VERSION) r.bad('apiVersion', v.apiVersion === undefined ? `is required: ${POLICY_API_VERSION}` : `must be ${POLICY_API_VERSION}, not ${show(v.apiVersion)}`);
    if (v.kind !== POLICY_KIND) r.bad('kind', v.kind === undefined ? `is required: ${POLICY_KIND}` : `must be ${POLICY_KIND}, not ${show(v.kind)}`);
    r.known(v, '', ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
    if (!meta) r.bad('metadata', 'is required, with name (and namespace)');
    else {
      if (!name) r.bad('metadata.name', `${show(meta.name)} is not an object name (lowercase letters, digits, "-" and ".")`);
      if (!namespace) r.bad('metadata.namespace', nsRaw === undefined ? 'is required' : `${show(nsRaw)} is not a namespace name`);
    }
    const key = name && namespace ? policyKey({ namespace, name }) : undefined;
    const spec = v.spec;
    if (!isObj(spec)) {
      r.bad('spec', spec === undefined ? 'is required' : `must be a mapping, not ${show(spec)}`);
      return { ok: false, key, problems: r.problems };
    }
    r.known(spec, 'spec', ['selector', 'action', 'dryRun', 'rules']);
    let action: PolicyAction = 'ALLOW';
    if (spec.action !== undefined) {
      if ((POLICY_ACTIONS as readonly unknown[]).includes(spec.action)) action = spec.action as PolicyAction;
      else r.bad('spec.action', `${show(spec.action)} is not one of ${POLICY_ACTIONS.join(', ')}`);
    }
    if (spec.dryRun !== undefined && typeof spec.dryRun !== 'boolean') r.bad('spec.dryRun', `must be true or false, not ${show(spec.dryRun)}`);
    let selector: AuthorizationPolicy['selector'];
    if (spec.selector !== undefined) {
      if (!isObj(spec.selector)) r.bad('spec.selector', `must be a mapping with serviceAccounts, not ${show(spec.selector)}`);
      else {
        r.known(spec.selector, 'spec.selector', ['serviceAccounts']);
        if (spec.selector.serviceAccounts === undefined) r.bad('spec.selector.serviceAccounts', 'is required (omit selector to select every workload of the namespace)');
        else {
          const sas = r.strings(spec.selector.serviceAccounts, 'spec.selector.serviceAccounts', POLICY_LIMITS.maxServiceAccounts,
            (s) => (isSubdomain(s) ? undefined : `"${s.slice(0, 80)}" is not a ServiceAccount name`));
          if (sas) selector = { serviceAccounts: sas };
        }
      }
    }
    const rules = spec.rules === undefined || spec.rules === null ? [] : r.list(spec.rules, 'spec.rules', POLICY_LIMITS.maxRules, (x, f) => rule(r, x, f));
    if (r.problems.length || !key || !rules) return { ok: false, key, problems: r.problems };
    return {
      ok: true,
      policy: { namespace: namespace!, name: name!, action, dryRun: spec.dryRun === true, ...(selector ? { selector } : {}), rules },
    };
  } catch (e) {
    // A getter that throws, a proxy: nothing an object holds stops the reader.
    return { ok: false, key: undefined, problems: [...r.problems, { field: '(object)', message: `could not be read: ${String((e as Error)?.message ?? e).slice(0, 120)}` }] };
  }
}

/** A policy (or anything shaped like one, as GET /policies lists them) as the object a user writes; extra keys dropped. */
export function policyDocument(p: Pick<AuthorizationPolicy, 'namespace' | 'name'> & Partial<AuthorizationPolicy>): Record<string, unknown> {
  return {
    apiVersion: POLICY_API_VERSION, kind: POLICY_KIND, metadata: { namespace: p.namespace, name: p.name },
    spec: { action: p.action, dryRun: p.dryRun, ...(p.selector ? { selector: p.selector } : {}), rules: p.rules },
  };
}

/** What one policy file holds. */
export interface ParsedFile {
  policies: AuthorizationPolicy[];
  problems: PolicyProblem[];
  /** Keys of objects refused that named themselves: the last valid version of each may stay in force. */
  refusedKeys: string[];
  /** The file could not be read as documents at all (its syntax): nothing in it can be named. */
  unreadable: boolean;
}

/** The objects of one parsed document: one object, a list (JSON array), or a List (kubectl get -o yaml). */
function objectsOf(doc: unknown): unknown[] {
  if (doc === null || doc === undefined) return [];
  if (Array.isArray(doc)) return doc;
  if (isObj(doc) && typeof doc.kind === 'string' && /List$/.test(doc.kind) && Array.isArray(doc.items)) return doc.items;
  return [doc];
}

/** Reads objects that are already data (the documents of a file) into policies and problems. */
export function parsePolicyObjects(objects: readonly unknown[], source: string, defaultNamespace = DEFAULT_NAMESPACE): ParsedFile {
  const out: ParsedFile = { policies: [], problems: [], refusedKeys: [], unreadable: false };
  const seen = new Set<string>();
  objects.forEach((o, i) => {
    const r = parsePolicyObject(o, { defaultNamespace });
    const object = r.ok ? policyKey(r.policy) : r.key ?? `#${i + 1}`;
    if (r.ok && seen.has(object)) {
      out.problems.push({ source, object, field: 'metadata.name', message: 'appears twice in this file (the first is kept)' });
      return;
    }
    if (r.ok) {
      seen.add(object);
      out.policies.push(r.policy);
      return;
    }
    if (r.key) out.refusedKeys.push(r.key);
    for (const p of r.problems) out.problems.push({ source, object, ...p });
  });
  return out;
}

/**
 * Reads a policy file's text: JSON (`format` json) or YAML documents separated by `---`; each document one object,
 * a list, or a List. A syntax error refuses the whole file (`unreadable`), naming the document and the line.
 */
export function parsePolicyText(text: string, source: string, format: 'yaml' | 'json'): ParsedFile {
  const unreadable = (object: string, message: string): ParsedFile => ({
    policies: [], refusedKeys: [], unreadable: true, problems: [{ source, object, field: '(syntax)', message }],
  });
  if (Buffer.byteLength(text) > POLICY_LIMITS.maxFileBytes) return unreadable('-', `the file is larger than ${POLICY_LIMITS.maxFileBytes} bytes`);
  try {
    if (format === 'json') {
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch (e) {
        return unreadable('#1', `not JSON: ${(e as Error).message}`);
      }
      return parsePolicyObjects(objectsOf(doc), source);
    }
    const docs = parseAllDocuments(text, { uniqueKeys: true });
    const list = Array.isArray(docs) ? docs : [docs];
    const objects: unknown[] = [];
    for (let i = 0; i < list.length; i++) {
      const d = list[i]!;
      const err = d.errors[0];
      if (err) return unreadable(`#${i + 1}`, `not YAML: ${err.message.split('\n')[0]}`);
      objects.push(...objectsOf(d.toJS({ maxAliasCount: 100 })));
    }
    return parsePolicyObjects(objects, source);
  } catch (e) {
    return unreadable('-', `could not be read: ${String((e as Error)?.message ?? e).slice(0, 200)}`);
  }
}
