// When may the old root go? Until every SVID issued under it has expired. The issuance logs say which SVIDs those
// are; without a log, the bound `ca root activate` recorded (activation + max-ttl) stands. Pure.
import type { VerifiedEntry } from '../audit/audit-chain.js';

/** What `ca root activate` recorded in rotation.json. */
export interface ActivationRecord {
  /** SHA-256 hex of the root that was active before. */
  previousRoot: string;
  activatedAtMs: number;
  maxTtlMs: number;
  /** activatedAtMs + maxTtlMs: by then no SVID of the previous root is valid, whatever the logs say. */
  previousSvidsValidUntilMs: number;
}

/** The verdict: SVIDs under the retiring roots may be valid until `untilMs` (≤ now: none is). */
export interface RetireBound {
  untilMs: number;
  /** Old-root SVIDs the logs show valid at `nowMs`. */
  validCount: number;
  /** A sentence for the operator: where the bound comes from. */
  basis: string;
}

/**
 * Computes the bound from the verified logs of every replica (one entry per replica), or from the activation
 * record when no log is given. A log vouches only for the time it covers: SVIDs issued before its first record are
 * unknown to it, so they count as valid until that record's time + max-ttl. Without either source: unknown (∞).
 */
export function retireBound(input: {
  retiringRoots: readonly string[];
  logs: readonly { name: string; entries: readonly VerifiedEntry[] }[];
  activation: ActivationRecord | undefined;
  /** max-ttl when no activation record says it (the `ca serve` default). */
  defaultMaxTtlMs: number;
  nowMs: number;
}): RetireBound {
  const { retiringRoots, logs, activation, nowMs } = input;
  if (logs.length === 0) {
    if (!activation) return { untilMs: Infinity, validCount: 0, basis: 'no issuance log was given and rotation.json holds no activation time' };
    return {
      untilMs: activation.previousSvidsValidUntilMs, validCount: 0,
      basis: `no issuance log was given: activation at ${iso(activation.activatedAtMs)} + max-ttl ${activation.maxTtlMs / 1000}s`,
    };
  }
  const maxTtlMs = activation?.maxTtlMs ?? input.defaultMaxTtlMs;
  let untilMs = -Infinity;
  let validCount = 0;
  let validUntilMs = -Infinity;
  const blindSpots: string[] = [];
  for (const { name, entries } of logs) {
    // An empty log covers nothing: it is as blind as no log from now on.
    const first = entries[0];
    const coveredFromMs = first ? Date.parse(first.record.time) : nowMs;
    const blind = coveredFromMs + maxTtlMs;
    if (blind > untilMs) untilMs = blind;
    if (blind > nowMs) blindSpots.push(`${name} starts at ${iso(coveredFromMs)}: SVIDs issued before it may be valid until ${iso(blind)}`);
    for (const { record } of entries) {
      if (record.event !== 'issued' || !record.root || !retiringRoots.includes(record.root) || !record.notAfter) continue;
      const notAfterMs = Date.parse(record.notAfter);
      if (notAfterMs > untilMs) untilMs = notAfterMs;
      if (notAfterMs > nowMs) {
        validCount++;
        validUntilMs = Math.max(validUntilMs, notAfterMs);
      }
    }
  }
  const parts = [...(validCount > 0 ? [`the issuance log shows ${validCount} SVID(s) under the old root valid until ${iso(validUntilMs)}`] : []), ...blindSpots];
  const basis = parts.length ? parts.join('; ') : 'the issuance log shows no SVID under the old root still valid';
  return { untilMs, validCount, basis };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
