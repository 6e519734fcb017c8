// Between the mesh stream's proto messages and typed values, both ways. Decoding never throws: whatever arrives
// (a field of the wrong type, a body that does not match its kind, a destination that does not parse), it returns
// either a typed value or a typed refusal with a stable code and a sentence naming the field.
import { isIPv4, isIPv6 } from 'node:net';
import { ipv4ToNumber, ipv6ToBigInt, normalizeAddress } from '../common/cidr.js';
import type { MeshUpdate as WireUpdate } from '../gen/ztmesh/mesh/v1/MeshUpdate.js';
import { destinationProblem, type MeshedDestination, type Refusal } from './destination.js';
import { INBOUND_MODES, MESH_KINDS, MESH_LIMITS, trustBundleVersion, type InboundMode } from './kinds.js';
import type { PolicySet } from '../policy/model.js';
import { decodePolicySet, encodePolicySet } from './policy-codec.js';

export type { Refusal } from './destination.js';

/** A JWT authority as the stream carries it (ca.proto's JwtAuthority, decoded; its receiver judges it). */
export interface WireJwtAuthority {
  keyId: string;
  /** SubjectPublicKeyInfo DER. */
  publicKey: Buffer;
  /** Unix seconds, decimal. */
  notAfter: string;
  signature: Buffer;
  signerChain: Buffer[];
}

/** A trust bundle as the stream carries it (ca.proto's TrustBundle, decoded). */
export interface WireBundle {
  trustDomain: string;
  roots: Buffer[];
  /** Decimal, as proto-loader gives a uint64. */
  sequence: string;
  crossCertificates: Buffer[];
  /** The keys that sign JWT-SVIDs (issue 24). */
  jwtAuthorities: WireJwtAuthority[];
}

/** The mesh-wide configuration. */
export interface MeshConfig {
  /** The default inbound mode of transparent sidecars that configure none; undefined: strict. */
  inboundMode?: InboundMode;
}

/** One update of one kind, typed. `base` "" is a snapshot; a delta names the version it applies to. */
export type MeshUpdate =
  | { kind: typeof MESH_KINDS.trustBundle; version: string; base: ''; bundle: WireBundle }
  | { kind: typeof MESH_KINDS.membership; version: string; base: string; upsert: MeshedDestination[]; remove: string[] }
  | { kind: typeof MESH_KINDS.config; version: string; base: ''; config: MeshConfig }
  | { kind: typeof MESH_KINDS.policy; version: string; base: ''; policy: PolicySet };

/** What a sidecar sends, typed. */
export type MeshRequest =
  | { type: 'subscribe'; kinds: string[]; sidecarVersion: string; addresses: string[] }
  | { type: 'ack'; kind: string; version: string; applied: boolean; errorCode: string; errorDetail: string }
  | { type: 'announce'; addresses: string[] };

export type Decoded<T> = { ok: true; value: T } | { ok: false; refusal: Refusal };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const malformed = (detail: string): { ok: false; refusal: Refusal } => ({ ok: false, refusal: { code: 'malformed_update', detail } });
const badRequest = (detail: string): { ok: false; refusal: Refusal } => ({ ok: false, refusal: { code: 'malformed_request', detail } });

/** A string field, "" when absent; undefined when present but not a bounded string. */
function token(v: unknown): string | undefined {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' && v.length <= MESH_LIMITS.maxTokenLength ? v : undefined;
}

/** A list of strings (each at most `maxLength`), at most `max` long; undefined when it is not one. */
function strings(v: unknown, max: number, maxLength: number = MESH_LIMITS.maxTokenLength): string[] | undefined {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > max) return undefined;
  return v.every((s) => typeof s === 'string' && s.length <= maxLength) ? (v as string[]) : undefined;
}

function buffers(v: unknown): Buffer[] | undefined {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) && v.every((b) => Buffer.isBuffer(b) || b instanceof Uint8Array) ? v.map((b) => Buffer.from(b as Uint8Array)) : undefined;
}

/** A uint64 as proto-loader gives it (a decimal string, or a number), as a decimal string; undefined otherwise. */
function uint64(v: unknown): string | undefined {
  const text = typeof v === 'string' || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) ? String(v) : undefined;
  return text !== undefined && /^\d{1,20}$/.test(text) ? text : undefined;
}

/** The JWT authorities of a bundle: at most maxJwtAuthorities, each with every field of its type. */
function jwtAuthorities(v: unknown): WireJwtAuthority[] | undefined {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > MESH_LIMITS.maxJwtAuthorities) return undefined;
  const out: WireJwtAuthority[] = [];
  for (const a of v) {
    if (!isObj(a)) return undefined;
    const keyId = token(a.keyId);
    const [publicKey] = buffers([a.publicKey]) ?? [];
    const [signature] = buffers([a.signature]) ?? [];
    const signerChain = buffers(a.signerChain);
    const notAfter = uint64(a.notAfter);
    if (!keyId || !publicKey || !signature || !signerChain || signerChain.length > MESH_LIMITS.maxSignerChain || notAfter === undefined) return undefined;
    out.push({ keyId, publicKey, notAfter, signature, signerChain });
  }
  return out;
}

function destination(v: unknown, i: number): Decoded<MeshedDestination> {
  if (!isObj(v)) return malformed(`membership.upsert[${i}] is not a message`);
  const key = token(v.key);
  const cidrs = strings(v.cidrs, MESH_LIMITS.maxCidrs, 64);
  const identities = strings(v.identities, MESH_LIMITS.maxIdentities, 2048);
  const ports = v.ports === undefined || v.ports === null ? [] : Array.isArray(v.ports) && v.ports.length <= MESH_LIMITS.maxPorts ? v.ports : undefined;
  if (key === undefined || cidrs === undefined || identities === undefined || ports === undefined || !ports.every((p) => typeof p === 'number')) {
    return malformed(`membership.upsert[${i}] has a field of the wrong type or size`);
  }
  const d: MeshedDestination = { key, cidrs, ports: ports as number[], identities };
  const problem = destinationProblem(d);
  return problem ? { ok: false, refusal: { code: problem.code, detail: `membership.upsert[${i}]: ${problem.detail}` } } : { ok: true, value: d };
}

/** Decodes one MeshUpdate (as proto-loader gives it, or anything else). Never throws. */
export function decodeUpdate(msg: unknown): Decoded<MeshUpdate> {
  try {
    if (!isObj(msg)) return malformed('the update is not a message');
    const kind = token(msg.kind);
    const version = token(msg.version);
    const base = token(msg.baseVersion);
    if (kind === undefined || version === undefined || base === undefined) return malformed('kind, version or base_version is not a bounded string');
    if (version === '') return malformed(`a ${kind || 'kindless'} update without a version`);
    switch (kind) {
      case MESH_KINDS.trustBundle: {
        const b = msg.trustBundle;
        if (base !== '') return malformed('a trust-bundle update must be a snapshot (base_version "")');
        if (!isObj(b)) return malformed('a trust-bundle update without a trust_bundle body');
        const roots = buffers(b.roots);
        const cross = buffers(b.crossCertificates);
        const trustDomain = token(b.trustDomain);
        const sequence = uint64(b.sequence);
        if (!roots || !cross || trustDomain === undefined || sequence === undefined) return malformed('trust_bundle has a field of the wrong type');
        const jwt = jwtAuthorities(b.jwtAuthorities);
        if (!jwt) return malformed(`trust_bundle.jwt_authorities: at most ${MESH_LIMITS.maxJwtAuthorities}, each with a kid, a key, a signature, not_after and at most ${MESH_LIMITS.maxSignerChain} signer certificates`);
        const expected = trustBundleVersion(sequence, jwt);
        if (version !== expected) return malformed(`trust-bundle version "${version}" is not "${expected}" (the sequence and the JWT authorities it carries)`);
        return { ok: true, value: { kind, version, base: '', bundle: { trustDomain, roots, sequence, crossCertificates: cross, jwtAuthorities: jwt } } };
      }
      case MESH_KINDS.membership: {
        const m = msg.membership;
        if (!isObj(m)) return malformed('a membership update without a membership body');
        const remove = strings(m.remove, Number.MAX_SAFE_INTEGER);
        if (remove === undefined || !Array.isArray(m.upsert ?? [])) return malformed('membership.remove or membership.upsert is not a list');
        if (base === '' && remove.length > 0) return malformed('a membership snapshot cannot remove keys');
        const upsert: MeshedDestination[] = [];
        const list = (m.upsert ?? []) as unknown[];
        for (let i = 0; i < list.length; i++) {
          const d = destination(list[i], i);
          if (!d.ok) return d;
          upsert.push(d.value);
        }
        return { ok: true, value: { kind, version, base, upsert, remove } };
      }
      case MESH_KINDS.config: {
        const c = msg.config;
        if (base !== '') return malformed('a config update must be a snapshot (base_version "")');
        if (!isObj(c)) return malformed('a config update without a config body');
        const mode = token(c.inboundMode);
        if (mode === undefined || (mode !== '' && !(INBOUND_MODES as readonly string[]).includes(mode))) {
          return malformed(`config.inbound_mode "${String(c.inboundMode).slice(0, 40)}" is not one of ${INBOUND_MODES.join(', ')}`);
        }
        return { ok: true, value: { kind, version, base: '', config: mode ? { inboundMode: mode as InboundMode } : {} } };
      }
      case MESH_KINDS.policy: {
        if (base !== '') return malformed('a policy update must be a snapshot (base_version "")');
        const set = decodePolicySet(msg.policy);
        return set.ok ? { ok: true, value: { kind, version, base: '', policy: set.value } } : set;
      }
      default:
        return { ok: false, refusal: { code: 'unknown_kind', detail: `an update of kind "${kind.slice(0, 40)}", which this sidecar did not subscribe to` } };
    }
  } catch (e) {
    // A getter that throws, a proxy: nothing a peer sends may stop the stream's reader.
    return malformed(`the update could not be read: ${String((e as Error)?.message ?? e).slice(0, 120)}`);
  }
}

/** Encodes a typed update for the wire. */
export function encodeUpdate(u: MeshUpdate): WireUpdate {
  const head = { kind: u.kind, version: u.version, baseVersion: u.base };
  switch (u.kind) {
    case MESH_KINDS.trustBundle: return { ...head, trustBundle: u.bundle };
    case MESH_KINDS.membership: return { ...head, membership: { upsert: u.upsert.map((d) => ({ ...d, cidrs: [...d.cidrs], ports: [...d.ports], identities: [...d.identities] })), remove: u.remove } };
    case MESH_KINDS.config: return { ...head, config: { inboundMode: u.config.inboundMode ?? '' } };
    case MESH_KINDS.policy: return { ...head, policy: encodePolicySet(u.policy) };
  }
}

/** Decodes one MeshRequest from a sidecar. Never throws. */
export function decodeRequest(msg: unknown): Decoded<MeshRequest> {
  try {
    if (!isObj(msg)) return badRequest('the request is not a message');
    const which = msg.request;
    if (which === 'subscribe' && isObj(msg.subscribe)) {
      const s = msg.subscribe;
      const kinds = strings(s.kinds, MESH_LIMITS.maxKinds);
      const sidecarVersion = token(s.sidecarVersion);
      const addresses = strings(s.addresses, Number.MAX_SAFE_INTEGER, 64);
      if (!kinds || sidecarVersion === undefined || !addresses) return badRequest(`subscribe: kinds (at most ${MESH_LIMITS.maxKinds}), sidecar_version or addresses malformed`);
      return { ok: true, value: { type: 'subscribe', kinds, sidecarVersion, addresses } };
    }
    if (which === 'ack' && isObj(msg.ack)) {
      const a = msg.ack;
      const kind = token(a.kind);
      const version = token(a.version);
      const errorCode = token(a.errorCode);
      const errorDetail = typeof a.errorDetail === 'string' ? a.errorDetail.slice(0, 1024) : a.errorDetail === undefined ? '' : undefined;
      if (kind === undefined || version === undefined || errorCode === undefined || errorDetail === undefined || typeof (a.applied ?? false) !== 'boolean') {
        return badRequest('ack has a field of the wrong type or size');
      }
      return { ok: true, value: { type: 'ack', kind, version, applied: a.applied === true, errorCode, errorDetail } };
    }
    if (which === 'announce' && isObj(msg.announce)) {
      const addresses = strings(msg.announce.addresses, Number.MAX_SAFE_INTEGER, 64);
      if (!addresses) return badRequest('announce: addresses is not a list of strings');
      return { ok: true, value: { type: 'announce', addresses } };
    }
    return badRequest('the request is none of subscribe, ack, announce');
  } catch (e) {
    return badRequest(`the request could not be read: ${String((e as Error)?.message ?? e).slice(0, 120)}`);
  }
}

/** True for an address a host may hold and another reach: not loopback, unspecified, link-local, multicast or broadcast. */
export function isRoutableAddress(address: string): boolean {
  const a = normalizeAddress(address);
  if (isIPv4(a)) {
    const n = ipv4ToNumber(a);
    const top = n >>> 24;
    return top !== 127 && top !== 0 && (n >>> 16) !== 0xa9fe && top < 224;
  }
  if (isIPv6(a)) {
    const n = ipv6ToBigInt(a);
    return n !== 0n && n !== 1n && (n >> 118n) !== 0x3fan && (n >> 120n) !== 0xffn;
  }
  return false;
}

/** Checks announced addresses: at most 16, each a routable IP literal. Returns them normalized (no duplicates), or a refusal. */
export function checkAnnounced(addresses: readonly string[]): Decoded<string[]> {
  if (addresses.length > MESH_LIMITS.maxAnnounceAddresses) {
    return { ok: false, refusal: { code: 'announce_too_many_addresses', detail: `${addresses.length} addresses announced, at most ${MESH_LIMITS.maxAnnounceAddresses}` } };
  }
  const out = new Set<string>();
  for (const a of addresses) {
    if (!isRoutableAddress(a)) {
      return { ok: false, refusal: { code: 'announce_bad_address', detail: `"${a.slice(0, 64)}" is not a routable IP literal (loopback, link-local, multicast and unspecified addresses are refused)` } };
    }
    out.add(normalizeAddress(a).toLowerCase());
  }
  return { ok: true, value: [...out] };
}
