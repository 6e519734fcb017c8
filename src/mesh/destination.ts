// A meshed destination: the unit of membership (docs/design.md "Mesh stream", membership rules). Its key is unique
// in the set; its CIDRs and ports say where mTLS is owed; its identities, when given, whom to expect there. Pure.
import { parseCidr } from '../common/cidr.js';
import { parseSpiffeId } from '../pki/spiffe-id.js';
import { MESH_LIMITS } from './kinds.js';

/** One entry of the membership set, as both ends hold it. */
export interface MeshedDestination {
  /** "pod/<ns>/<name>", "svc/<ns>/<name>", "static/<cidr>", "announce/<id-hash>/<ip>". */
  key: string;
  /** "10.0.0.7/32", "fd00::7/128", "10.1.0.0/16". */
  cidrs: readonly string[];
  /** Empty: every port. */
  ports: readonly number[];
  /** SPIFFE IDs expected there; empty: any ID of the trust domain. */
  identities: readonly string[];
}

/** Why a destination (or an update carrying it) was refused: a stable code and a sentence naming the field. */
export interface Refusal {
  code: string;
  detail: string;
}

const KEY = /^[\x21-\x7e]+$/;

/** Checks one destination; undefined when it is valid. Never throws. */
export function destinationProblem(d: MeshedDestination): Refusal | undefined {
  const bad = (detail: string): Refusal => ({ code: 'malformed_destination', detail: `destination "${String(d.key).slice(0, 80)}": ${detail}` });
  if (typeof d.key !== 'string' || d.key.length === 0 || d.key.length > MESH_LIMITS.maxTokenLength || !KEY.test(d.key)) return bad('key is empty, too long or not printable');
  if (d.cidrs.length === 0) return bad('has no CIDR');
  if (d.cidrs.length > MESH_LIMITS.maxCidrs) return bad(`more than ${MESH_LIMITS.maxCidrs} CIDRs`);
  for (const c of d.cidrs) if (typeof c !== 'string' || c.length > 64 || !parseCidr(c) || !c.includes('/')) return bad(`"${String(c).slice(0, 64)}" is not a CIDR (a/b)`);
  if (d.ports.length > MESH_LIMITS.maxPorts) return bad(`more than ${MESH_LIMITS.maxPorts} ports`);
  for (const p of d.ports) if (!Number.isInteger(p) || p < 1 || p > 65535) return bad(`${p} is not a port`);
  if (d.identities.length > MESH_LIMITS.maxIdentities) return bad(`more than ${MESH_LIMITS.maxIdentities} identities`);
  for (const id of d.identities) {
    try {
      parseSpiffeId(id);
    } catch {
      return bad(`"${String(id).slice(0, 80)}" is not a SPIFFE ID`);
    }
  }
  return undefined;
}

/** True when two destinations say the same thing (same order of lists: sources build them sorted). */
export function sameDestination(a: MeshedDestination, b: MeshedDestination): boolean {
  const same = <T>(x: readonly T[], y: readonly T[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  return a.key === b.key && same(a.cidrs, b.cidrs) && same(a.ports, b.ports) && same(a.identities, b.identities);
}
