// The connection window a tunnel end advertises fits the receive buffer the kernel granted its socket (half of it,
// less room for frames beside DATA), so that a peer's writes complete whether this end reads or not; where the
// buffer cannot be sized, a warn line and HTTP/2's initial window.
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ProxyError } from '../../../../src/common/errors.js';
import type { BufferSizes } from '../../../../src/common/socket-buffers.js';
import {
  connectionWindowFor, fitReceiveWindow, INITIAL_CONNECTION_WINDOW, receiveBufferFor, WINDOW_SLACK, type SocketBufferIO,
} from '../../../../src/sidecar/tunnel/receive-window.js';

const MiB = 1024 * 1024;
const socket = (destroyed = false) => ({ destroyed }) as net.Socket;

describe('connectionWindowFor', () => {
  it.each([
    // [buffer the kernel reports, configured window, window advertised]
    [2 * (8 * MiB + WINDOW_SLACK), 8 * MiB, 8 * MiB], // granted what was asked: the configured window
    [64 * MiB, 8 * MiB, 8 * MiB], // never more than configured
    [8 * MiB, 8 * MiB, 4 * MiB - WINDOW_SLACK], // rmem_max 4 MiB: half the doubled buffer, less the slack
    [425_984, 8 * MiB, 212_992 - WINDOW_SLACK], // rmem_max 208 KiB, the kernel's default
    [131_072, 8 * MiB, INITIAL_CONNECTION_WINDOW], // below HTTP/2's initial window: that one
  ])('a %i-byte buffer with %i configured advertises %i', (buffer, configured, window) => {
    expect(connectionWindowFor(buffer, configured)).toBe(window);
  });

  it('asks for a buffer that, doubled by Linux, holds the window twice with the slack', () => {
    for (const w of [INITIAL_CONNECTION_WINDOW, 1 * MiB, 8 * MiB]) expect(connectionWindowFor(2 * receiveBufferFor(w), w)).toBe(w);
  });
});

describe('fitReceiveWindow', () => {
  const kernel = (grant: (asked: number) => number) => {
    const asked: BufferSizes[] = [];
    let granted = 0;
    const io: SocketBufferIO = {
      set: (_s, sizes) => { asked.push(sizes); granted = grant(sizes.receive!); },
      get: () => ({ send: 0, receive: granted }),
    };
    return { io, asked };
  };
  const warnings = () => {
    const lines: { code: string; fields: Record<string, unknown>; msg: string }[] = [];
    return { lines, warn: (code: string, fields: Record<string, unknown>, msg: string) => void lines.push({ code, fields, msg }) };
  };

  it('sizes the receive buffer only, and advertises what fits the buffer granted', () => {
    const w = warnings();
    const roomy = kernel((asked) => 2 * asked);
    expect(fitReceiveWindow(socket(), 8 * MiB, w.warn, roomy.io)).toBe(8 * MiB);
    expect(roomy.asked).toEqual([{ receive: 8 * MiB + WINDOW_SLACK }]);
    // Refused: net.core.rmem_max caps the buffer at 4 MiB (8 MiB doubled), so the window shrinks to fit it.
    const capped = kernel((asked) => 2 * Math.min(asked, 4 * MiB));
    expect(fitReceiveWindow(socket(), 8 * MiB, w.warn, capped.io)).toBe(4 * MiB - WINDOW_SLACK);
    expect(w.lines).toEqual([]);
  });

  it('keeps HTTP/2\'s initial window and says why where the buffer cannot be sized; a closed socket says nothing', () => {
    const w = warnings();
    const broken: SocketBufferIO = {
      set: () => { throw new ProxyError('socket_options_unavailable', 'cannot reach libc through koffi'); },
      get: () => { throw new Error('not reached'); },
    };
    expect(fitReceiveWindow(socket(), 8 * MiB, w.warn, broken)).toBe(INITIAL_CONNECTION_WINDOW);
    expect(w.lines).toEqual([{ code: 'socket_options_unavailable', fields: { err: 'cannot reach libc through koffi' }, msg: expect.stringContaining('receive buffer of a tunnel connection') }]);
    expect(fitReceiveWindow(socket(true), 8 * MiB, w.warn, broken)).toBe(INITIAL_CONNECTION_WINDOW);
    expect(w.lines).toHaveLength(1);
  });
});
