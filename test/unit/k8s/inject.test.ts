import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { BUNDLE_PATH, TOKEN_PATH } from '../../../src/common/mesh.js';
import {
  injectPod, DEFAULT_INJECT_OPTIONS, SIDECAR_NAME, INIT_NAME, ANNOTATION,
  type InjectOptions, type PodLike,
} from '../../../src/k8s/inject.js';
import { injectManifests, injectObject } from '../../../src/k8s/inject-manifest.js';
import { validateK8sObject } from '../../helpers/k8s-schema.js';

const FIXTURE = readFileSync(new URL('../../fixtures/k8s/workloads.yaml', import.meta.url), 'utf8');
const BOOKINFO = new URL('../../fixtures/k8s/bookinfo.yaml', import.meta.url);
const opts: InjectOptions = { ...DEFAULT_INJECT_OPTIONS };

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function docs(text: string): Obj[] {
  return parseAllDocuments(text as string).map((d) => d.toJS() as Obj);
}
function podOf(obj: Obj): Obj {
  switch (obj.kind) {
    case 'Pod': return obj;
    case 'CronJob': return obj.spec.jobTemplate.spec.template;
    default: return obj.spec.template;
  }
}
function env(c: Obj, name: string): Obj | undefined {
  return (c.env as Obj[]).find((e) => e.name === name);
}
function pod(extra: Obj = {}, annotations?: Record<string, string>): PodLike {
  return {
    metadata: { name: 'p', ...(annotations ? { annotations } : {}) },
    spec: { containers: [{ name: 'app', image: 'nginx', ports: [{ containerPort: 8080 }] }], ...extra },
  };
}

describe('injectManifests over every workload kind', () => {
  const { output, notes } = injectManifests(FIXTURE, opts);
  const out = docs(output);
  const input = docs(FIXTURE);

  it.each([
    ['Pod', 'web-pod', ['8080']],
    ['Deployment', 'web', ['8080']],
    ['StatefulSet', 'db', ['5432']],
    ['DaemonSet', 'agent', undefined],
    ['ReplicaSet', 'rs', undefined],
    ['Job', 'migrate', undefined],
    ['CronJob', 'report', undefined],
  ])('%s %s gets the native sidecar, init container, volumes and env', (kind, name, ports) => {
    const obj = out.find((o) => o.kind === kind && o.metadata.name === name)!;
    const p = podOf(obj);
    const inits = p.spec.initContainers as Obj[];
    expect(inits[0].name).toBe(INIT_NAME);
    expect(inits[1].name).toBe(SIDECAR_NAME);
    const sidecar = inits[1];
    expect(sidecar.restartPolicy).toBe('Always');
    expect(sidecar.startupProbe.httpGet).toEqual({ path: '/readyz', port: 15021 });
    expect(sidecar.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 15021 });
    expect(sidecar.securityContext).toMatchObject({
      runAsUser: 1337, runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(sidecar.securityContext.capabilities.add).toBeUndefined();
    expect(env(sidecar, 'POD_NAMESPACE')!.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.namespace' } });
    expect(env(sidecar, 'SERVICE_ACCOUNT')!.valueFrom).toEqual({ fieldRef: { fieldPath: 'spec.serviceAccountName' } });
    expect(env(sidecar, 'ZTMESH_CA_TOKEN_FILE')!.value).toBe(TOKEN_PATH);
    expect(env(sidecar, 'ZTMESH_CA_BUNDLE')!.value).toBe(BUNDLE_PATH);
    expect(env(sidecar, 'ZTMESH_CA_ADDRESS')!.value).toBe('ztmesh-ca.ztmesh-system.svc:15012');
    expect(env(sidecar, 'ZTMESH_TRANSPARENT_ENABLED')!.value).toBe('true');
    expect(env(sidecar, 'NODE_OPTIONS')!.value).toBe('--max-semi-space-size=4'); // the measured flags (docs/bench.md)
    const init = inits[0];
    expect(init.env?.find((e: Obj) => e.name === 'NODE_OPTIONS')).toBeUndefined();
    expect(init.securityContext.capabilities).toEqual({ add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] });
    expect(init.args.slice(0, 3)).toEqual(['iptables', '--proxy-uid', '1337']);
    const i = init.args.indexOf('--include-inbound-ports');
    if (ports) expect(init.args[i + 1]).toBe(ports.join(','));
    else expect(i).toBe(-1); // no declared port: intercept all inbound, as Istio does
    const token = p.spec.volumes.find((v: Obj) => v.name === 'ztmesh-token');
    expect(token.projected.sources[0].serviceAccountToken).toEqual({ audience: 'ztmesh-ca', expirationSeconds: 3600, path: 'token' });
    const bundle = p.spec.volumes.find((v: Obj) => v.name === 'ztmesh-trust-bundle');
    expect(bundle.configMap).toEqual({ name: 'ztmesh-trust-bundle', items: [{ key: 'roots.pem', path: 'roots.pem' }] });
    expect(sidecar.volumeMounts).toEqual([
      { name: 'ztmesh-token', mountPath: '/var/run/secrets/ztmesh', readOnly: true },
      { name: 'ztmesh-trust-bundle', mountPath: '/var/run/ztmesh/bundle', readOnly: true },
      { name: 'ztmesh-workload-api', mountPath: '/var/run/ztmesh/workload-api' },
    ]);
    expect(env(sidecar, 'ZTMESH_WORKLOAD_API_SOCKET')!.value).toBe('/var/run/ztmesh/workload-api/socket');
    expect(env(sidecar, 'ZTMESH_WORKLOAD_API_ALLOW_UIDS')!.value).toBe('*');
    expect(p.spec.volumes.find((v: Obj) => v.name === 'ztmesh-workload-api').emptyDir).toEqual({ medium: 'Memory', sizeLimit: '1Mi' });
    expect(JSON.parse(p.metadata.annotations[ANNOTATION.status])).toMatchObject({ mode: 'transparent', sidecar: 'native' });
    // The app containers get the Workload API socket (read-only) and SPIFFE_ENDPOINT_SOCKET, and nothing else.
    const original = podOf(input.find((o) => o.kind === kind && o.metadata.name === name)!).spec.containers;
    expect(p.spec.containers).toEqual(original.map((c: Obj) => ({
      ...c,
      env: [...(c.env ?? []), { name: 'SPIFFE_ENDPOINT_SOCKET', value: 'unix:///var/run/ztmesh/workload-api/socket' }],
      volumeMounts: [...(c.volumeMounts ?? []), { name: 'ztmesh-workload-api', mountPath: '/var/run/ztmesh/workload-api', readOnly: true }],
    })));
  });

  it('keeps the user\'s own init containers after the mesh ones', () => {
    const cron = podOf(out.find((o) => o.kind === 'CronJob')!);
    expect(cron.spec.initContainers.map((c: Obj) => c.name)).toEqual([INIT_NAME, SIDECAR_NAME, 'warmup']);
  });

  it('injects Pods inside a List and leaves the rest of it alone', () => {
    const list = out.find((o) => o.kind === 'List')!;
    expect(list.items[0].spec.initContainers.map((c: Obj) => c.name)).toEqual([INIT_NAME, SIDECAR_NAME]);
    expect(list.items[1]).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm-in-list' }, data: { k: 'v' } });
  });

  it('reports every object on the notes, with the skip reasons, kinds that are not workloads included', () => {
    expect(notes.map((n) => `${n.kind}/${n.name}: ${n.outcome}`)).toEqual([
      'Service/web: unchanged (kind not a workload)',
      'Pod/web-pod: injected', 'Deployment/web: injected', 'StatefulSet/db: injected', 'DaemonSet/agent: injected',
      'ReplicaSet/rs: injected', 'Job/migrate: injected', 'CronJob/report: injected', 'Pod/in-list: injected',
      'ConfigMap/cm-in-list: unchanged (kind not a workload)', 'ConfigMap/settings: unchanged (kind not a workload)',
      'Pod/opted-out: skipped: opted_out', 'Pod/host-net: skipped: host_network',
    ]);
  });

  it('keeps every document it did not change byte for byte, comments included', () => {
    const untouched = ['kind: Service   # untouched', '"quoted key": \'single quoted\'   # comment kept', 'ztmesh.io/inject: "false"',
      'hostNetwork: true', '# trailing comment of the stream', '# Every workload kind'];
    for (const text of untouched) expect(output).toContain(text);
    // Exact check: split both streams at "---" and compare the untouched documents as text.
    const inParts = FIXTURE.split(/^---$/m);
    const outParts = output.split(/^---$/m);
    expect(outParts).toHaveLength(inParts.length);
    const changed = new Set([1, 2, 3, 4, 5, 6, 7, 8]);
    inParts.forEach((part, i) => {
      if (!changed.has(i)) expect(outParts[i]).toBe(part);
    });
  });

  it('keeps comments and flow style inside the documents it changes', () => {
    // The yaml printer normalises the spacing around comments and inside flow maps, nothing more.
    expect(output).toMatch(/replicas: 2 +# comment inside an injected document/);
    expect(output).toMatch(/matchLabels: \{ ?app: web ?\}/);
  });

  it('is idempotent: injecting the output changes nothing', () => {
    const again = injectManifests(output, opts);
    expect(again.output).toBe(output);
    expect(again.notes.filter((n) => n.outcome === 'injected')).toEqual([]);
  });

  it('output validates against the Kubernetes schemas', () => {
    for (const o of out) validateK8sObject(o);
  });

  it('a document with YAML anchors and aliases is rewritten whole and stays valid', () => {
    const src = 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a, labels: &l {app: a}}\nspec:\n  selector: {matchLabels: *l}\n  template:\n    metadata: {labels: *l}\n    spec: {containers: [{name: a, image: nginx}]}\n';
    const out = docs(injectManifests(src, opts).output)[0]!;
    expect(out.spec.template.metadata.labels).toEqual({ app: 'a', 'ztmesh.io/meshed': 'true' });
    expect(out.metadata.labels).toEqual({ app: 'a' });
    expect(out.spec.selector.matchLabels).toEqual({ app: 'a' });
    expect(out.spec.template.spec.initContainers).toHaveLength(2);
    validateK8sObject(out);
  });

  it('an unmodified stream comes back identical', () => {
    const plain = 'apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\n# only a comment\n';
    expect(injectManifests(plain, opts).output).toBe(plain);
    expect(injectManifests('', opts).output).toBe('');
  });
});

describe('injectPod', () => {
  it('never mutates its input', () => {
    const p = pod();
    const copy = structuredClone(p);
    injectPod(p, opts);
    expect(p).toEqual(copy);
  });

  it.each([
    ['opt-out annotation', pod({}, { 'ztmesh.io/inject': 'false' }), 'opted_out'],
    ['opt-out label', { ...pod(), metadata: { labels: { 'ztmesh.io/inject': 'false' } } }, 'opted_out'],
    ['hostNetwork', pod({ hostNetwork: true }), 'host_network'],
    ['already injected, up to date', injectPod(pod(), opts).pod, 'up_to_date'],
    ['a ztmesh-sidecar container without the status annotation (not ztmesh\'s)', pod({ initContainers: [{ name: SIDECAR_NAME }] }), 'foreign_sidecar'],
    ['no containers', { metadata: {}, spec: { containers: [] } }, 'no_containers'],
  ])('skips: %s', (_, p, reason) => {
    const r = injectPod(p as PodLike, opts);
    expect(r).toEqual({ outcome: 'skipped', pod: p, reason });
  });

  it('ztmesh.io/inject: "true" on a pod is injected like the default', () => {
    expect(injectPod(pod({}, { 'ztmesh.io/inject': 'true' }), opts).outcome).toBe('injected');
  });

  it('--legacy-sidecar puts a regular container first and no restartPolicy', () => {
    const r = injectPod(pod(), { ...opts, legacySidecar: true });
    const spec = r.pod.spec!;
    expect(spec.containers!.map((c) => c.name)).toEqual([SIDECAR_NAME, 'app']);
    expect(spec.containers![0]!.restartPolicy).toBeUndefined();
    expect(spec.initContainers!.map((c) => c.name)).toEqual([INIT_NAME]);
    validateK8sObject({ apiVersion: 'v1', kind: 'Pod', ...r.pod });
  });

  it('explicit mode: no iptables container, no privileges, inbound listeners per port', () => {
    const r = injectPod(pod({}, { 'ztmesh.io/allow': 'spiffe://cluster.local/ns/web/sa/front' }), { ...opts, mode: 'explicit' });
    const spec = r.pod.spec!;
    expect(spec.initContainers!.map((c) => c.name)).toEqual([SIDECAR_NAME]);
    const sidecar = spec.initContainers![0] as Obj;
    expect(env(sidecar, 'ZTMESH_TRANSPARENT_ENABLED')).toBeUndefined();
    expect(JSON.parse(env(sidecar, 'ZTMESH_INBOUND')!.value)).toEqual([
      { name: 'in-8080', listen: '0.0.0.0:15006', forward: '127.0.0.1:8080', allow: ['spiffe://cluster.local/ns/web/sa/front'] },
    ]);
  });

  it('annotations override ports, exclusions, allow-list and TTL', () => {
    const r = injectPod(pod({}, {
      'ztmesh.io/inbound-ports': '8080, 8443',
      'ztmesh.io/exclude-inbound-ports': '9901',
      'ztmesh.io/exclude-outbound-cidrs': '10.0.0.0/8,fd00::/8',
      'ztmesh.io/allow': 'spiffe://cluster.local/ns/a/sa/b,spiffe://cluster.local/ns/ops/*',
      'ztmesh.io/ttl': '30m',
    }), opts);
    const [init, sidecar] = r.pod.spec!.initContainers! as Obj[];
    expect(init!.args).toEqual(['iptables', '--proxy-uid', '1337', '--include-inbound-ports', '8080,8443',
      '--exclude-inbound-ports', '9901', '--exclude-outbound-cidrs', '10.0.0.0/8,fd00::/8']);
    expect(env(sidecar!, 'ZTMESH_TRANSPARENT_ALLOW')!.value).toBe('spiffe://cluster.local/ns/a/sa/b,spiffe://cluster.local/ns/ops/*');
    expect(env(sidecar!, 'ZTMESH_IDENTITY_TTL')!.value).toBe('30m');
  });

  it('inbound-ports "*" intercepts every port', () => {
    const [init] = injectPod(pod({}, { 'ztmesh.io/inbound-ports': '*' }), opts).pod.spec!.initContainers! as Obj[];
    expect(init!.args).toEqual(['iptables', '--proxy-uid', '1337']);
  });

  it.each([
    ['ztmesh.io/inbound-ports', 'http'],
    ['ztmesh.io/inbound-ports', ''],
    ['ztmesh.io/inbound-ports', '70000'],
    ['ztmesh.io/exclude-outbound-cidrs', '10.0.0.0'],
    ['ztmesh.io/allow', 'https://not-spiffe'],
    ['ztmesh.io/ttl', 'soon'],
  ])('a malformed %s (%j) fails with invalid_annotation naming it', (name, value) => {
    expect(() => injectPod(pod({}, { [name]: value }), opts)).toThrow(expect.objectContaining({ code: 'invalid_annotation', message: expect.stringContaining(name) }));
  });

  it('replaces stale mesh volumes instead of duplicating them', () => {
    const r = injectPod(pod({ volumes: [{ name: 'ztmesh-token', emptyDir: {} }, { name: 'data', emptyDir: {} }] }), opts);
    expect(r.pod.spec!.volumes!.map((v) => v.name)).toEqual(['data', 'ztmesh-token', 'ztmesh-trust-bundle', 'ztmesh-workload-api']);
  });

  it('mounts the Workload API socket into the app containers, keeps an app\'s own SPIFFE_ENDPOINT_SOCKET, and opts out with ztmesh.io/workload-api: "false"', () => {
    const own = { name: 'SPIFFE_ENDPOINT_SOCKET', value: 'unix:///elsewhere.sock' };
    const r = injectPod(pod({ containers: [{ name: 'app', image: 'app' }, { name: 'helper', image: 'h', env: [own] }] }), opts);
    const [app, helper] = r.pod.spec!.containers! as Obj[];
    expect(app!.env).toEqual([{ name: 'SPIFFE_ENDPOINT_SOCKET', value: 'unix:///var/run/ztmesh/workload-api/socket' }]);
    expect(app!.volumeMounts).toEqual([{ name: 'ztmesh-workload-api', mountPath: '/var/run/ztmesh/workload-api', readOnly: true }]);
    expect(helper!.env).toEqual([own]);
    const out = injectPod(pod({ containers: [{ name: 'app', image: 'app' }] }, { 'ztmesh.io/workload-api': 'false' }), opts);
    expect(out.outcome).toBe('injected');
    expect(out.pod.spec!.containers).toEqual([{ name: 'app', image: 'app' }]);
    expect(out.pod.spec!.volumes!.map((v) => v.name)).toEqual(['ztmesh-token', 'ztmesh-trust-bundle']);
    const sidecar = out.pod.spec!.initContainers!.find((c) => c.name === SIDECAR_NAME) as Obj;
    expect(sidecar.env.map((e: Obj) => e.name)).not.toContain('ZTMESH_WORKLOAD_API_SOCKET');
    expect(() => injectPod(pod({}, { 'ztmesh.io/workload-api': 'no' }), opts)).toThrow(expect.objectContaining({ code: 'invalid_annotation', message: expect.stringContaining('ztmesh.io/workload-api') }));
  });

  it('injectObject leaves kinds it does not know alone, with a note', () => {
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } };
    const n: { kind: string; name: string; outcome: string }[] = [];
    expect(injectObject(svc, opts, n)).toBe(svc);
    expect(n).toEqual([{ kind: 'Service', name: 's', outcome: 'unchanged (kind not a workload)' }]);
  });

  it.each([
    ['spec.containers is a string', { spec: { containers: 'oops' } }, 'spec.containers: must be a list of containers, got string "oops"'],
    ['a container is a string', { spec: { containers: ['nginx'] } }, 'spec.containers[0]: must be a container (a mapping), got string "nginx"'],
    ['ports is a number', { spec: { containers: [{ name: 'a', ports: 80 }] } }, 'spec.containers[0].ports: must be a list of ports, got number 80'],
    ['an annotation is a number', { metadata: { annotations: { 'ztmesh.io/ttl': 5 } }, spec: { containers: [{ name: 'a' }] } }, 'metadata.annotations["ztmesh.io/ttl"]: must be a string, got number 5'],
    ['volumes is a mapping', { spec: { containers: [{ name: 'a' }], volumes: { a: 1 } } }, 'spec.volumes: must be a list of volumes, got a mapping'],
    ['spec is a list', { spec: [] }, 'spec: must be a mapping (a pod spec), got a list'],
  ])('a malformed pod (%s) fails with invalid_workload naming the field', (_, pod, message) => {
    expect(() => injectPod(pod as never, opts)).toThrow(expect.objectContaining({ code: 'invalid_workload', message }));
    expect(() => injectObject({ kind: 'Deployment', metadata: { name: 'd' }, spec: { template: pod } }, opts, []))
      .toThrow(expect.objectContaining({ code: 'invalid_workload', message: `Deployment/d: spec.template.${message}` }));
  });
});

describe('the Istio bookinfo sample', () => {
  it('injects all six Deployments, keeps Services and ServiceAccounts verbatim, and validates', () => {
    const src = readFileSync(BOOKINFO, 'utf8');
    const { output, notes } = injectManifests(src, opts);
    expect(notes.filter((n) => n.outcome === 'injected')).toHaveLength(6);
    for (const o of docs(output)) {
      if (o) validateK8sObject(o);
    }
    const serviceDocs = src.split(/^---$/m).filter((d) => /kind: (Service|ServiceAccount)\n/.test(d));
    for (const d of serviceDocs) expect(output).toContain(d);
    // Injection only adds lines: every original line is still there, in order (a pure addition in a diff), but the
    // prometheus.io annotations, which now point at the sidecar's :15020/metrics.
    const out = output.split('\n');
    let j = 0;
    for (const line of src.split('\n').filter((l) => !/prometheus\.io\/(port|path)/.test(l))) {
      while (j < out.length && out[j] !== line) j++;
      expect(j, `line ${JSON.stringify(line)} kept in order`).toBeLessThan(out.length);
      j++;
    }
    expect(injectManifests(output, opts).output).toBe(output);
  });
});
