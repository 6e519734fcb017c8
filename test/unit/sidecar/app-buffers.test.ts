// The app sockets' kernel buffers (sidecar/app-buffers.ts): sized on every socket; where the platform cannot, one warn
// line and the data path keeps serving without them.
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { APP_SOCKET_BUFFER_BYTES, AppSocketBuffers } from '../../../src/sidecar/app-buffers.js';
import { ProxyError } from '../../../src/common/errors.js';
import { LogCapture } from '../../helpers/datapath.js';

const socket = () => ({ destroyed: false }) as net.Socket;

describe('AppSocketBuffers', () => {
  it('asks for the same size both ways on each socket', () => {
    const asked: unknown[] = [];
    const b = new AppSocketBuffers(new LogCapture().log, undefined, (_s, sizes) => { asked.push(sizes); });
    b.apply(socket());
    b.apply(socket());
    expect(asked).toEqual([{ send: APP_SOCKET_BUFFER_BYTES, receive: APP_SOCKET_BUFFER_BYTES }, { send: APP_SOCKET_BUFFER_BYTES, receive: APP_SOCKET_BUFFER_BYTES }]);
  });

  it('says once that it cannot, then stops asking; a socket closed meanwhile is no reason to stop', () => {
    const logs = new LogCapture();
    let calls = 0;
    const b = new AppSocketBuffers(logs.log, undefined, (s) => {
      calls++;
      if (!s.destroyed) throw new ProxyError('socket_options_unavailable', 'cannot reach libc through koffi');
    });
    b.apply(Object.assign(socket(), { destroyed: true }));
    b.apply({ destroyed: false } as net.Socket);
    b.apply(socket());
    expect(calls).toBe(1);
    const warns = logs.lines.filter((l) => l.level === 'warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ code: 'socket_options_unavailable' });
  });
});
