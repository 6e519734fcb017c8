// deploy/'s AuthorizationPolicy pieces agree with the code: the CRD names and bounds what the CA's reader accepts
// (and accepts the objects docs/authorization.md shows), the CA's ClusterRole grants exactly what its watch and
// `ztmesh check` need, the CA runs the watch, and the CRD lives apart from the control plane (uninstalling the control
// plane keeps the users' policies); the Helm chart's copy is the same file.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { POLICY_WATCH_ACCESS } from '../../../src/k8s/check/policy-checks.js';
import { POLICY_WATCHED } from '../../../src/k8s/policy-watch.js';
import { POLICY_ACTIONS, POLICY_KIND, POLICY_LIMITS } from '../../../src/policy/model.js';
import { DEPLOY_BASE, DEPLOY_CRDS, renderByHand } from '../../helpers/deploy-manifests.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const CRD_FILE = 'authorizationpolicies.yaml';
const crd = renderByHand(DEPLOY_CRDS).find((o) => o.kind === 'CustomResourceDefinition')!;
const base = renderByHand(DEPLOY_BASE);

describe('the AuthorizationPolicy CRD and RBAC in deploy/', () => {
  it('names the group, version, plural and kind the CA watches, and bounds what its reader accepts', () => {
    expect(crd.metadata.name).toBe(`${POLICY_WATCHED.plural}.${POLICY_WATCHED.group}`);
    expect(crd.spec).toMatchObject({ group: POLICY_WATCHED.group, scope: 'Namespaced', names: { plural: POLICY_WATCHED.plural, kind: POLICY_KIND } });
    expect(crd.spec.versions.map((v: Obj) => v.name)).toEqual([POLICY_WATCHED.version]);
    const spec = crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties;
    expect(spec.action.enum).toEqual([...POLICY_ACTIONS]);
    const rule = spec.rules.items.properties;
    expect([spec.rules.maxItems, rule.from.maxItems, rule.to.maxItems]).toEqual([POLICY_LIMITS.maxRules, POLICY_LIMITS.maxSources, POLICY_LIMITS.maxOperations]);
    const source = rule.from.items.properties;
    expect([source.principals.maxItems, source.namespaces.maxItems, rule.to.items.properties.ports.items.maximum, spec.selector.properties.serviceAccounts.maxItems])
      .toEqual([POLICY_LIMITS.maxPrincipals, POLICY_LIMITS.maxNamespaces, 65535, POLICY_LIMITS.maxServiceAccounts]);
  });

  it('the CA may list and watch AuthorizationPolicies and create Events, nothing more, and runs the watch', () => {
    const role = base.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'ztmesh-ca-policy-watch')!;
    const granted = role.rules.flatMap((r: Obj) => r.apiGroups.flatMap((g: string) => r.resources.flatMap((res: string) => r.verbs.map((v: string) => `${v} ${g}/${res}`))));
    expect(granted.sort()).toEqual(POLICY_WATCH_ACCESS.map((a) => `${a.verb} ${a.group}/${a.resource}`).sort());
    const binding = base.find((o) => o.kind === 'ClusterRoleBinding' && o.metadata.name === 'ztmesh-ca-policy-watch')!;
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'ztmesh-ca', namespace: 'ztmesh-system' }]);
    const args = base.find((o) => o.kind === 'Deployment' && o.metadata.name === 'ztmesh-ca')!.spec.template.spec.containers[0].args as string[];
    expect(args).toEqual(expect.arrayContaining(['--k8s-policy-watch', '--default-policy=allow']));
  });

  it('the CRD is not in the control plane\'s base (deleting a CRD deletes every policy), and Helm ships the same file', () => {
    expect(base.filter((o) => o.kind === 'CustomResourceDefinition')).toEqual([]);
    const helmCopy = fileURLToPath(new URL(`../../../deploy/helm/ztmesh/crds/${CRD_FILE}`, import.meta.url));
    expect(readFileSync(helmCopy, 'utf8')).toBe(readFileSync(`${DEPLOY_CRDS}/${CRD_FILE}`, 'utf8'));
    expect(parse(readFileSync(helmCopy, 'utf8')).metadata.labels).toEqual({ 'app.kubernetes.io/part-of': 'ztmesh' });
  });
});
