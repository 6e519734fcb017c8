// What a configuration reload (SIGHUP) may change in a running sidecar: the inbound policies, applied from the next
// connection or tunnel stream. Every other difference is named as needing a restart. Pure over two configurations.
import type { SidecarConfig } from './config-schema.js';

/** A listener's policy as the configuration states it. */
export interface PolicyChange {
  /** The inbound listener's name, or `transparent-inbound`. */
  listener: string;
  allow: readonly string[] | undefined;
  defaultPolicy: 'allow' | 'deny';
}

export interface ReloadPlan {
  policies: PolicyChange[];
  /** Keys whose new value takes a restart, as "inbound[api].forward" or "admin". */
  restartNeeded: string[];
}

const POLICY_KEYS = new Set(['allow', 'defaultPolicy']);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Keys of `a` and `b` (objects) whose values differ, leaving out `skip`. */
function differing(a: Record<string, unknown>, b: Record<string, unknown>, skip: ReadonlySet<string> = new Set()): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !skip.has(k) && !same(a[k], b[k]));
}

/** Compares the running configuration with a newly loaded one. */
export function planReload(running: SidecarConfig, next: SidecarConfig): ReloadPlan {
  const policies: PolicyChange[] = [];
  const restartNeeded = differing(running as unknown as Record<string, unknown>, next as unknown as Record<string, unknown>, new Set(['inbound', 'transparent']));
  const before = new Map(running.inbound.map((l) => [l.name, l]));
  const after = new Map(next.inbound.map((l) => [l.name, l]));
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(name);
    const b = after.get(name);
    if (!a || !b) {
      restartNeeded.push(`inbound[${name}]`);
      continue;
    }
    for (const k of differing(a, b, POLICY_KEYS)) restartNeeded.push(`inbound[${name}].${k}`);
    if (!same(a.allow, b.allow) || a.defaultPolicy !== b.defaultPolicy) policies.push({ listener: name, allow: b.allow, defaultPolicy: b.defaultPolicy });
  }
  const t0 = running.transparent;
  const t1 = next.transparent;
  for (const k of differing(t0, t1, POLICY_KEYS)) restartNeeded.push(`transparent.${k}`);
  if (t1.enabled && t0.enabled && (!same(t0.allow, t1.allow) || t0.defaultPolicy !== t1.defaultPolicy)) {
    policies.push({ listener: 'transparent-inbound', allow: t1.allow, defaultPolicy: t1.defaultPolicy });
  }
  return { policies, restartNeeded };
}

/** `running` with the policies of `next` (what the sidecar runs after a reload applied them). */
export function withPolicies(running: SidecarConfig, next: SidecarConfig): SidecarConfig {
  const policyOf = new Map(next.inbound.map((l) => [l.name, l]));
  return {
    ...running,
    inbound: running.inbound.map((l) => {
      const n = policyOf.get(l.name);
      return n ? { ...l, allow: n.allow, defaultPolicy: n.defaultPolicy } : l;
    }),
    transparent: { ...running.transparent, allow: next.transparent.allow, defaultPolicy: next.transparent.defaultPolicy },
  };
}
