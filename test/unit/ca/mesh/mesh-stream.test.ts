// Flow control of one mesh stream on the CA: one update in flight per kind, changes coalesced until the ack,
// deltas only on what the sidecar acknowledged, a snapshot after base_mismatch, no loop on a refused snapshot,
// and the stream ended when an ack never comes. Fake clock, no sockets.
import { describe, expect, it } from 'vitest';
import { ACK_TIMEOUT_MS, MeshStream } from '../../../../src/ca/mesh/mesh-stream.js';
import { MembershipKind } from '../../../../src/ca/mesh/membership-kind.js';
import { configKind } from '../../../../src/ca/mesh/config-kind.js';
import type { MeshUpdate } from '../../../../src/mesh/codec.js';
import type { MeshedDestination } from '../../../../src/mesh/destination.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

const d = (key: string, ip: string): MeshedDestination => ({ key, cidrs: [`${ip}/32`], ports: [], identities: [] });
const flush = () => new Promise<void>((r) => queueMicrotask(r));
const peer = { spiffeId: 'spiffe://example.org/ns/a/sa/b', address: '10.0.0.9:5000' };
const ack = (u: MeshUpdate, applied = true, errorCode = '') => ({ type: 'ack' as const, kind: u.kind, version: u.version, applied, errorCode, errorDetail: '' });

function setup() {
  const clock = new FakeClock();
  const membership = new MembershipKind('inst');
  for (let i = 1; i <= 5; i++) membership.upsert(d(`pod/ns/p${i}`, `10.0.0.${i}`));
  const sent: MeshUpdate[] = [];
  const ended: string[] = [];
  const stream = new MeshStream({ peer, sources: [membership, configKind('inst', { inboundMode: 'permissive' })], clock, write: (u) => sent.push(u), end: (code) => ended.push(code) });
  return { clock, membership, sent, ended, stream };
}

describe('MeshStream', () => {
  it('sends a snapshot of every kind at once', () => {
    const { stream, sent } = setup();
    stream.start();
    expect(sent.map((u) => [u.kind, u.base])).toEqual([['membership', ''], ['config', '']]);
    expect(sent[0]).toMatchObject({ upsert: expect.arrayContaining([d('pod/ns/p1', '10.0.0.1')]) });
  });

  it('holds one update in flight per kind and coalesces changes into the next delta', async () => {
    const { stream, sent, membership } = setup();
    stream.start();
    const snap = sent[0]!;
    membership.upsert(d('pod/ns/p6', '10.0.0.6'));
    membership.remove('pod/ns/p1');
    membership.upsert(d('pod/ns/p7', '10.0.0.7'));
    await flush();
    expect(sent).toHaveLength(2);
    expect(stream.ack(ack(snap))).toBeUndefined();
    expect(sent).toHaveLength(3);
    const delta = sent[2]!;
    expect(delta).toMatchObject({ kind: 'membership', base: snap.version, version: membership.version(), remove: ['pod/ns/p1'] });
    expect(delta.kind === 'membership' && delta.upsert.map((x) => x.key).sort()).toEqual(['pod/ns/p6', 'pod/ns/p7']);
    expect(stream.kinds().membership).toMatchObject({ sent: delta.version, acked: snap.version, snapshots: 1, deltas: 1 });
  });

  it('answers a base_mismatch NACK of a delta with a snapshot', async () => {
    const { stream, sent, membership } = setup();
    stream.start();
    stream.ack(ack(sent[0]!));
    membership.upsert(d('pod/ns/p6', '10.0.0.6'));
    await flush();
    const delta = sent.at(-1)!;
    expect(delta.base).not.toBe('');
    stream.ack(ack(delta, false, 'base_mismatch'));
    expect(sent.at(-1)).toMatchObject({ kind: 'membership', base: '', version: delta.version });
    expect(stream.kinds().membership?.lastNack).toMatchObject({ code: 'base_mismatch', version: delta.version });
  });

  it('does not send a refused snapshot again until its kind changes', async () => {
    const { stream, sent, membership } = setup();
    stream.start();
    const count = sent.length;
    stream.ack(ack(sent[0]!, false, 'base_mismatch'));
    expect(sent).toHaveLength(count);
    membership.upsert(d('pod/ns/p6', '10.0.0.6'));
    await flush();
    expect(sent).toHaveLength(count + 1);
    expect(sent.at(-1)).toMatchObject({ base: '' });
  });

  it('names a stray ack, and ends the stream when an ack never comes', async () => {
    const { stream, sent, ended, clock } = setup();
    stream.start();
    expect(stream.ack({ ...ack(sent[0]!), version: 'inst-999' })).toBe('ack_unexpected_version');
    expect(stream.ack({ ...ack(sent[0]!), kind: 'policy' })).toBe('ack_unknown_kind');
    stream.ack(ack(sent[1]!));
    await clock.advance(ACK_TIMEOUT_MS - 1);
    expect(ended).toEqual([]);
    await clock.advance(1);
    expect(ended).toEqual(['ack_timeout']);
  });

  it('a closed stream sends nothing more and leaves no timer', async () => {
    const { stream, sent, membership, clock } = setup();
    stream.start();
    stream.close();
    membership.upsert(d('pod/ns/p6', '10.0.0.6'));
    await flush();
    expect(sent).toHaveLength(2);
    expect(clock.pendingTimers()).toEqual([]);
  });
});
