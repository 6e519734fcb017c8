// Contract between the injector and `ztmesh sidecar`: the environment the injector writes is exactly
// what the sidecar's config loader reads, and it yields the config the injector meant.
import { describe, expect, it } from 'vitest';
import { injectPod, DEFAULT_INJECT_OPTIONS, SIDECAR_NAME, type PodLike } from '../../../src/k8s/inject.js';
import { CONFIG_KEYS, loadSidecarConfig } from '../../../src/sidecar/config.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** What the kubelet does with the container's env: downward API values and $(VAR) expansion. */
function kubeletEnv(container: Obj, fields: Record<string, string>): NodeJS.ProcessEnv {
  const env: Record<string, string> = {};
  for (const e of container.env as Obj[]) {
    env[e.name] = e.valueFrom ? fields[e.valueFrom.fieldRef.fieldPath]! : String(e.value).replace(/\$\((\w+)\)/g, (_, n: string) => env[n] ?? `$(${n})`);
  }
  return env;
}

function sidecarOf(pod: PodLike): Obj {
  return [...(pod.spec!.initContainers ?? []), ...pod.spec!.containers!].find((c) => c.name === SIDECAR_NAME) as Obj;
}

const MESH_ANNOTATIONS = {
  'ztmesh.io/outbound-policy': 'registry-only', 'ztmesh.io/passthrough-cidrs': '10.0.0.0/8,fd00::/8',
  'ztmesh.io/passthrough-ports': '5432,6379', 'ztmesh.io/inbound-mode': 'permissive',
};

const FIELDS = { 'metadata.name': 'web-7d9f', 'metadata.namespace': 'shop', 'spec.serviceAccountName': 'web' };
const pod = (annotations: Record<string, string> = {}): PodLike => ({
  metadata: { annotations },
  spec: { containers: [{ name: 'app', image: 'nginx', ports: [{ containerPort: 8080 }, { containerPort: 8443 }] }] },
});

describe('injected sidecar environment', () => {
  it('uses only ZTMESH_* names the sidecar config loader knows', () => {
    const known = new Set(CONFIG_KEYS.map((k) => k.env));
    for (const mode of ['transparent', 'explicit'] as const) {
      const r = injectPod(pod({ 'ztmesh.io/ttl': '30m', 'ztmesh.io/allow': 'spiffe://cluster.local/ns/a/*', 'prometheus.io/scrape': 'true', ...(mode === 'transparent' ? MESH_ANNOTATIONS : {}) }), { ...DEFAULT_INJECT_OPTIONS, mode });
      const names = (sidecarOf(r.pod).env as Obj[]).map((e) => e.name as string).filter((n) => n.startsWith('ZTMESH_'));
      expect(names.length).toBeGreaterThan(5);
      for (const n of names) expect(known, `${n} is not read by the sidecar`).toContain(n);
    }
  });

  it('transparent mode: the loader yields the token path, bundle, CA, SPIFFE ID, TTL and allow-list', () => {
    const r = injectPod(pod({ 'ztmesh.io/ttl': '30m', 'ztmesh.io/allow': 'spiffe://cluster.local/ns/a/*,spiffe://cluster.local/ns/b/sa/c' }), DEFAULT_INJECT_OPTIONS);
    const config = loadSidecarConfig({ env: kubeletEnv(sidecarOf(r.pod), FIELDS) });
    expect(config.ca).toMatchObject({ address: 'ztmesh-ca.ztmesh-system.svc:15012', bundle: '/var/run/ztmesh/bundle/roots.pem', tokenFile: '/var/run/secrets/ztmesh/token' });
    expect(config.identity.spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/web');
    expect(config.identity.ttl).toBe(30 * 60_000);
    expect(config.health).toBe('0.0.0.0:15021');
    expect(config.transparent.enabled).toBe(true);
    expect(config.transparent.allow).toEqual(['spiffe://cluster.local/ns/a/*', 'spiffe://cluster.local/ns/b/sa/c']);
  });

  it('metrics: the loader yields the pod-reachable listener and the app endpoint from the prometheus.io annotations', () => {
    const r = injectPod(pod({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090', 'prometheus.io/path': '/stats' }), DEFAULT_INJECT_OPTIONS);
    const config = loadSidecarConfig({ env: kubeletEnv(sidecarOf(r.pod), FIELDS) });
    expect(config.metrics).toEqual({ listen: '0.0.0.0:15020', app: { port: 9090, path: '/stats' } });
  });

  it('issue 20\'s annotations become the env the mesh stream contract names', () => {
    const env = kubeletEnv(sidecarOf(injectPod(pod(MESH_ANNOTATIONS), DEFAULT_INJECT_OPTIONS).pod), FIELDS);
    expect(env.ZTMESH_TRANSPARENT_OUTBOUND_POLICY).toBe('registry-only');
    expect(env.ZTMESH_TRANSPARENT_INBOUND_MODE).toBe('permissive');
    expect(JSON.parse(env.ZTMESH_TRANSPARENT_PASSTHROUGH!)).toEqual({ cidrs: ['10.0.0.0/8', 'fd00::/8'], ports: [5432, 6379] });
    // The passthrough key is the sidecar's already: the loader takes it as it is.
    expect(loadSidecarConfig({ env }).transparent.passthrough).toEqual({ cidrs: ['10.0.0.0/8', 'fd00::/8'], ports: [5432, 6379] });
  });

  it('ztmesh.io/revoke-established becomes authz.revokeEstablished in both modes; without it, established connections are revoked', () => {
    for (const mode of ['transparent', 'explicit'] as const) {
      const off = kubeletEnv(sidecarOf(injectPod(pod({ 'ztmesh.io/revoke-established': 'false' }), { ...DEFAULT_INJECT_OPTIONS, mode }).pod), FIELDS);
      expect(off.ZTMESH_AUTHZ_REVOKE_ESTABLISHED).toBe('false');
      expect(loadSidecarConfig({ env: off }).authz.revokeEstablished).toBe(false);
      const plain = kubeletEnv(sidecarOf(injectPod(pod(), { ...DEFAULT_INJECT_OPTIONS, mode }).pod), FIELDS);
      expect(plain.ZTMESH_AUTHZ_REVOKE_ESTABLISHED).toBeUndefined();
      expect(loadSidecarConfig({ env: plain }).authz.revokeEstablished).toBe(true);
    }
  });

  it('explicit mode: one inbound listener per app port, forwarding to loopback', () => {
    const r = injectPod(pod(), { ...DEFAULT_INJECT_OPTIONS, mode: 'explicit', trustDomain: 'prod.example' });
    const config = loadSidecarConfig({ env: kubeletEnv(sidecarOf(r.pod), FIELDS) });
    expect(config.trustDomain).toBe('prod.example');
    expect(config.identity.spiffeId).toBe('spiffe://prod.example/ns/shop/sa/web');
    expect(config.transparent.enabled).toBe(false);
    expect(config.inbound.map((i) => [i.name, i.listen, i.forward])).toEqual([
      ['in-8080', '0.0.0.0:15006', '127.0.0.1:8080'],
      ['in-8443', '0.0.0.0:15007', '127.0.0.1:8443'],
    ]);
  });
});
