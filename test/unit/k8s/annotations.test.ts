// The one validation table of ztmesh annotations: every annotation refuses what would fail later (in the init
// container, the sidecar or the API server), naming itself, and accepts what works; unknown ztmesh.io/* names warn.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ANNOTATIONS, readAnnotations } from '../../../src/k8s/annotations.js';
import { DEFAULT_INJECT_OPTIONS, injectPod, type PodLike } from '../../../src/k8s/inject.js';

const pod = (annotations: Record<string, string>): PodLike => ({
  metadata: { name: 'p', annotations },
  spec: { containers: [{ name: 'app', image: 'nginx', ports: [{ containerPort: 8080 }] }] },
});

/** For each annotation a user sets: values that must be refused and values that must pass. */
const CASES: Record<string, { bad: string[]; good: string[] }> = {
  'ztmesh.io/inject': { bad: ['enabled', 'yes'], good: ['true'] },
  'ztmesh.io/inbound-ports': { bad: ['http', '', '70000', '0', '80,x'], good: ['*', '8080, 8443'] },
  'ztmesh.io/exclude-inbound-ports': { bad: ['-1', 'a'], good: ['9901'] },
  'ztmesh.io/exclude-outbound-cidrs': { bad: ['10.0.0.0/33', 'fd00::/129', '10.0.0.0', '10.0.0.256/8', 'fd00::/', ''], good: ['10.0.0.0/8,fd00::/8', '169.254.169.254/32'] },
  'ztmesh.io/allow': { bad: ['https://not-spiffe', 'spiffe://'], good: ['spiffe://cluster.local/ns/a/*'] },
  'ztmesh.io/ttl': { bad: ['soon', '5 minutes'], good: ['30m', '1h30m'] },
  'ztmesh.io/rewrite-probes': { bad: ['no', 'False'], good: ['false'] },
  'ztmesh.io/workload-api': { bad: ['no', 'off'], good: ['false', 'true'] },
  'ztmesh.io/outbound-policy': { bad: ['allow-any', 'REGISTRY_ONLY'], good: ['passthrough', 'registry-only'] },
  'ztmesh.io/passthrough-cidrs': { bad: ['10.0.0.0/33', 'fd00::/129', 'db.example.com'], good: ['10.96.0.1/32,fd00::/8'] },
  'ztmesh.io/passthrough-ports': { bad: ['5432,65536', 'postgres'], good: ['5432,6379'] },
  'ztmesh.io/inbound-mode': { bad: ['PERMISSIVE', 'off'], good: ['strict', 'permissive'] },
  'ztmesh.io/revoke-established': { bad: ['no', 'FALSE'], good: ['false', 'true'] },
  'ztmesh.io/proxy-cpu': { bad: ['fast', '-1', '100mm'], good: ['50m', '0.5', '2'] },
  'ztmesh.io/proxy-memory': { bad: ['lots', '128MB', '1.2.3Mi'], good: ['96Mi', '1e8', '100M'] },
  'ztmesh.io/proxy-cpu-limit': { bad: ['1 core'], good: ['1'] },
  'ztmesh.io/proxy-memory-limit': { bad: ['512 MiB'], good: ['512Mi', '1Gi'] },
  'ztmesh.io/app-metrics-port': { bad: ['9090,9091', 'metrics', '99999'], good: ['9090'] },
  'ztmesh.io/app-metrics-path': { bad: ['metrics', '/a b'], good: ['/stats/prometheus'] },
  'ztmesh.io/metrics-merge': { bad: ['off'], good: ['false'] },
};

describe('the ztmesh annotation table', () => {
  it('has a case here for every annotation a user sets', () => {
    const settable = Object.values(ANNOTATIONS).filter((r) => !('written' in r)).map((r) => r.name);
    expect(Object.keys(CASES).sort()).toEqual([...settable].sort());
  });

  for (const [name, { bad, good }] of Object.entries(CASES)) {
    it.each(bad)(`${name}: refuses %j at injection, naming the annotation`, (value) => {
      expect(() => injectPod(pod({ [name]: value }), DEFAULT_INJECT_OPTIONS))
        .toThrow(expect.objectContaining({ code: 'invalid_annotation', message: expect.stringContaining(`annotation ${name}: "${value}"`) }));
    });
    it.each(good)(`${name}: accepts %j`, (value) => {
      expect(() => readAnnotations({ [name]: value })).not.toThrow();
    });
  }

  it('an annotation under ztmesh.io/ that is not in the table is a warning (a typo is never silently ignored)', () => {
    expect(readAnnotations({ 'ztmesh.io/inbound-port': '8080', 'example.com/x': 'y' }).warnings)
      .toEqual(['annotation ztmesh.io/inbound-port is not a ztmesh annotation and is ignored (see docs/kubernetes.md "Annotations")']);
    const r = injectPod(pod({ 'ztmesh.io/inbound-port': '8080' }), DEFAULT_INJECT_OPTIONS);
    expect(r.outcome === 'injected' && r.warnings).toEqual([expect.stringContaining('ztmesh.io/inbound-port is not a ztmesh annotation')]);
  });

  it('a request above its limit is refused naming both annotations; raising the limit too passes', () => {
    expect(() => injectPod(pod({ 'ztmesh.io/proxy-memory': '512Mi' }), DEFAULT_INJECT_OPTIONS))
      .toThrow(/annotation ztmesh.io\/proxy-memory: "512Mi" is above the limit "384Mi" \(the default; set ztmesh.io\/proxy-memory-limit\)/);
    expect(() => injectPod(pod({ 'ztmesh.io/proxy-cpu': '2', 'ztmesh.io/proxy-cpu-limit': '500m' }), DEFAULT_INJECT_OPTIONS))
      .toThrow(/ztmesh.io\/proxy-cpu: "2" is above the limit "500m" \(ztmesh.io\/proxy-cpu-limit\)/);
    const r = injectPod(pod({ 'ztmesh.io/proxy-memory': '512Mi', 'ztmesh.io/proxy-memory-limit': '1Gi', 'ztmesh.io/proxy-cpu': '100m', 'ztmesh.io/proxy-cpu-limit': '1' }), DEFAULT_INJECT_OPTIONS);
    const sidecar = r.pod.spec!.initContainers!.find((c) => c.name === 'ztmesh-sidecar')!;
    expect(sidecar.resources).toEqual({ requests: { cpu: '100m', memory: '512Mi' }, limits: { cpu: '1', memory: '1Gi' } });
  });

  it('without resource annotations the sidecar gets the documented defaults (no CPU limit)', () => {
    const sidecar = injectPod(pod({}), DEFAULT_INJECT_OPTIONS).pod.spec!.initContainers!.find((c) => c.name === 'ztmesh-sidecar')!;
    expect(sidecar.resources).toEqual({ requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '384Mi' } });
  });

  it('docs/kubernetes.md lists every annotation of the table', () => {
    const doc = readFileSync(new URL('../../../docs/kubernetes.md', import.meta.url), 'utf8');
    for (const r of Object.values(ANNOTATIONS)) expect(doc, r.name).toContain(`| \`${r.name}\` |`);
  });
});
