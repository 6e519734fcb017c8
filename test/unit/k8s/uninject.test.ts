// Uninject gives back exactly what inject was given (every fixture, every mode); injecting an injected workload
// upgrades it (image, args, env) instead of skipping it; uninject removes nothing ztmesh did not add.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { injectManifests, rewriteManifests, uninjectTransform } from '../../../src/k8s/inject-manifest.js';
import { DEFAULT_INJECT_OPTIONS, injectPod, SIDECAR_NAME, type InjectOptions, type PodLike } from '../../../src/k8s/inject.js';
import { uninjectPod } from '../../../src/k8s/uninject.js';
import { ZTMESH_VERSION } from '../../../src/common/version.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const FIXTURES = ['workloads.yaml', 'bookinfo.yaml'].map((f) => readFileSync(new URL(`../../fixtures/k8s/${f}`, import.meta.url), 'utf8'));
const ADMISSION_POD = JSON.parse(readFileSync(new URL('../../fixtures/k8s/admission-review-pod-create.json', import.meta.url), 'utf8')).request.object as PodLike;
const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Obj);
const uninjectManifests = (text: string) => rewriteManifests(text, uninjectTransform);

const VARIANTS: [string, InjectOptions][] = [
  ['transparent, native', DEFAULT_INJECT_OPTIONS],
  ['explicit, native', { ...DEFAULT_INJECT_OPTIONS, mode: 'explicit' }],
  ['transparent, legacy', { ...DEFAULT_INJECT_OPTIONS, legacySidecar: true }],
];

const probed: PodLike = {
  metadata: { name: 'p', annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090' }, labels: { app: 'p' } },
  spec: {
    containers: [{
      name: 'app', image: 'nginx', ports: [{ name: 'http', containerPort: 8080 }, { containerPort: 9090 }],
      readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 3 },
      livenessProbe: { tcpSocket: { port: 8080 } },
    }],
  },
};

describe('uninject(inject(x)) == x', () => {
  for (const [variant, options] of VARIANTS) {
    it(`every fixture document, ${variant}`, () => {
      for (const fixture of FIXTURES) {
        const injected = injectManifests(fixture, options).output;
        expect(injected).not.toBe(fixture);
        expect(docs(uninjectManifests(injected).output)).toEqual(docs(fixture));
      }
    });

    it(`a pod with probes, prometheus annotations and no volumes, ${variant}`, () => {
      const r = injectPod(probed, options);
      expect(r.outcome).toBe('injected');
      const back = uninjectPod(r.pod);
      expect(back.outcome).toBe('uninjected');
      expect(back.pod).toEqual(probed);
    });

    it(`the recorded AdmissionReview pod, ${variant}`, () => {
      expect(uninjectPod(injectPod(ADMISSION_POD, options).pod).pod).toEqual(ADMISSION_POD);
    });
  }

  it('app containers get back their env and mounts as they were, Workload API socket removed, their own SPIFFE_ENDPOINT_SOCKET kept', () => {
    const own = { name: 'SPIFFE_ENDPOINT_SOCKET', value: 'unix:///elsewhere.sock' };
    const pod: PodLike = { metadata: { name: 'p' }, spec: { containers: [
      { name: 'bare', image: 'x' },
      { name: 'busy', image: 'y', env: [{ name: 'A', value: '1' }], volumeMounts: [{ name: 'data', mountPath: '/d' }] },
      { name: 'own', image: 'z', env: [own] },
    ], volumes: [{ name: 'data', emptyDir: {} }] } };
    const injected = injectPod(pod, DEFAULT_INJECT_OPTIONS).pod;
    expect(injected.spec!.containers!.map((c) => (c.env ?? []).map((e) => e.name))).toEqual([['SPIFFE_ENDPOINT_SOCKET'], ['A', 'SPIFFE_ENDPOINT_SOCKET'], ['SPIFFE_ENDPOINT_SOCKET']]);
    expect(uninjectPod(injected).pod).toEqual(pod);
  });

  it('a pod without metadata comes back without metadata', () => {
    const bare: PodLike = { spec: { containers: [{ name: 'a', image: 'x' }] } };
    expect(uninjectPod(injectPod(bare, DEFAULT_INJECT_OPTIONS).pod).pod).toEqual(bare);
  });

  it('the uninject notes name each object; objects that were not injected are left byte for byte', () => {
    const { output, notes } = uninjectManifests(FIXTURES[0]!);
    expect(output).toBe(FIXTURES[0]);
    expect(notes.find((n) => n.name === 'web' && n.kind === 'Deployment')?.outcome).toBe('unchanged: not_injected');
  });
});

describe('uninject removes only what ztmesh added', () => {
  it('a ztmesh-sidecar container without the status annotation is not ztmesh\'s: nothing is removed', () => {
    const pod: PodLike = { metadata: { name: 'x' }, spec: { containers: [{ name: SIDECAR_NAME, image: 'mine' }], volumes: [{ name: 'ztmesh-token', emptyDir: {} }] } };
    expect(uninjectPod(pod)).toEqual({ outcome: 'skipped', pod, reason: 'foreign_sidecar' });
  });

  it('containers and volumes the user added after injection stay', () => {
    const injected = injectPod(probed, DEFAULT_INJECT_OPTIONS).pod as Obj;
    injected.spec.containers.push({ name: 'later', image: 'x' });
    injected.spec.volumes.push({ name: 'data', emptyDir: {} });
    const back = uninjectPod(injected).pod as Obj;
    expect(back.spec.containers.map((c: Obj) => c.name)).toEqual(['app', 'later']);
    expect(back.spec.volumes).toEqual([{ name: 'data', emptyDir: {} }]);
  });

  it('a status annotation that is not JSON is refused, naming it', () => {
    const injected = injectPod(probed, DEFAULT_INJECT_OPTIONS).pod as Obj;
    injected.metadata.annotations['ztmesh.io/status'] = 'oops';
    expect(() => uninjectPod(injected)).toThrow(expect.objectContaining({ code: 'invalid_annotation', message: expect.stringContaining('ztmesh.io/status') }));
  });

  it('a pod injected by the first shape of the record (no restore data) gets its probes back from the sidecar\'s copy', () => {
    const injected = injectPod(probed, DEFAULT_INJECT_OPTIONS).pod as Obj;
    // What the first injector wrote: no restore data, no label, no prometheus rewrite, no version annotation.
    const status = JSON.parse(injected.metadata.annotations['ztmesh.io/status']);
    injected.metadata.annotations = { ...probed.metadata!.annotations, 'ztmesh.io/status': JSON.stringify({ version: '1', mode: status.mode, sidecar: status.sidecar, initContainers: status.initContainers, volumes: status.volumes }) };
    injected.metadata.labels = { app: 'p' };
    const back = uninjectPod(injected).pod as Obj;
    const app = back.spec.containers[0];
    expect(app.readinessProbe).toEqual({ httpGet: { path: '/ready', port: 8080, scheme: 'HTTP' }, periodSeconds: 3, timeoutSeconds: 1 });
    expect(app.livenessProbe).toEqual({ tcpSocket: { port: 8080 }, timeoutSeconds: 1 });
    expect(back.spec.initContainers).toBeUndefined();
    expect(back.metadata.annotations).toEqual(probed.metadata!.annotations);
  });
});

describe('injecting an injected workload upgrades it', () => {
  const sidecarOf = (p: PodLike) => [...(p.spec!.initContainers ?? []), ...p.spec!.containers!].find((c) => c.name === SIDECAR_NAME) as Obj;

  it('a new image (and CA address) replaces the sidecar\'s and the init container\'s; the pod is otherwise what a fresh injection gives', () => {
    const old = injectPod(probed, { ...DEFAULT_INJECT_OPTIONS, image: 'ghcr.io/ztmesh/ztmesh:0.0.9' }).pod as Obj;
    old.metadata.annotations['ztmesh.io/version'] = '0.0.9';
    const next: InjectOptions = { ...DEFAULT_INJECT_OPTIONS, image: 'registry.example/ztmesh:9.9.9', caAddress: 'ca.example:15012' };
    const r = injectPod(old, next);
    expect(r).toMatchObject({ outcome: 'injected', upgradedFrom: '0.0.9' });
    expect(r.pod).toEqual(injectPod(probed, next).pod);
    expect(r.pod.spec!.initContainers!.map((c) => c.image)).toEqual(['registry.example/ztmesh:9.9.9', 'registry.example/ztmesh:9.9.9']);
    expect(sidecarOf(r.pod).env.find((e: Obj) => e.name === 'ZTMESH_CA_ADDRESS').value).toBe('ca.example:15012');
    expect(r.pod.metadata!.annotations!['ztmesh.io/version']).toBe(ZTMESH_VERSION);
  });

  it('keeps the mode and sidecar kind the workload was injected with', () => {
    const explicitLegacy = injectPod(probed, { ...DEFAULT_INJECT_OPTIONS, mode: 'explicit', legacySidecar: true, image: 'old' }).pod;
    const r = injectPod(explicitLegacy, DEFAULT_INJECT_OPTIONS);
    expect(r.outcome).toBe('injected');
    expect(r.pod).toEqual(injectPod(probed, { ...DEFAULT_INJECT_OPTIONS, mode: 'explicit', legacySidecar: true }).pod);
  });

  it('a pod injected by this version with these options is up to date', () => {
    const once = injectPod(probed, DEFAULT_INJECT_OPTIONS).pod;
    expect(injectPod(once, DEFAULT_INJECT_OPTIONS)).toEqual({ outcome: 'skipped', pod: once, reason: 'up_to_date' });
  });

  it('the CLI path names the upgrade in its notes', () => {
    const old = injectManifests(FIXTURES[0]!, { ...DEFAULT_INJECT_OPTIONS, image: 'old:1' }).output;
    const { notes, output } = injectManifests(old, DEFAULT_INJECT_OPTIONS);
    expect(notes.find((n) => n.kind === 'Deployment')?.outcome).toBe(`upgraded (injected by ztmesh ${ZTMESH_VERSION}, now ${ZTMESH_VERSION})`);
    expect(output).toBe(injectManifests(FIXTURES[0]!, DEFAULT_INJECT_OPTIONS).output);
  });
});
