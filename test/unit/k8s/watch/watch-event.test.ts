// The watch wire format: lines split from any chunking, bounded in size, decoded into checked events; anything else
// is a reason to skip, never a throw. Tables for the known shapes, fast-check for everything else.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeWatchLine, LineSplitter } from '../../../../src/k8s/watch/watch-event.js';

const pod = (rv: string, extra: Record<string, unknown> = {}) => ({ kind: 'Pod', apiVersion: 'v1', metadata: { name: 'web-1', namespace: 'shop', resourceVersion: rv, ...extra } });

describe('decodeWatchLine', () => {
  it.each([
    ['ADDED', { type: 'ADDED', object: pod('7') }, { type: 'ADDED', resourceVersion: '7' }],
    ['MODIFIED', { type: 'MODIFIED', object: pod('8') }, { type: 'MODIFIED', resourceVersion: '8' }],
    ['DELETED', { type: 'DELETED', object: pod('9') }, { type: 'DELETED', resourceVersion: '9' }],
    ['BOOKMARK', { type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '12' } } }, { type: 'BOOKMARK', resourceVersion: '12' }],
    ['ERROR 410', { type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 1 (5)' } },
      { type: 'ERROR', code: 410, reason: 'Expired', message: 'too old resource version: 1 (5)' }],
  ])('decodes %s', (_name, line, expected) => {
    expect(decodeWatchLine(JSON.stringify(line))).toMatchObject(expected);
  });

  it.each([
    ['not JSON', '{"type":"ADDED",', 'not JSON'],
    ['an array', '[1,2]', 'not a JSON object'],
    ['an unknown type', JSON.stringify({ type: 'SYNC', object: pod('1') }), 'unknown event type "SYNC"'],
    ['no type', JSON.stringify({ object: pod('1') }), 'unknown event type undefined'],
    ['an object without metadata', JSON.stringify({ type: 'ADDED', object: { kind: 'Pod' } }), 'ADDED event: object has no metadata'],
    ['an object without a name', JSON.stringify({ type: 'MODIFIED', object: { metadata: { resourceVersion: '3' } } }), 'MODIFIED event: object has no metadata.name'],
    ['a numeric namespace', JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a', namespace: 5, resourceVersion: '3' } } }), 'ADDED event: metadata.namespace is not a string'],
    ['an object without a resourceVersion', JSON.stringify({ type: 'DELETED', object: { metadata: { name: 'a' } } }), 'DELETED event: object has no metadata.resourceVersion'],
    ['a bookmark without a resourceVersion', JSON.stringify({ type: 'BOOKMARK', object: { metadata: {} } }), 'BOOKMARK without metadata.resourceVersion'],
    ['an ERROR without a code', JSON.stringify({ type: 'ERROR', object: { kind: 'Status', message: 'x' } }), 'ERROR event without a Status code'],
  ])('refuses %s with a reason', (_name, line, reason) => {
    expect(decodeWatchLine(line)).toEqual({ malformed: reason });
  });

  it('never throws, and gives an event only for the shapes above (fast-check)', () => {
    const meta = fc.record({ name: fc.oneof(fc.string(), fc.integer()), namespace: fc.option(fc.oneof(fc.string(), fc.constant(5)), { nil: undefined }), resourceVersion: fc.oneof(fc.string(), fc.nat()) }, { requiredKeys: [] });
    const event = fc.record({
      type: fc.oneof(fc.constantFrom('ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR'), fc.string()),
      object: fc.oneof(fc.record({ metadata: meta, code: fc.oneof(fc.integer(), fc.string()) }, { requiredKeys: [] }), fc.jsonValue()),
    }, { requiredKeys: [] });
    const line = fc.oneof(event.map((e) => JSON.stringify(e)), fc.string(), fc.jsonValue().map((v) => JSON.stringify(v)));
    fc.assert(fc.property(line, (l) => {
      const d = decodeWatchLine(l);
      if ('malformed' in d) return typeof d.malformed === 'string';
      const raw = JSON.parse(l);
      expect(raw.type).toBe(d.type);
      if (d.type === 'ERROR') expect(d.code).toBe(raw.object.code);
      else if (d.type === 'BOOKMARK') expect(d.resourceVersion).toBe(raw.object.metadata.resourceVersion);
      else {
        expect(typeof d.object.metadata.name).toBe('string');
        expect(d.object.metadata.name).not.toBe('');
        expect(d.resourceVersion).toBe(raw.object.metadata.resourceVersion);
      }
      return true;
    }), { numRuns: 2_000 });
  });
});

describe('LineSplitter', () => {
  it('gives the same lines whatever the chunking, empty lines dropped (fast-check)', () => {
    const lines = fc.array(fc.string({ unit: 'binary', maxLength: 40 }).map((s) => s.replace(/\n/g, '')), { maxLength: 20 });
    fc.assert(fc.property(lines, fc.array(fc.nat(60), { maxLength: 10 }), (ls, cuts) => {
      const bytes = Buffer.from(ls.map((l) => `${l}\n`).join(''), 'utf8');
      const points = [...new Set(cuts.map((c) => Math.min(c, bytes.length)))].sort((a, b) => a - b);
      const splitter = new LineSplitter(1_000);
      const out: unknown[] = [];
      let at = 0;
      for (const p of [...points, bytes.length]) {
        out.push(...splitter.push(bytes.subarray(at, p)));
        at = p;
      }
      expect(out).toEqual(ls.filter((l) => l.trim() !== ''));
      expect(splitter.pending).toBe(0);
    }), { numRuns: 1_000 });
  });

  it('drops a line longer than its bound, once, and goes on with the next; it never holds more than the bound', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 17 }), (max, longLen, chunk) => {
      const long = 'x'.repeat(max + longLen);
      const bytes = Buffer.from(`ok1\n${long}\nok2\n`);
      const splitter = new LineSplitter(max);
      const out: unknown[] = [];
      for (let i = 0; i < bytes.length; i += chunk) {
        out.push(...splitter.push(bytes.subarray(i, i + chunk)));
        expect(splitter.pending).toBeLessThanOrEqual(max);
      }
      const expected = ['ok1', { overflow: true }, 'ok2'].filter((l) => typeof l !== 'string' || l.length <= max);
      // A bound below 3 bytes also overflows the short lines, each once.
      const short = (l: string) => (l.length <= max ? [l] : [{ overflow: true }]);
      expect(out).toEqual(max >= 3 ? expected : [...short('ok1'), { overflow: true }, ...short('ok2')]);
    }), { numRuns: 300 });
  });
});
