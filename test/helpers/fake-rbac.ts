// RBAC for the stand-in API server, decided as the real RBAC authorizer does: from the ClusterRoles, Roles and their
// bindings stored in the stand-in, with system:masters allowed everything. Answers carry the real `reason` text.
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Who is asking (what authentication found). */
export interface KubeUser {
  username: string;
  groups: string[];
}

/** What is asked (the resourceAttributes of a SubjectAccessReview). */
export interface AccessAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** The stored RBAC objects the decision reads. */
export interface RbacObjects {
  clusterRoles: Map<string, Obj>;
  clusterRoleBindings: Map<string, Obj>;
  /** "namespace/name" */
  roles: Map<string, Obj>;
  roleBindings: Map<string, Obj>;
}

const SA_PREFIX = 'system:serviceaccount:';

function subjectMatches(s: Obj, user: KubeUser, bindingNs?: string): string | undefined {
  if (s.kind === 'User' && s.name === user.username) return `User "${s.name}"`;
  if (s.kind === 'Group' && user.groups.includes(s.name)) return `Group "${s.name}"`;
  if (s.kind === 'ServiceAccount' && user.username === `${SA_PREFIX}${s.namespace ?? bindingNs}:${s.name}`) return `ServiceAccount "${s.name}/${s.namespace ?? bindingNs}"`;
  return undefined;
}

const has = (list: unknown, v: string) => Array.isArray(list) && (list.includes('*') || list.includes(v));

function ruleAllows(rule: Obj, a: AccessAttributes): boolean {
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  if (!has(rule.verbs, a.verb) || !has(rule.apiGroups, a.group) || !has(rule.resources, resource)) return false;
  return !rule.resourceNames?.length || (a.name !== undefined && rule.resourceNames.includes(a.name));
}

/** allowed with the real reason text, or not allowed (the real API then gives no reason). */
export function authorize(rbac: RbacObjects, user: KubeUser, a: AccessAttributes): { allowed: boolean; reason?: string } {
  if (user.groups.includes('system:masters')) return { allowed: true };
  for (const [name, b] of rbac.clusterRoleBindings) {
    const who = (b.subjects ?? []).map((s: Obj) => subjectMatches(s, user)).find(Boolean);
    const role = b.roleRef?.kind === 'ClusterRole' ? rbac.clusterRoles.get(b.roleRef.name) : undefined;
    if (who && role && (role.rules ?? []).some((r: Obj) => ruleAllows(r, a))) {
      return { allowed: true, reason: `RBAC: allowed by ClusterRoleBinding "${name}" of ClusterRole "${b.roleRef.name}" to ${who}` };
    }
  }
  if (a.namespace) {
    for (const [key, b] of rbac.roleBindings) {
      const [ns, name] = key.split('/') as [string, string];
      if (ns !== a.namespace) continue;
      const who = (b.subjects ?? []).map((s: Obj) => subjectMatches(s, user, ns)).find(Boolean);
      const role = b.roleRef?.kind === 'Role' ? rbac.roles.get(`${ns}/${b.roleRef.name}`) : rbac.clusterRoles.get(b.roleRef?.name);
      if (who && role && (role.rules ?? []).some((r: Obj) => ruleAllows(r, a))) {
        return { allowed: true, reason: `RBAC: allowed by RoleBinding "${name}/${ns}" of ${b.roleRef.kind} "${b.roleRef.name}" to ${who}` };
      }
    }
  }
  return { allowed: false };
}

/** The message of the real 403 Status for a refused request. */
export function forbiddenMessage(user: KubeUser, a: AccessAttributes): string {
  const what = a.name ? `${a.resource} "${a.name}"` : a.resource;
  const where = a.namespace ? ` in the namespace "${a.namespace}"` : a.resource === 'namespaces' || !a.namespace ? ' at the cluster scope' : '';
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  return `${what} is forbidden: User "${user.username}" cannot ${a.verb} resource "${resource}" in API group "${a.group}"${where}`;
}
