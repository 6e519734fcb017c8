// Injection refuses what would fail later (app ports and probes on the sidecar's ports), warns where the pod will
// surprise its author (an intercepted hostPort, a legacy sidecar in a Job), and stays quiet where nothing will go wrong.
import { describe, expect, it } from 'vitest';
import { injectObject } from '../../../src/k8s/inject-manifest.js';
import { DEFAULT_INJECT_OPTIONS, injectPod, type InjectOptions, type PodLike } from '../../../src/k8s/inject.js';
import { LEGACY_JOB_WARNING } from '../../../src/k8s/inject-checks.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const app = (extra: Obj = {}): Obj => ({ name: 'app', image: 'nginx', ports: [{ containerPort: 8080 }], ...extra });
const pod = (container: Obj = app(), annotations: Record<string, string> = {}, spec: Obj = {}): PodLike =>
  ({ metadata: { name: 'p', annotations }, spec: { containers: [container], ...spec } });
const warnings = (p: PodLike, o: InjectOptions = DEFAULT_INJECT_OPTIONS, kind?: string) => {
  const r = injectPod(p, o, '', kind ? { kind } : {});
  return r.outcome === 'injected' ? r.warnings : [];
};

describe('app ports and probes on the sidecar\'s ports are refused, naming the field', () => {
  it.each([15000, 15001, 15006, 15020, 15021])('a containerPort %i', (port) => {
    expect(() => injectPod(pod(app({ ports: [{ containerPort: 8080 }, { containerPort: port }] })), DEFAULT_INJECT_OPTIONS))
      .toThrow(expect.objectContaining({ code: 'port_conflict', message: expect.stringContaining(`spec.containers[0].ports[1].containerPort: ${port} is a port of the ztmesh sidecar`) }));
  });

  it('a UDP port of the same number is fine (the sidecar listens on TCP)', () => {
    expect(injectPod(pod(app({ ports: [{ containerPort: 15020, protocol: 'UDP' }] })), DEFAULT_INJECT_OPTIONS).outcome).toBe('injected');
  });

  it.each([
    ['readinessProbe', 'httpGet', { path: '/', port: 15021 }],
    ['livenessProbe', 'tcpSocket', { port: 15000 }],
    ['startupProbe', 'grpc', { port: 15006 }],
  ])('a %s.%s on a sidecar port', (field, handler, h) => {
    expect(() => injectPod(pod(app({ [field]: { [handler]: h } })), DEFAULT_INJECT_OPTIONS))
      .toThrow(expect.objectContaining({ code: 'port_conflict', message: expect.stringContaining(`spec.containers[0].${field}.${handler}.port`) }));
  });

  it('a probe of another host on such a port is not the pod\'s: allowed', () => {
    expect(injectPod(pod(app({ readinessProbe: { httpGet: { host: '10.0.0.1', port: 15021 } } })), DEFAULT_INJECT_OPTIONS).outcome).toBe('injected');
  });

  it('explicit mode: the ports of its inbound listeners (15006 upwards, one per app port) are the sidecar\'s too', () => {
    const two = app({ ports: [{ containerPort: 8080 }, { containerPort: 15007 }] });
    expect(() => injectPod(pod(two), { ...DEFAULT_INJECT_OPTIONS, mode: 'explicit' })).toThrow(/ports\[1\]\.containerPort: 15007 is a port of the ztmesh sidecar/);
    // In transparent mode 15007 is an ordinary app port.
    expect(injectPod(pod(two), DEFAULT_INJECT_OPTIONS).outcome).toBe('injected');
  });

  it('annotations that name a sidecar port as the app\'s are refused', () => {
    expect(() => injectPod(pod(app(), { 'ztmesh.io/inbound-ports': '8080,15001' }), DEFAULT_INJECT_OPTIONS)).toThrow(/annotation ztmesh.io\/inbound-ports: "8080,15001" names 15001/);
    expect(() => injectPod(pod(app(), { 'ztmesh.io/app-metrics-port': '15020' }), DEFAULT_INJECT_OPTIONS)).toThrow(/annotation ztmesh.io\/app-metrics-port: "15020" names 15020/);
  });

  it('the Deployment path names the template', () => {
    const d = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { template: pod(app({ ports: [{ containerPort: 15000 }] })) } };
    expect(() => injectObject(d, DEFAULT_INJECT_OPTIONS, [])).toThrow(/^Deployment\/d: spec\.template\.spec\.containers\[0\]\.ports\[0\]\.containerPort: 15000/);
  });
});

describe('warnings', () => {
  const hostPort = (extra: Obj = {}) => app({ ports: [{ containerPort: 8080, hostPort: 80 }, { containerPort: 9901, hostPort: 9901 }], ...extra });

  it('an intercepted hostPort warns; one whose port is excluded does not', () => {
    expect(warnings(pod(hostPort()))).toEqual([
      expect.stringContaining('container app uses hostPort 80: connections through the node\'s port are intercepted'),
      expect.stringContaining('container app uses hostPort 9901'),
    ]);
    expect(warnings(pod(hostPort(), { 'ztmesh.io/exclude-inbound-ports': '9901' }))).toEqual([expect.stringContaining('hostPort 80:')]);
    expect(warnings(pod(hostPort(), { 'ztmesh.io/inbound-ports': '8080' }))).toEqual([expect.stringContaining('hostPort 80:')]);
    expect(warnings(pod(hostPort(), { 'ztmesh.io/exclude-inbound-ports': '8080,9901' }))).toEqual([]);
  });

  it('--legacy-sidecar on a Job, a CronJob or a pod a Job owns warns that it will never complete; elsewhere it does not', () => {
    const legacy = { ...DEFAULT_INJECT_OPTIONS, legacySidecar: true };
    expect(warnings(pod(), legacy, 'Job')).toEqual([LEGACY_JOB_WARNING]);
    expect(warnings(pod(), legacy, 'CronJob')).toEqual([LEGACY_JOB_WARNING]);
    const owned: PodLike = { ...pod(), metadata: { name: 'p', ownerReferences: [{ kind: 'Job', name: 'j' }] } };
    expect(warnings(owned, legacy)).toEqual([LEGACY_JOB_WARNING]);
    expect(warnings(pod(), legacy, 'Deployment')).toEqual([]);
    expect(warnings(pod(), DEFAULT_INJECT_OPTIONS, 'Job')).toEqual([]);
    // Through the manifest path, the kind comes from the object.
    const notes: { kind: string; name: string; outcome: string; warnings?: string[] }[] = [];
    injectObject({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'migrate' }, spec: { template: pod() } }, legacy, notes);
    expect(notes[0]!.warnings).toEqual([LEGACY_JOB_WARNING]);
  });

  it('transparent-only annotations warn in explicit mode', () => {
    expect(warnings(pod(app(), { 'ztmesh.io/inbound-mode': 'permissive' }), { ...DEFAULT_INJECT_OPTIONS, mode: 'explicit' }))
      .toEqual(['annotation ztmesh.io/inbound-mode applies to transparent mode only and is ignored in explicit mode']);
  });
});

describe('issue 20\'s injection contract', () => {
  it('every injected pod carries the label ztmesh.io/meshed: "true"; the Deployment\'s selector is untouched', () => {
    const d = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { selector: { matchLabels: { app: 'd' } }, template: { ...pod(), metadata: { labels: { app: 'd' } } } } };
    const out = injectObject(d, DEFAULT_INJECT_OPTIONS, []) as Obj;
    expect(out.spec.template.metadata.labels).toEqual({ app: 'd', 'ztmesh.io/meshed': 'true' });
    expect(out.spec.selector).toEqual({ matchLabels: { app: 'd' } });
  });

  it('the mesh annotations become exactly the env the contract names; without them none is written', () => {
    const envOf = (p: PodLike) => Object.fromEntries((p.spec!.initContainers!.find((c) => c.name === 'ztmesh-sidecar')!.env!).map((e) => [e.name, e.value]));
    const env = envOf(injectPod(pod(app(), {
      'ztmesh.io/outbound-policy': 'registry-only', 'ztmesh.io/passthrough-ports': '5432', 'ztmesh.io/inbound-mode': 'strict',
    }), DEFAULT_INJECT_OPTIONS).pod);
    expect(env.ZTMESH_TRANSPARENT_OUTBOUND_POLICY).toBe('registry-only');
    expect(env.ZTMESH_TRANSPARENT_PASSTHROUGH).toBe('{"cidrs":[],"ports":[5432]}');
    expect(env.ZTMESH_TRANSPARENT_INBOUND_MODE).toBe('strict');
    const plain = envOf(injectPod(pod(), DEFAULT_INJECT_OPTIONS).pod);
    for (const k of ['ZTMESH_TRANSPARENT_OUTBOUND_POLICY', 'ZTMESH_TRANSPARENT_PASSTHROUGH', 'ZTMESH_TRANSPARENT_INBOUND_MODE']) expect(plain[k]).toBeUndefined();
  });
});
