// TCP_INFO through koffi on real sockets (common/tcp-state.ts): a connection reset by its peer is CLOSE and counts as
// ended by a reset; one its peer shut down is CLOSE_WAIT and does not; nor does one closed by two FINs, ours first.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { endedByReset, TCP_CLOSE, tcpState } from '../../../src/common/tcp-state.js';
import { pausedSocketPairs } from '../../helpers/datapath.js';

const TCP_ESTABLISHED = 1;
const TCP_CLOSE_WAIT = 8;

const pair = pausedSocketPairs();

/** Asks for the state of `s` until it is no longer `from` (the peer's packet is on its way). */
async function next(s: net.Socket, from: number | undefined): Promise<number | undefined> {
  for (let i = 0; i < 200; i++) {
    const state = tcpState(s);
    if (state !== from) return state;
    await new Promise((r) => setTimeout(r, 5));
  }
  return from;
}

describe('tcpState and endedByReset', () => {
  it('a reset is CLOSE and counts; a FIN is CLOSE_WAIT and does not', async () => {
    const [reset, resetter] = await pair();
    expect(tcpState(reset)).toBe(TCP_ESTABLISHED);
    expect(endedByReset(reset, reset)).toBe(false);
    resetter.write('unread bytes, then the RST');
    resetter.resetAndDestroy();
    expect(await next(reset, TCP_ESTABLISHED)).toBe(TCP_CLOSE);
    expect(endedByReset(reset, reset)).toBe(true);

    const [fin, finisher] = await pair();
    finisher.end('unread bytes, then the FIN');
    expect(await next(fin, TCP_ESTABLISHED)).toBe(TCP_CLOSE_WAIT);
    expect(endedByReset(fin, fin)).toBe(false);
  });

  it('does not count a connection closed by the peer\'s FIN after ours', async () => {
    const [ours, peer] = await pair();
    await new Promise<void>((r) => ours.end(r)); // our FIN is out: 'finish'
    peer.end();
    expect(await next(ours, tcpState(ours))).toBe(TCP_CLOSE); // FIN_WAIT_2, then TIME_WAIT: this socket is CLOSE
    expect(endedByReset(ours, ours)).toBe(false);
  });

  it('says nothing of a socket without a descriptor', async () => {
    const [ours] = await pair();
    ours.destroy();
    expect(tcpState(ours)).toBeUndefined();
    expect(endedByReset(ours, ours)).toBe(false);
  });
});
