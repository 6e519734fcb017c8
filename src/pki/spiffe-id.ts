// SPIFFE ID parsing and validation per the SPIFFE ID specification, plus ID patterns.
// Pure: used by the CA (what to sign), the sidecar (what to expect) and authorization.
import { PkiError } from '../common/errors.js';

/** Maximum length of a SPIFFE ID in bytes (the spec's URI limit). */
export const MAX_SPIFFE_ID_LENGTH = 2048;
/** Maximum length of a trust domain name. */
export const MAX_TRUST_DOMAIN_LENGTH = 255;

const TRUST_DOMAIN_CHARS = /^[a-z0-9._-]+$/;
const SEGMENT_CHARS = /^[a-zA-Z0-9._-]+$/;
const PREFIX = 'spiffe://';

/** A validated SPIFFE ID. */
export interface SpiffeId {
  trustDomain: string;
  /** "" or "/seg/seg". */
  path: string;
  /** The canonical string form. */
  uri: string;
}

function fail(code: string, text: string, why: string): never {
  throw new PkiError(code, `invalid SPIFFE ID "${text.slice(0, 120)}": ${why}`);
}

/** Validates a trust domain name; throws PkiError `invalid_trust_domain`. */
export function validateTrustDomain(td: string): string {
  if (td.length === 0) fail('invalid_trust_domain', td, 'trust domain is empty');
  if (td.length > MAX_TRUST_DOMAIN_LENGTH) fail('invalid_trust_domain', td, 'trust domain is too long');
  if (!TRUST_DOMAIN_CHARS.test(td)) {
    fail('invalid_trust_domain', td, 'trust domain may hold only lowercase letters, digits, ".", "-" and "_"');
  }
  return td;
}

/**
 * A valid ID in one match: a trust domain, then segments that are not "." or "..". Anything it refuses goes through the
 * checks below, which say why. (The data path parses each peer's ID on every connection and stream.)
 */
const VALID_ID = /^spiffe:\/\/([a-z0-9._-]{1,255})((?:\/(?!\.\.?(?:\/|$))[a-zA-Z0-9._-]+)*)$/;

/** Parses and validates a SPIFFE ID; throws PkiError `invalid_spiffe_id`. */
export function parseSpiffeId(text: string): SpiffeId {
  if (typeof text === 'string' && text.length <= MAX_SPIFFE_ID_LENGTH) {
    const m = VALID_ID.exec(text);
    if (m) return { trustDomain: m[1]!, path: m[2]!, uri: text };
  }
  if (typeof text !== 'string' || text.length === 0) fail('invalid_spiffe_id', String(text), 'empty');
  if (Buffer.byteLength(text) > MAX_SPIFFE_ID_LENGTH) fail('invalid_spiffe_id', text, 'longer than 2048 bytes');
  if (!text.startsWith(PREFIX)) fail('invalid_spiffe_id', text, 'scheme must be "spiffe://" (lowercase)');
  const rest = text.slice(PREFIX.length);
  if (/[?#]/.test(rest)) fail('invalid_spiffe_id', text, 'query and fragment are not allowed');
  const slash = rest.indexOf('/');
  const td = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  if (td.includes('@')) fail('invalid_spiffe_id', text, 'userinfo is not allowed');
  if (td.includes(':')) fail('invalid_spiffe_id', text, 'a port is not allowed');
  try {
    validateTrustDomain(td);
  } catch (e) {
    fail('invalid_spiffe_id', text, (e as Error).message.replace(/^.*: /, ''));
  }
  if (path !== '') {
    const segments = path.slice(1).split('/');
    for (const seg of segments) {
      if (seg === '') fail('invalid_spiffe_id', text, 'path has an empty segment (or a trailing "/")');
      if (seg === '.' || seg === '..') fail('invalid_spiffe_id', text, 'path segments "." and ".." are not allowed');
      if (!SEGMENT_CHARS.test(seg)) fail('invalid_spiffe_id', text, `path segment "${seg}" has characters outside [a-zA-Z0-9._-]`);
    }
  }
  return { trustDomain: td, path, uri: text };
}

/** The workload ID convention of ztmesh: spiffe://<td>/ns/<ns>/sa/<sa>. */
export function workloadId(trustDomain: string, namespace: string, serviceAccount: string): SpiffeId {
  return parseSpiffeId(`${PREFIX}${trustDomain}/ns/${namespace}/sa/${serviceAccount}`);
}

/** The ID of a trust domain itself (used as the CA certificate's URI SAN). */
export function trustDomainId(trustDomain: string): string {
  return `${PREFIX}${validateTrustDomain(trustDomain)}`;
}

/**
 * An ID pattern: an exact ID, "spiffe://td/prefix/*" (one or more further segments),
 * or "spiffe://td" / "spiffe://td/*" for the whole trust domain.
 */
export interface SpiffePattern {
  trustDomain: string;
  /** Exact path to match, or the prefix (ending in "/") when `prefix` is true. */
  path: string;
  prefix: boolean;
  text: string;
}

/** Parses a pattern; throws PkiError `invalid_spiffe_pattern`. */
export function parseSpiffePattern(text: string): SpiffePattern {
  try {
    if (text.endsWith('/*')) {
      const base = parseSpiffeId(text.slice(0, -2));
      return { trustDomain: base.trustDomain, path: `${base.path}/`, prefix: true, text };
    }
    const id = parseSpiffeId(text);
    if (id.path === '') return { trustDomain: id.trustDomain, path: '/', prefix: true, text };
    return { trustDomain: id.trustDomain, path: id.path, prefix: false, text };
  } catch (e) {
    throw new PkiError('invalid_spiffe_pattern', `invalid SPIFFE ID pattern "${text}": ${(e as Error).message}`);
  }
}

/** True when `id` matches `pattern`. Pure. */
export function matchesPattern(id: SpiffeId, pattern: SpiffePattern): boolean {
  if (id.trustDomain !== pattern.trustDomain) return false;
  return pattern.prefix ? id.path.startsWith(pattern.path) : id.path === pattern.path;
}
