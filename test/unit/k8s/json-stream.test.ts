// Concatenated JSON values (kubectl's -o json for several resources) split back into the values, whatever the
// spacing and whatever the strings hold; broken input names the value and its offset.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseJsonStream } from '../../../src/k8s/json-stream.js';

describe('parseJsonStream', () => {
  it('splits any sequence of JSON values, joined by nothing or by whitespace, into those values', () => {
    const value = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown);
    fc.assert(fc.property(fc.array(fc.tuple(value, fc.constantFrom(0, 2, 4), fc.constantFrom('', '\n', ' \n\t')), { minLength: 1, maxLength: 6 }), (items) => {
      const objects = items.map(([v]) => ({ wrapped: v }));
      const text = items.map(([, indent, sep], i) => JSON.stringify(objects[i], null, indent) + sep).join('');
      expect(parseJsonStream(text)).toEqual(objects);
    }), { numRuns: 300 });
  });

  it('a single document, with strings full of braces and escapes', () => {
    expect(parseJsonStream('{"a":"}{\\"[","b":[1,{"c":"\\\\"}]}  {"d":2}\n')).toEqual([{ a: '}{"[', b: [1, { c: '\\' }] }, { d: 2 }]);
  });

  it('refuses a broken value, naming which and where', () => {
    expect(() => parseJsonStream('{"a":1}\n{"b":}')).toThrow(expect.objectContaining({ code: 'invalid_manifest', message: expect.stringMatching(/^not valid JSON: value 2 \(at offset 8\)/) }));
    expect(() => parseJsonStream('{"a":1')).toThrow(/value 1 \(at offset 0\)/);
  });

  it('never throws anything but its own error on arbitrary text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (text) => {
      try {
        parseJsonStream(text);
      } catch (e) {
        expect((e as { code?: string }).code).toBe('invalid_manifest');
      }
    }), { numRuns: 500 });
  });
});
