// Removing an injection: gives back the pod as it was before `injectPod`, from what the ztmesh.io/status annotation
// recorded (the containers and volumes added, the previous values of the labels and annotations set, the original
// probes, the fields created). Pure. `ztmesh uninject` calls it, and so does re-injection (an upgrade).
//
// Invariants: it removes only what the record names (never a container or volume ztmesh did not add); for a record of
// the current shape, uninjectPod(injectPod(x)) deep-equals x; records of the first shape ("1", which kept no originals)
// get their probes back from the sidecar's ZTMESH_APP_PROBES, equal in meaning though not always in spelling.
import { ConfigError } from '../common/errors.js';
import { PORTS } from '../common/mesh.js';
import { ANNOTATION } from './annotations.js';
import { BUNDLE_VOLUME, INIT_NAME, SIDECAR_NAME, TOKEN_VOLUME, checkPodShape, type ContainerLike, type PodLike, type PodSpecLike } from './pod-shape.js';
import { APP_HEALTH_PREFIX, PROBE_FIELDS, TIMING_FIELDS, type AppProbe } from './probe-rewrite.js';

/** What ztmesh.io/status holds (JSON). */
export interface InjectionRecord {
  /** The record's shape: "1" (no restore data) or "2". */
  version: string;
  mode: 'transparent' | 'explicit';
  sidecar: 'native' | 'legacy';
  initContainers: string[];
  /** Regular containers added (the legacy sidecar). */
  containers?: string[];
  volumes: string[];
  restore: {
    /** Each label and annotation set, with its value before (null: it was absent). */
    labels?: Record<string, string | null>;
    annotations?: Record<string, string | null>;
    /** Container name → probe field → the original probe. */
    probes?: Record<string, Record<string, unknown>>;
    /** Fields that did not exist before ("metadata", "metadata.labels", "spec.volumes", ...). */
    created?: string[];
    /** App container name → the env variables and volume mounts added to it (the Workload API), by name. */
    containerItems?: Record<string, { env?: string[]; volumeMounts?: string[]; created?: ('env' | 'volumeMounts')[] }>;
  };
}

export type UninjectResult =
  | { outcome: 'uninjected'; pod: PodLike; record: InjectionRecord }
  | { outcome: 'skipped'; pod: PodLike; reason: 'not_injected' | 'foreign_sidecar' };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Parses the status annotation; ConfigError `invalid_annotation` naming it when it is not a record ztmesh wrote. */
export function parseRecord(text: string): InjectionRecord {
  const bad = (why: string): never => {
    throw new ConfigError('invalid_annotation', `annotation ${ANNOTATION.status}: ${why}; it is written by ztmesh inject: remove it by hand only with what it names`);
  };
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch {
    return bad('is not JSON');
  }
  if (!isObj(r)) return bad('is not a JSON object');
  const mode = r.mode ?? 'transparent';
  const sidecar = r.sidecar ?? 'native';
  if (mode !== 'transparent' && mode !== 'explicit') return bad(`has mode ${JSON.stringify(mode)}`);
  if (sidecar !== 'native' && sidecar !== 'legacy') return bad(`has sidecar ${JSON.stringify(sidecar)}`);
  const initContainers = r.initContainers ?? (mode === 'transparent' ? [INIT_NAME] : []).concat(sidecar === 'native' ? [SIDECAR_NAME] : []);
  const volumes = r.volumes ?? [TOKEN_VOLUME, BUNDLE_VOLUME];
  const containers = r.containers ?? (sidecar === 'legacy' ? [SIDECAR_NAME] : []);
  if (!strings(initContainers) || !strings(volumes) || !strings(containers)) return bad('names containers or volumes that are not strings');
  const restore = isObj(r.restore) ? r.restore : {};
  return { version: String(r.version ?? '1'), mode, sidecar, initContainers, containers, volumes, restore: restore as InjectionRecord['restore'] };
}

/**
 * The pod without ztmesh: what injectPod was given. A pod with a ztmesh-sidecar container but no status annotation
 * is skipped (`foreign_sidecar`): ztmesh did not write it, so it removes nothing from it. Never mutates its input.
 */
export function uninjectPod(input: PodLike, at = ''): UninjectResult {
  checkPodShape(input, at);
  const text = input.metadata?.annotations?.[ANNOTATION.status];
  if (text === undefined) {
    const containers = [...(input.spec?.containers ?? []), ...(input.spec?.initContainers ?? [])];
    return { outcome: 'skipped', pod: input, reason: containers.some((c) => c.name === SIDECAR_NAME) ? 'foreign_sidecar' : 'not_injected' };
  }
  const record = parseRecord(text);
  const pod = structuredClone(input) as PodLike & { spec: PodSpecLike; metadata: NonNullable<PodLike['metadata']> };
  const spec = (pod.spec ??= {});
  const appProbes = sidecarAppProbes(spec);
  const added = new Set([...record.initContainers, ...(record.containers ?? [])]);
  if (spec.initContainers) spec.initContainers = spec.initContainers.filter((c) => !added.has(c.name ?? ''));
  if (spec.containers) spec.containers = spec.containers.filter((c) => !added.has(c.name ?? ''));
  if (spec.volumes) spec.volumes = spec.volumes.filter((v) => !record.volumes.includes(String(v.name)));

  const items = record.restore.containerItems ?? {};
  spec.containers = spec.containers?.map((c) => withoutItems(c, items[c.name ?? '']));
  if (spec.containers === undefined) delete spec.containers;
  const probes = record.restore.probes;
  for (const list of [spec.containers, spec.initContainers]) {
    list?.forEach((c, i) => { list[i] = probes ? withProbes(c, probes[c.name ?? '']) : withProbesFromSidecar(c, appProbes); });
  }

  const metadata = pod.metadata;
  for (const map of ['labels', 'annotations'] as const) {
    const m = metadata[map];
    if (!m) continue;
    for (const [k, before] of Object.entries(record.restore[map] ?? {})) {
      if (before === null) delete m[k];
      else m[k] = before;
    }
  }
  delete metadata.annotations?.[ANNOTATION.status];
  // The first shape recorded no created fields: empty lists it leaves mean the same to Kubernetes as none.
  const created = record.version === '1' ? ['spec.initContainers', 'spec.volumes'] : record.restore.created ?? [];
  for (const path of [...created].sort((a, b) => b.length - a.length)) removeIfEmpty(pod, path);
  return { outcome: 'uninjected', pod, record };
}

/** A container without the env variables and volume mounts injection added to it (and lists it created, if empty). */
function withoutItems(c: ContainerLike, added: NonNullable<InjectionRecord['restore']['containerItems']>[string] | undefined): ContainerLike {
  if (!added) return c;
  const out: ContainerLike = { ...c };
  for (const field of ['env', 'volumeMounts'] as const) {
    const names = added[field] ?? [];
    const list = out[field];
    if (!Array.isArray(list) || names.length === 0) continue;
    const kept = (list as { name?: string }[]).filter((x) => !names.includes(x.name ?? ''));
    if (kept.length === 0 && added.created?.includes(field)) delete out[field];
    else out[field] = kept as ContainerLike['env'];
  }
  return out;
}

function withProbes(c: ContainerLike, originals: Record<string, unknown> | undefined): ContainerLike {
  if (!originals) return c;
  const out = { ...c };
  for (const [field, probe] of Object.entries(originals)) {
    if (probe === undefined) delete out[field];
    else out[field] = probe;
  }
  return out;
}

/** The sidecar's ZTMESH_APP_PROBES (a record of shape "1" keeps the original probes nowhere else). */
function sidecarAppProbes(spec: PodSpecLike): Record<string, AppProbe> {
  const sidecar = [...(spec.initContainers ?? []), ...(spec.containers ?? [])].find((c) => c.name === SIDECAR_NAME);
  const value = sidecar?.env?.find((e) => e.name === 'ZTMESH_APP_PROBES')?.value;
  try {
    return value ? (JSON.parse(value) as Record<string, AppProbe>) : {};
  } catch {
    return {};
  }
}

/** Rebuilds each probe that points at /app-health/… on the health port from the sidecar's copy of the original. */
function withProbesFromSidecar(c: ContainerLike, appProbes: Record<string, AppProbe>): ContainerLike {
  let out: ContainerLike | undefined;
  for (const field of Object.keys(PROBE_FIELDS)) {
    const probe = c[field];
    const get = isObj(probe) && isObj(probe.httpGet) ? probe.httpGet : undefined;
    if (!get || get.port !== PORTS.sidecarHealth || typeof get.path !== 'string' || !get.path.startsWith(APP_HEALTH_PREFIX)) continue;
    const original = appProbes[get.path];
    if (!original) continue;
    const { timeoutSeconds, ...handler } = original;
    const rebuilt: Obj = { ...handler };
    for (const f of TIMING_FIELDS) if ((probe as Obj)[f] !== undefined) rebuilt[f] = (probe as Obj)[f];
    rebuilt.timeoutSeconds = (probe as Obj).timeoutSeconds ?? timeoutSeconds;
    out ??= { ...c };
    out[field] = rebuilt;
  }
  return out ?? c;
}

function removeIfEmpty(root: Obj, path: string): void {
  const parts = path.split('.');
  let parent: unknown = root;
  for (const p of parts.slice(0, -1)) parent = isObj(parent) ? parent[p] : undefined;
  if (!isObj(parent)) return;
  const last = parts.at(-1)!;
  const v = parent[last];
  if ((Array.isArray(v) && v.length === 0) || (isObj(v) && Object.keys(v).length === 0)) delete parent[last];
}
