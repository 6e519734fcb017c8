// The byte scan that bounds a review before JSON.parse: for any JSON value it finds exactly the nesting depth and the
// value count (commas and opening brackets) of the parsed value, text inside strings (escaped quotes included) never
// counts, and arbitrary bytes never make it throw. containerCount reads an unvalidated pod.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { containerCount, jsonShapeRefusal } from '../../../src/k8s/review-bounds.js';

/** Depth and value count of a parsed value, as the scan counts them on its text. */
function shape(v: unknown): { depth: number; values: number } {
  if (v === null || typeof v !== 'object') return { depth: 0, values: 0 };
  const children = Array.isArray(v) ? v : Object.values(v as object);
  const inner = children.map(shape);
  return {
    depth: 1 + Math.max(0, ...inner.map((s) => s.depth)),
    values: 1 + Math.max(0, children.length - 1) + inner.reduce((n, s) => n + s.values, 0),
  };
}

describe('jsonShapeRefusal', () => {
  it('refuses exactly the values deeper or larger than the bounds', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 60 }), (v, maxDepth, maxValues) => {
      const { depth, values } = shape(v);
      const r = jsonShapeRefusal(Buffer.from(JSON.stringify(v), 'utf8'), maxDepth, maxValues);
      expect(r === undefined).toBe(depth <= maxDepth && values <= maxValues);
      if (depth > maxDepth && values <= maxValues) expect(r?.code).toBe('review_too_deep');
      if (values > maxValues && depth <= maxDepth) expect(r?.code).toBe('review_too_many_values');
    }), { numRuns: 500 });
  });

  it('never counts what is inside a string', () => {
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom('[', ']', '{', '}', ',', '"', '\\', 'a', 'é') }), (s) => {
      expect(jsonShapeRefusal(Buffer.from(JSON.stringify({ s }), 'utf8'), 1, 1)).toBeUndefined();
    }));
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      const r = jsonShapeRefusal(b, 3, 10);
      expect(r === undefined || typeof r.message === 'string').toBe(true);
    }));
  });
});

describe('containerCount', () => {
  it.each([
    [undefined, 0],
    [{}, 0],
    [{ spec: 'x' }, 0],
    [{ spec: { containers: 'x' } }, 0],
    [{ spec: { containers: [{}, {}], initContainers: [{}], ephemeralContainers: [{}] } }, 4],
  ])('%j → %i', (pod, n) => expect(containerCount(pod as { spec?: unknown })).toBe(n));
});
