// resumeChain: how the writer goes on at start from the log's last line and FILE.head, table-tested; and FILE.head's
// fixed-width line, which is rewritten in place and never grows.
import { describe, expect, it } from 'vitest';
import { formatRecord, GENESIS, lineHash } from '../../../../src/ca/audit/audit-chain.js';
import { formatHead, parseHead, resumeChain } from '../../../../src/ca/audit/audit-head.js';

const T0 = Date.UTC(2026, 10, 27);
const l0 = formatRecord(0, T0, { event: 'opened' }, GENESIS);
const l1 = formatRecord(1, T0, { event: 'issued', spiffeId: 's' }, lineHash(l0));
const l2 = formatRecord(2, T0, { event: 'refused', code: 'x' }, lineHash(l1));
const at = (line: string, seq: number) => ({ seq, hash: lineHash(line) });

describe('resumeChain', () => {
  it.each([
    ['a new log', undefined, undefined, undefined, { seq: 0, prev: GENESIS }],
    ['a log from before FILE.head', l2, 2, undefined, { seq: 3, prev: lineHash(l2) }],
    ['the log ends with the head', l2, 2, at(l2, 2), { seq: 3, prev: lineHash(l2) }],
    ['the head lags one record (stopped between the two writes)', l2, 2, at(l1, 1), { seq: 3, prev: lineHash(l2) }],
  ])('%s: goes on without a report', (_what, last, lastSeq, head, expected) => {
    expect(resumeChain(last, lastSeq, head)).toEqual(expected);
  });

  it.each([
    ['lines removed from the end', l1, 1, at(l2, 2), { seq: 3, prev: lineHash(l1), found: expect.stringMatching(/^seq 1 \(sha256 [0-9a-f]{16}…\)$/) }],
    ['the whole log removed', undefined, undefined, at(l2, 2), { seq: 3, prev: GENESIS, found: 'no record' }],
    ['the last line replaced by another with the same seq', formatRecord(2, T0, { event: 'refused', code: 'y' }, lineHash(l1)), 2, at(l2, 2), { seq: 3, prev: expect.any(String) }],
    ['a head from another log (ahead by more than one)', l2, 2, at(l0, 0), { seq: 3, prev: lineHash(l2) }],
    ['a last line that is not a record', 'garbage', 5, at(l2, 2), { seq: 6, prev: lineHash('garbage'), found: 'a line that is not a record' }],
  ])('%s: reported, and the seq goes on after the head or the last line, whichever is later', (_what, last, lastSeq, head, expected) => {
    const r = resumeChain(last, lastSeq, head);
    expect(r).toMatchObject({ seq: expected.seq, prev: expected.prev, truncated: { headSeq: head.seq, head: head.hash } });
    if ('found' in expected) expect(r.truncated!.found).toEqual(expected.found);
  });
});

describe('FILE.head', () => {
  it('is one fixed-width line that parses back; anything else holds no head', () => {
    const h = { seq: 12, hash: lineHash(l2) };
    expect(formatHead(h)).toHaveLength(82);
    expect(formatHead({ seq: 1e12, hash: h.hash })).toHaveLength(82);
    expect(parseHead(formatHead(h))).toEqual(h);
    for (const bad of ['', 'x', `${h.hash} 12\n`, formatHead(h).slice(0, 40)]) expect(parseHead(bad)).toBeUndefined();
  });
});
