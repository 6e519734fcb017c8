// What one AdmissionReview may cost the webhook: its size, how deeply its JSON nests and how many values it holds,
// checked on the raw bytes before JSON.parse, and how many containers the pod has, checked before injection. Pure.
//
// Why each bound: the API server refuses request bodies over 3 MiB, so no review it sends is larger; the recursive
// steps after parsing (the JSON Patch diff, cloning) would overflow the stack on deep nesting; and injection's cost
// grows with the number of values (60,000 annotations took 600 ms of CPU, 20,000 containers 760 ms).

/** The API server's own limit on a request body (and etcd holds at most 1.5 MiB per object). */
export const MAX_REVIEW_BYTES = 3 * 1024 * 1024;
/** A pod's JSON nests about 10 deep (affinity terms); a review adds 3. */
export const MAX_REVIEW_DEPTH = 64;
/** JSON values (object members and array elements): a large real pod holds a few thousand. */
export const MAX_REVIEW_VALUES = 20_000;
/** containers + initContainers + ephemeralContainers of one pod: real pods have a handful. */
export const MAX_POD_CONTAINERS = 128;

/** Why a review's bytes are refused before parsing; undefined when they are within the bounds. */
export type ShapeRefusal = { code: 'review_too_deep' | 'review_too_many_values'; message: string };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

/**
 * Scans JSON bytes once, outside strings, for nesting deeper than `maxDepth` or more than `maxValues` values (counted
 * as commas and opening brackets, an upper bound of members and elements). Invalid JSON is left to JSON.parse.
 */
export function jsonShapeRefusal(body: Uint8Array, maxDepth = MAX_REVIEW_DEPTH, maxValues = MAX_REVIEW_VALUES): ShapeRefusal | undefined {
  let depth = 0;
  let values = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return { code: 'review_too_deep', message: `JSON nested deeper than ${maxDepth} levels` };
      if (++values > maxValues) return tooMany(maxValues);
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
    else if (c === COMMA && ++values > maxValues) return tooMany(maxValues);
  }
  return undefined;
}

const tooMany = (max: number): ShapeRefusal => ({ code: 'review_too_many_values', message: `more than ${max} JSON values` });

/** containers + initContainers + ephemeralContainers of a pod spec as the review carries it (not yet validated). */
export function containerCount(pod: { spec?: unknown } | undefined): number {
  const spec = pod?.spec as Record<string, unknown> | undefined;
  if (!spec || typeof spec !== 'object') return 0;
  return ['containers', 'initContainers', 'ephemeralContainers'].reduce((n, k) => n + (Array.isArray(spec[k]) ? (spec[k] as unknown[]).length : 0), 0);
}
