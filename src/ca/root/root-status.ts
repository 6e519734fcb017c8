// `ztmesh ca root status`: the roots of the bundle, the state of each (active, prepared, retiring), and the next
// step of a rotation, decided from what the state directory holds. Pure.
import type { X509Certificate } from 'node:crypto';
import { rootId } from './bundle-file.js';
import type { ActivationRecord } from './retire-check.js';
import { certNotAfterMs } from '../../pki/validity.js';

export type RootState = 'active' | 'prepared' | 'retiring';

/** What the state directory says about its roots (read by root-rotation.ts). */
export interface RootDirView {
  dir: string;
  trustDomain: string;
  /** ca.pem is an intermediate under an operator's root (plug-in CA): ztmesh does not hold the root's key. */
  plugin: boolean;
  roots: readonly X509Certificate[];
  sequence: number;
  /** The root ca.pem (and chain.pem) lead to. */
  active: X509Certificate | undefined;
  /** next.pem: the prepared root. */
  next: X509Certificate | undefined;
  activation: ActivationRecord | undefined;
}

export interface RootStatus {
  trustDomain: string;
  sequence: number;
  plugin: boolean;
  roots: { sha256: string; subject: string; notAfter: string; state: RootState }[];
  step: 'idle' | 'prepared' | 'activated' | 'plugin';
  /** When SVIDs of the retiring root(s) will all have expired, as recorded by activate. */
  previousSvidsValidUntil: string | null;
  next: string;
}

/** The status of the roots and what to do next. */
export function rootStatus(v: RootDirView, nowMs: number): RootStatus {
  const stateOf = (r: X509Certificate): RootState =>
    v.active && r.raw.equals(v.active.raw) ? 'active' : v.next && r.raw.equals(v.next.raw) ? 'prepared' : 'retiring';
  const roots = v.roots.map((r) => ({
    sha256: rootId(r), subject: (r.subject ?? '').replace(/\n/g, ', '), notAfter: new Date(certNotAfterMs(r)).toISOString(), state: stateOf(r),
  }));
  const until = v.activation?.previousSvidsValidUntilMs;
  const dirArg = `--dir ${v.dir}`;
  let step: RootStatus['step'];
  let next: string;
  if (v.plugin) {
    step = 'plugin';
    next = 'ca.pem is an intermediate under your own root (plug-in CA): rotate that root with your PKI (docs/ca.md "Root rotation with a plug-in CA")';
  } else if (roots.some((r) => r.state === 'prepared')) {
    step = 'prepared';
    next = `sidecars are receiving the new root; once every sidecar's /status lists ${roots.length} roots (on Kubernetes: after the trust bundle ConfigMap is applied too), run: ztmesh ca root activate ${dirArg}`;
  } else if (roots.some((r) => r.state === 'retiring')) {
    step = 'activated';
    next = until !== undefined && until > nowMs
      ? `SVIDs issued under the old root may be valid until ${new Date(until).toISOString()}; then run: ztmesh ca root retire ${dirArg} (with --audit-log FILE for each replica's log, it can tell sooner)`
      : `run: ztmesh ca root retire ${dirArg}`;
  } else {
    step = 'idle';
    next = `nothing in progress; to rotate the root, run: ztmesh ca root prepare ${dirArg}`;
  }
  return {
    trustDomain: v.trustDomain, sequence: v.sequence, plugin: v.plugin, roots, step,
    previousSvidsValidUntil: until !== undefined && roots.some((r) => r.state === 'retiring') ? new Date(until).toISOString() : null, next,
  };
}

/** The status as text for a person. */
export function formatRootStatus(s: RootStatus): string {
  const lines = [`Trust domain   ${s.trustDomain}${s.plugin ? ' (plug-in CA)' : ''}`, `Bundle         sequence ${s.sequence}, ${s.roots.length} root(s)`];
  for (const r of s.roots) lines.push(`  ${r.state.padEnd(9)} sha256:${r.sha256.slice(0, 16)}… ${r.subject}, expires ${r.notAfter}`);
  if (s.previousSvidsValidUntil) lines.push(`Old-root SVIDs may be valid until ${s.previousSvidsValidUntil}`);
  lines.push(`Next           ${s.next}`);
  return `${lines.join('\n')}\n`;
}
