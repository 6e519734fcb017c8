// SO_SNDBUF and SO_RCVBUF through koffi on a real socket (common/socket-buffers.ts): Linux keeps twice what it is
// given; a socket without a descriptor is refused with a stable code.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { bufferSizes, setBufferSizes } from '../../../src/common/socket-buffers.js';

describe('setBufferSizes', () => {
  it('sets both kernel buffers of a connected socket, and refuses one that is closed', async () => {
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const s = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1' });
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    const autotuned = bufferSizes(s);
    setBufferSizes(s, { send: 64 * 1024, receive: 32 * 1024 });
    expect(bufferSizes(s)).toEqual({ send: 128 * 1024, receive: 64 * 1024 });
    expect(autotuned.send).not.toBe(128 * 1024);
    s.destroy();
    server.close();
    expect(() => setBufferSizes(s, { send: 1024 })).toThrow(expect.objectContaining({ code: 'socket_options_unavailable' }));
  });
});
