// The deploy/kubernetes kustomize base: renders, validates against the Kubernetes schemas, and holds the
// security settings, replica counts, probes and RBAC rules the install depends on.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateK8sObject } from '../../helpers/k8s-schema.js';
import { DEPLOY_CRDS, DEPLOY_NAMESPACE, findTool, kustomize, renderInstall, yamlDocs } from '../../helpers/deploy-manifests.js';
import { caManifests } from '../../../src/ca/manifests.js';
import { parseServeConfig } from '../../../src/ca/config.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const BASE = fileURLToPath(new URL('../../../deploy/kubernetes', import.meta.url));
const DOCKERFILE = fileURLToPath(new URL('../../../deploy/Dockerfile', import.meta.url));

// ZTMESH_KUBECTL overrides the lookup (empty: behave as on a machine without kubectl).
const KUBECTL = findTool('kubectl');
if (!KUBECTL) console.warn('manifests.test: kubectl not found on PATH; skipping the two `kubectl kustomize` render tests (the schema checks still run on the files rendered by hand)');

const objects = renderInstall();
const find = (kind: string, name: string): Obj => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`rendered base has no ${kind}/${name}`);
  return o;
};

describe('deploy/kubernetes', () => {
  it.skipIf(!KUBECTL)('`kubectl kustomize` renders the base offline, with the same objects as the hand rendering', () => {
    const rendered = [...kustomize(KUBECTL!, DEPLOY_NAMESPACE), ...kustomize(KUBECTL!, DEPLOY_CRDS), ...kustomize(KUBECTL!, BASE)];
    for (const o of rendered) validateK8sObject(o);
    const key = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    expect(rendered.map(key).sort()).toEqual(objects.map(key).sort());
    const ca = rendered.find((o) => o.kind === 'Deployment' && o.metadata.name === 'ztmesh-ca')!;
    expect(ca.metadata.labels['app.kubernetes.io/part-of']).toBe('ztmesh');
    expect(ca.spec.template.spec.containers[0].image).toBe('ghcr.io/ztmesh/ztmesh:0.1.0');
  });

  it.skipIf(!KUBECTL)('the failure-policy-ignore component switches the webhook to fail open', () => {
    const overlay = execFileSync(KUBECTL!, ['kustomize', fileURLToPath(new URL('../../fixtures/k8s/overlay-fail-open', import.meta.url))], { encoding: 'utf8', timeout: 30_000 });
    const mwc = yamlDocs(overlay).find((o) => o.kind === 'MutatingWebhookConfiguration')!;
    expect(mwc.webhooks.map((w: Obj) => w.failurePolicy)).toEqual(['Ignore', 'Ignore']);
  });

  it('every object validates against the Kubernetes schemas', () => {
    expect(objects.length).toBeGreaterThanOrEqual(14);
    for (const o of objects) validateK8sObject(o);
    for (const o of objects) if (o.kind !== 'Namespace' && !['ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'CustomResourceDefinition'].includes(o.kind)) {
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('ztmesh-system');
    }
  });

  it('the CA Deployment: 2 replicas, anti-affinity, PDB, restricted security context', () => {
    const d = find('Deployment', 'ztmesh-ca');
    expect(d.spec.replicas).toBe(2);
    const pod = d.spec.template.spec;
    expect(pod.serviceAccountName).toBe('ztmesh-ca');
    const anti = pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;
    expect(anti.topologyKey).toBe('kubernetes.io/hostname');
    expect(anti.labelSelector.matchLabels).toEqual(d.spec.selector.matchLabels);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    const c = pod.containers[0];
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, runAsNonRoot: true, capabilities: { drop: ['ALL'] },
    });
    expect(c.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
    // The memory limit holds the measured peak under floods with the default connection cap (docs/ca.md "Limits":
    // about 250 MB), with headroom; the manifest keeps that default cap.
    const mi = (q: string) => Number(/^(\d+)Mi$/.exec(q)![1]);
    expect(mi(c.resources.limits.memory)).toBeGreaterThanOrEqual(1.5 * 250);
    expect(c.args.some((a: string) => a.startsWith('--max-connections'))).toBe(false);
    const pdb = find('PodDisruptionBudget', 'ztmesh-ca');
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(d.spec.selector.matchLabels);
  });

  it('the CA probes: gRPC health over TLS on 15012 for readiness, /healthz on the admin port for liveness', () => {
    const c = find('Deployment', 'ztmesh-ca').spec.template.spec.containers[0];
    expect(c.args).toContain('--admin=0.0.0.0:15010');
    // A non-loopback admin without the opt-in fails startup (admin_remote_not_allowed): the args must parse.
    expect(c.args).toContain('--admin-allow-remote');
    const arg = (name: string) => (c.args as string[]).find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
    expect(parseServeConfig({ dir: arg('dir'), admin: arg('admin'), adminAllowRemote: (c.args as string[]).includes('--admin-allow-remote') }).adminAllowRemote).toBe(true);
    expect(() => parseServeConfig({ dir: arg('dir'), admin: arg('admin') })).toThrow(expect.objectContaining({ code: 'admin_remote_not_allowed' }));
    expect(c.args).toContain('--listen=0.0.0.0:15012');
    expect(c.args).toContain('--k8s-token-review');
    const cmd = c.readinessProbe.exec.command as string[];
    expect(cmd.slice(0, 2)).toEqual(['node', '/app/deploy/grpc-health-probe.mjs']);
    expect(cmd).toContain('--address=127.0.0.1:15012');
    expect(cmd).toContain('--ca-file=/var/run/ztmesh/ca/bundle.pem');
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    expect(c.ports.find((p: Obj) => p.name === 'admin').containerPort).toBe(15010);
    expect(c.ports.find((p: Obj) => p.name === 'grpc').containerPort).toBe(15012);
    // The probe script ships in the image.
    expect(readFileSync(DOCKERFILE, 'utf8')).toContain('deploy/grpc-health-probe.mjs');
  });

  it('the image installs what `ztmesh iptables` runs: iptables (with ip6tables) and iproute2 (ip -6 addr)', () => {
    const text = readFileSync(DOCKERFILE, 'utf8');
    const runtime = text.slice(text.lastIndexOf('\nFROM '));
    const installed = [...runtime.matchAll(/apt-get install[^\n]*?((?:\s+[a-z0-9.+-]+)+)\s*\\?\n/g)].flatMap((m) => m[1]!.trim().split(/\s+/));
    expect(installed).toEqual(expect.arrayContaining(['iptables', 'iproute2']));
  });

  it('the signing Secret is mounted read-only as the CA --dir; the Service exposes 15012', () => {
    const pod = find('Deployment', 'ztmesh-ca').spec.template.spec;
    const vol = pod.volumes.find((v: Obj) => v.secret);
    expect(vol.secret.secretName).toBe('ztmesh-ca-signing');
    const mount = pod.containers[0].volumeMounts.find((m: Obj) => m.name === vol.name);
    expect(mount).toEqual({ name: vol.name, mountPath: '/var/run/ztmesh/ca', readOnly: true });
    expect(pod.containers[0].args).toContain('--dir=/var/run/ztmesh/ca');
    const svc = find('Service', 'ztmesh-ca');
    expect(svc.spec.ports).toEqual([expect.objectContaining({ port: 15012, targetPort: 'grpc' })]);
    expect(svc.spec.selector).toEqual(find('Deployment', 'ztmesh-ca').spec.selector.matchLabels);
  });

  it('the CA writes its issuance log to an emptyDir (one file per replica) that holds two files at the size limit', () => {
    const pod = find('Deployment', 'ztmesh-ca').spec.template.spec;
    const c = pod.containers[0];
    const arg = (name: string) => (c.args as string[]).find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
    const config = parseServeConfig({ dir: arg('dir'), admin: arg('admin'), adminAllowRemote: true, auditLog: arg('audit-log'), auditLogMaxSize: arg('audit-log-max-size') });
    const mount = c.volumeMounts.find((m: Obj) => config.auditLog!.file.startsWith(`${m.mountPath}/`));
    const vol = pod.volumes.find((v: Obj) => v.name === mount.name);
    expect(vol.emptyDir).toBeDefined();
    expect(mount.readOnly).toBeUndefined();
    const mi = (q: string) => Number(/^(\d+)Mi$/.exec(q)![1]) * 1024 * 1024;
    expect(mi(vol.emptyDir.sizeLimit)).toBeGreaterThan(2 * config.auditLog!.maxBytes);
  });

  it('RBAC: the CA may create tokenreviews and nothing else; the webhook patches its own config, watches namespaces and pods, and writes only ztmesh-trust-bundle', () => {
    expect(find('ClusterRole', 'ztmesh-ca-tokenreview').rules).toEqual([
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
    ]);
    expect(find('ClusterRoleBinding', 'ztmesh-ca-tokenreview').subjects).toEqual([{ kind: 'ServiceAccount', name: 'ztmesh-ca', namespace: 'ztmesh-system' }]);
    expect(find('ClusterRole', 'ztmesh-webhook').rules).toEqual([
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], resourceNames: ['ztmesh-sidecar-injector'], verbs: ['get', 'patch'] },
      { apiGroups: [''], resources: ['namespaces', 'pods'], verbs: ['list', 'watch'] },
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['ztmesh-trust-bundle'], verbs: ['get', 'patch'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
    ]);
    for (const o of objects.filter((x) => x.kind === 'ClusterRole')) {
      for (const r of o.rules) expect(r.resources).not.toContain('secrets');
    }
    expect(find('ClusterRoleBinding', 'ztmesh-webhook').subjects).toEqual([{ kind: 'ServiceAccount', name: 'ztmesh-webhook', namespace: 'ztmesh-system' }]);
    // The image it injects is its own container's: it reads its own pod, in its own namespace only.
    expect(find('Role', 'ztmesh-webhook-own-pod').rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }]);
    expect(find('RoleBinding', 'ztmesh-webhook-own-pod')).toMatchObject({ metadata: { namespace: 'ztmesh-system' }, roleRef: { kind: 'Role', name: 'ztmesh-webhook-own-pod' }, subjects: [{ kind: 'ServiceAccount', name: 'ztmesh-webhook', namespace: 'ztmesh-system' }] });
    for (const o of objects.filter((x) => x.kind === 'ClusterRole')) {
      for (const r of o.rules) expect(r.verbs).not.toContain('*');
    }
    // `ztmesh ca status --k8s` reads, in the CA's namespace only: list pods, get through pods/proxy; bound by operators.
    expect(find('Role', 'ztmesh-ca-status')).toMatchObject({ metadata: { namespace: 'ztmesh-system' }, rules: [
      { apiGroups: [''], resources: ['pods'], verbs: ['list'] }, { apiGroups: [''], resources: ['pods/proxy'], verbs: ['get'] },
    ] });
  });

  it('the webhook: Deployment, Service and MutatingWebhookConfiguration agree', () => {
    const d = find('Deployment', 'ztmesh-webhook');
    expect(d.spec.replicas).toBe(2);
    const c = d.spec.template.spec.containers[0];
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(c.ports.find((p: Obj) => p.name === 'health').containerPort).toBe(15021);
    expect(c.args).toContain('--health=0.0.0.0:15021');
    const token = d.spec.template.spec.volumes.find((v: Obj) => v.projected);
    expect(token.projected.sources[0].serviceAccountToken).toEqual({ audience: 'ztmesh-ca', expirationSeconds: 3600, path: 'token' });
    expect(d.spec.template.spec.volumes.find((v: Obj) => v.configMap).configMap.name).toBe('ztmesh-trust-bundle');
    const svc = find('Service', 'ztmesh-webhook');
    expect(svc.spec.ports[0]).toMatchObject({ port: 443, targetPort: 'https' });
    const mwc = find('MutatingWebhookConfiguration', 'ztmesh-sidecar-injector');
    const w = mwc.webhooks[0];
    expect(w.failurePolicy).toBe('Fail');
    for (const x of mwc.webhooks) expect(x.sideEffects).toBe('None');
    expect(c.args).toContain('--distribute-bundle');
    expect(w.admissionReviewVersions).toEqual(['v1']);
    expect(w.namespaceSelector).toEqual({ matchLabels: { 'ztmesh.io/inject': 'enabled' } });
    expect(w.objectSelector.matchExpressions).toEqual([{ key: 'ztmesh.io/inject', operator: 'NotIn', values: ['false'] }]);
    expect(w.rules).toEqual([{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }]);
    expect(w.clientConfig.service).toEqual({ name: 'ztmesh-webhook', namespace: 'ztmesh-system', path: '/inject', port: 443 });
    expect(c.args).toContain(`--webhook-config=${mwc.metadata.name}`);
    // Second entry: single pods labelled ztmesh.io/inject=true outside enabled/disabled namespaces.
    const o = mwc.webhooks[1];
    expect(o.name).toBe('object.sidecar-injector.ztmesh.io');
    expect(o.objectSelector).toEqual({ matchLabels: { 'ztmesh.io/inject': 'true' } });
    expect(o.namespaceSelector.matchExpressions).toEqual([{ key: 'ztmesh.io/inject', operator: 'NotIn', values: ['enabled', 'disabled'] }]);
    expect({ ...o, name: w.name, objectSelector: w.objectSelector, namespaceSelector: w.namespaceSelector }).toEqual(w);
    expect(c.args).toContain('--dns=ztmesh-webhook.ztmesh-system.svc');
    // The CA grants exactly that DNS SAN to the webhook's ServiceAccount.
    expect(find('Deployment', 'ztmesh-ca').spec.template.spec.containers[0].args).toContain('--k8s-dns-san=ztmesh-system/ztmesh-webhook=ztmesh-webhook.ztmesh-system.svc');
    // Its ID lies in the CA's reserved namespace, so the CA grants it explicitly, and nothing else there.
    const caArgs: string[] = find('Deployment', 'ztmesh-ca').spec.template.spec.containers[0].args;
    expect(caArgs.filter((a) => a.startsWith('--grant-reserved-id'))).toEqual(['--grant-reserved-id=ztmesh-system/ztmesh-webhook']);
    // The control plane is never injected: its namespace is not selected and its pods opt out.
    expect(find('Namespace', 'ztmesh-system').metadata.labels['ztmesh.io/inject']).not.toBe('enabled');
    for (const name of ['ztmesh-ca', 'ztmesh-webhook']) {
      expect(find('Deployment', name).spec.template.metadata.annotations['ztmesh.io/inject']).toBe('false');
    }
    const pdb = find('PodDisruptionBudget', 'ztmesh-webhook');
    expect(pdb.spec.selector.matchLabels).toEqual(d.spec.selector.matchLabels);
  });

  it('`ca init --k8s-secret` provides exactly the Secret and ConfigMap the base mounts', () => {
    const printed = yamlDocs(caManifests({ certPem: 'CERT', keyPem: 'KEY', bundlePem: 'ROOTS' }));
    for (const o of printed) validateK8sObject(o);
    const secret = printed.find((o) => o.kind === 'Secret')!;
    const cm = printed.find((o) => o.kind === 'ConfigMap')!;
    const caPod = find('Deployment', 'ztmesh-ca').spec.template.spec;
    expect(secret.metadata).toMatchObject({ name: caPod.volumes.find((v: Obj) => v.secret).secret.secretName, namespace: 'ztmesh-system' });
    expect(Object.keys(secret.data).sort()).toEqual(['bundle.pem', 'ca.key', 'ca.pem']);
    const whPod = find('Deployment', 'ztmesh-webhook').spec.template.spec;
    const cmVol = whPod.volumes.find((v: Obj) => v.configMap).configMap;
    expect(cm.metadata).toMatchObject({ name: cmVol.name, namespace: 'ztmesh-system' });
    expect(Object.keys(cm.data)).toEqual([cmVol.items[0].key]);
    // The base itself holds no Secret or ConfigMap, so re-applying it never overwrites the CA.
    expect(objects.filter((o) => o.kind === 'Secret' || o.kind === 'ConfigMap')).toEqual([]);
  });
});
