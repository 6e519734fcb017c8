import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { appHealthPath, resolvePort, rewriteProbes } from '../../../src/k8s/probe-rewrite.js';
import { injectPod, DEFAULT_INJECT_OPTIONS, SIDECAR_NAME, type ContainerLike, type PodLike } from '../../../src/k8s/inject.js';
import { loadSidecarConfig } from '../../../src/sidecar/config.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const opts = { intercepted: (p: number) => p !== 9901, healthPort: 15021 };
const app = (probes: Obj, ports: Obj[] = [{ name: 'http', containerPort: 8080 }]): ContainerLike => ({ name: 'app', image: 'a', ports, ...probes });

describe('rewriteProbes', () => {
  it('httpGet on a named port, with a header: rewritten to the health port; the original keeps the header and resolved port', () => {
    const r = rewriteProbes([app({ livenessProbe: { httpGet: { path: '/live', port: 'http', httpHeaders: [{ name: 'X-A', value: '1' }] }, periodSeconds: 3, timeoutSeconds: 2 } })], opts);
    expect(r.containers[0]!.livenessProbe).toEqual({ httpGet: { path: '/app-health/app/livez', port: 15021 }, periodSeconds: 3, timeoutSeconds: 2 });
    expect(r.appProbes).toEqual({ '/app-health/app/livez': { httpGet: { path: '/live', port: 8080, scheme: 'HTTP', httpHeaders: [{ name: 'X-A', value: '1' }] }, timeoutSeconds: 2 } });
  });

  it('tcpSocket and grpc become httpGet too; every timing field is kept', () => {
    const timing = { initialDelaySeconds: 5, timeoutSeconds: 3, periodSeconds: 7, successThreshold: 1, failureThreshold: 9, terminationGracePeriodSeconds: 11 };
    const r = rewriteProbes([app({ readinessProbe: { tcpSocket: { port: 8080 }, ...timing }, startupProbe: { grpc: { port: 9090, service: 's' } } })], opts);
    expect(r.containers[0]!.readinessProbe).toEqual({ httpGet: { path: '/app-health/app/readyz', port: 15021 }, ...timing });
    expect(r.containers[0]!.startupProbe).toEqual({ httpGet: { path: '/app-health/app/startupz', port: 15021 } });
    expect(r.appProbes['/app-health/app/readyz']).toEqual({ tcpSocket: { port: 8080 }, timeoutSeconds: 3 });
    expect(r.appProbes['/app-health/app/startupz']).toEqual({ grpc: { port: 9090, service: 's' }, timeoutSeconds: 1 });
  });

  it.each([
    ['exec', { exec: { command: ['true'] } }],
    ['a port that is not intercepted', { httpGet: { path: '/', port: 9901 } }],
    ['another host', { httpGet: { path: '/', port: 8080, host: '10.0.0.9' } }],
    ['a named port the container lacks', { tcpSocket: { port: 'admin' } }],
    ['digits in a string (a name to the kubelet)', { tcpSocket: { port: '8080' } }],
  ])('leaves %s unchanged', (_what, probe) => {
    const input = [app({ livenessProbe: probe })];
    const r = rewriteProbes(input, opts);
    expect(r.containers[0]).toBe(input[0]);
    expect(r.appProbes).toEqual({});
  });

  it('is idempotent: rewriting its own output changes nothing', () => {
    fc.assert(fc.property(
      fc.constantFrom<Obj>({ httpGet: { path: '/h', port: 'http' } }, { tcpSocket: { port: 8080 } }, { grpc: { port: 8080 } }, { exec: { command: ['x'] } }, { httpGet: { port: 9901 } }),
      fc.constantFrom('livenessProbe', 'readinessProbe', 'startupProbe'),
      fc.nat({ max: 30 }),
      (handler, field, period) => {
        const once = rewriteProbes([app({ [field]: { ...handler, periodSeconds: period + 1 } })], opts);
        const twice = rewriteProbes(once.containers, opts);
        expect(twice.containers).toEqual(once.containers);
        expect(twice.appProbes).toEqual({});
      },
    ));
  });

  it('names the field of a malformed probe', () => {
    expect(() => rewriteProbes([app({ readinessProbe: { httpGet: 'x' } })], opts)).toThrow(/spec\.containers\[0\]\.readinessProbe\.httpGet: must be a mapping/);
  });

  it('resolves ports as the kubelet does', () => {
    const c = app({}, [{ name: 'http', containerPort: 8080 }]);
    expect([resolvePort(80, c), resolvePort('http', c), resolvePort('8080', c), resolvePort(0, c), resolvePort(null, c)]).toEqual([80, 8080, undefined, undefined, undefined]);
    expect(appHealthPath('web', 'startupProbe')).toBe('/app-health/web/startupz');
  });
});

describe('injectPod and app probes', () => {
  const pod = (annotations: Record<string, string> = {}, containers?: Obj[], initContainers?: Obj[]): PodLike => ({
    metadata: { annotations },
    spec: {
      containers: (containers ?? [app({ livenessProbe: { httpGet: { path: '/h', port: 'http' } } })]) as ContainerLike[],
      ...(initContainers ? { initContainers: initContainers as ContainerLike[] } : {}),
    },
  });
  const sidecarEnv = (p: PodLike) => ([...(p.spec!.initContainers ?? []), ...p.spec!.containers!].find((c) => c.name === SIDECAR_NAME)!.env as Obj[]);

  it('hands the originals to the sidecar in ZTMESH_APP_PROBES, which the sidecar config accepts', () => {
    const r = injectPod(pod(), DEFAULT_INJECT_OPTIONS);
    const value = sidecarEnv(r.pod).find((e) => e.name === 'ZTMESH_APP_PROBES')!.value as string;
    const config = loadSidecarConfig({ env: { ZTMESH_APP_PROBES: value } });
    expect(config.appProbes).toEqual({ '/app-health/app/livez': { httpGet: { path: '/h', port: 8080, scheme: 'HTTP', httpHeaders: [] }, timeoutSeconds: 1 } });
    expect(r.pod.spec!.containers![0]!.livenessProbe).toEqual({ httpGet: { path: '/app-health/app/livez', port: 15021 } });
  });

  it('ztmesh.io/rewrite-probes: "false" leaves every probe and adds no ZTMESH_APP_PROBES; another value is refused', () => {
    const r = injectPod(pod({ 'ztmesh.io/rewrite-probes': 'false' }), DEFAULT_INJECT_OPTIONS);
    expect(r.pod.spec!.containers![0]!.livenessProbe).toEqual({ httpGet: { path: '/h', port: 'http' } });
    expect(sidecarEnv(r.pod).some((e) => e.name === 'ZTMESH_APP_PROBES')).toBe(false);
    expect(() => injectPod(pod({ 'ztmesh.io/rewrite-probes': 'no' }), DEFAULT_INJECT_OPTIONS)).toThrow(/ztmesh.io\/rewrite-probes: "no" is not one of "true", "false"/);
  });

  it('a port listed in ztmesh.io/exclude-inbound-ports, or outside ztmesh.io/inbound-ports, keeps its probe', () => {
    for (const a of [{ 'ztmesh.io/exclude-inbound-ports': '8080' }, { 'ztmesh.io/inbound-ports': '9000' }] as Record<string, string>[]) {
      const r = injectPod(pod(a), DEFAULT_INJECT_OPTIONS);
      expect(r.pod.spec!.containers![0]!.livenessProbe, JSON.stringify(a)).toEqual({ httpGet: { path: '/h', port: 'http' } });
    }
  });

  it('explicit mode rewrites probes of the ports the sidecar fronts (the app listens on loopback)', () => {
    const r = injectPod(pod(), { ...DEFAULT_INJECT_OPTIONS, mode: 'explicit' });
    expect(r.pod.spec!.containers![0]!.livenessProbe).toEqual({ httpGet: { path: '/app-health/app/livez', port: 15021 } });
  });

  it('rewrites the probes of the pod\'s own native sidecars, not those of plain init containers', () => {
    const probe = { readinessProbe: { tcpSocket: { port: 8080 } } };
    const r = injectPod(pod({}, undefined, [{ name: 'proxy', restartPolicy: 'Always', ...probe }, { name: 'setup', ...probe }]), DEFAULT_INJECT_OPTIONS);
    const inits = r.pod.spec!.initContainers!;
    expect(inits.find((c) => c.name === 'proxy')!.readinessProbe).toEqual({ httpGet: { path: '/app-health/proxy/readyz', port: 15021 } });
    expect(inits.find((c) => c.name === 'setup')!.readinessProbe).toEqual({ tcpSocket: { port: 8080 } });
  });

  it('warns about a hostPort, and not without one', () => {
    const withHostPort = injectPod(pod({}, [{ name: 'app', ports: [{ containerPort: 8080, hostPort: 80 }] }]), DEFAULT_INJECT_OPTIONS);
    expect(withHostPort.outcome === 'injected' && withHostPort.warnings).toEqual([expect.stringMatching(/^container app uses hostPort 80: .*mTLS/)]);
    const plain = injectPod(pod(), DEFAULT_INJECT_OPTIONS);
    expect(plain.outcome === 'injected' && plain.warnings).toEqual([]);
  });
});
