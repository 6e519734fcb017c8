// Who may use the Workload API: a pure decision over the caller's uid and gid (SO_PEERCRED) and the configured
// lists. Entries are OR'ed and anything not admitted is refused; "*" admits every uid.
import type { PeerCredentials } from './peer-credentials.js';

/** `workloadApi.allowUids` / `allowGids` as parsed: numbers, or any. */
export interface AccessPolicy {
  uids: ReadonlySet<number> | 'any';
  gids: ReadonlySet<number>;
}

export type AccessDecision = { allow: true; by: 'uid' | 'gid' | 'any' } | { allow: false; reason: 'uid_not_allowed' };

/**
 * The policy of a configuration: the lists as given ("*" in allowUids admits any uid), or, when neither list is set,
 * only `ownUid` (the sidecar's own user: outside a pod, nobody else). Pure.
 */
export function accessPolicy(allowUids: readonly string[] | undefined, allowGids: readonly string[] | undefined, ownUid: number): AccessPolicy {
  if (allowUids === undefined && allowGids === undefined) return { uids: new Set([ownUid]), gids: new Set() };
  const uids = allowUids ?? [];
  return {
    uids: uids.includes('*') ? 'any' : new Set(uids.map(Number)),
    gids: new Set((allowGids ?? []).map(Number)),
  };
}

/** Whether the caller is admitted, and by which entry. Pure. */
export function admit(cred: Pick<PeerCredentials, 'uid' | 'gid'>, policy: AccessPolicy): AccessDecision {
  if (policy.uids === 'any') return { allow: true, by: 'any' };
  if (policy.uids.has(cred.uid)) return { allow: true, by: 'uid' };
  if (policy.gids.has(cred.gid)) return { allow: true, by: 'gid' };
  return { allow: false, reason: 'uid_not_allowed' };
}

/** The policy as /status shows it. */
export function describePolicy(policy: AccessPolicy): { allowUids: string[]; allowGids: string[] } {
  return { allowUids: policy.uids === 'any' ? ['*'] : [...policy.uids].map(String), allowGids: [...policy.gids].map(String) };
}
