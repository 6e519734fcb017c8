// poll(2) through koffi on real sockets (common/socket-poll.ts): what the kernel says of a socket nobody reads,
// once its peer shut its side (`fin`, also when ours was shut first: POLLHUP), reset it (`gone`), or did neither.
import { describe, expect, it } from 'vitest';
import { socketFd } from '../../../src/common/node-internals.js';
import { loadPeerStates } from '../../../src/common/socket-poll.js';
import { pausedSocketPairs } from '../../helpers/datapath.js';

const pair = pausedSocketPairs();

/** Polls `fd` until it reports something other than `from` (the peer's packet is on its way). */
async function next(states: ReturnType<typeof loadPeerStates>, fd: number, from: unknown) {
  for (let i = 0; i < 200; i++) {
    const [s] = states([fd]);
    if (s !== from) return s;
    await new Promise((r) => setTimeout(r, 5));
  }
  return from;
}

describe('loadPeerStates', () => {
  const states = loadPeerStates();

  it('says nothing of a live peer, fin once it shut its side (behind unread bytes too, and after ours), gone once it reset', async () => {
    const [ours, peer] = await pair();
    const fd = socketFd(ours);
    peer.write('unread');
    expect(states([fd])).toEqual([undefined]);
    peer.end();
    expect(await next(states, fd, undefined)).toBe('fin');

    // Both directions shut (we sent our FIN, then the peer its own): its bytes are still there, it did not leave.
    const [ours3, peer3] = await pair();
    ours3.end();
    peer3.end('unread');
    expect(await next(states, socketFd(ours3), undefined)).toBe('fin');
    ours3.resume();
    expect(await new Promise((r) => ours3.once('data', (b: Buffer) => r(b.toString())))).toBe('unread');

    const [ours2, peer2] = await pair();
    peer2.resetAndDestroy();
    expect(await next(states, socketFd(ours2), undefined)).toBe('gone');
    expect(states([])).toEqual([]);
  });
});
