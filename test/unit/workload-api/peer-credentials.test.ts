// SO_PEERCRED over a real Unix socket: the accepted socket names this process (pid, uid, gid); a closed socket gives
// `peer_credentials_unavailable`, and a TCP socket names no process.
import net from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeUcred, peerCredentials } from '../../../src/workload-api/peer-credentials.js';
import { tempDir } from '../../helpers/temp-dir.js';

/** A Unix (or TCP, with path undefined) listener and one client; resolves with the accepted socket. */
async function accepted(path?: string): Promise<{ socket: net.Socket; close(): void }> {
  const server = net.createServer();
  await new Promise<void>((r) => (path ? server.listen(path, r) : server.listen(0, '127.0.0.1', r)));
  const socket = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = path ? net.connect(path) : net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const s = await socket;
  return { socket: s, close: () => { client.destroy(); s.destroy(); server.close(); } };
}

describe('peerCredentials', () => {
  it('reads the connecting process from a Unix socket', async () => {
    const dir = tempDir('ztmesh-cred-');
    const c = await accepted(join(dir, 's.sock'));
    try {
      expect(peerCredentials(c.socket)).toEqual({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
      c.socket.destroy();
      expect(() => peerCredentials(c.socket)).toThrow(expect.objectContaining({ code: 'peer_credentials_unavailable' }));
    } finally {
      c.close();
    }
  });

  it('names no process for a TCP socket (pid 0, uid and gid -1): the Workload API listens on a Unix socket only', async () => {
    const c = await accepted();
    try {
      expect(peerCredentials(c.socket)).toEqual({ pid: 0, uid: 0xffffffff, gid: 0xffffffff });
    } finally {
      c.close();
    }
  });

  it('decodes struct ucred', () => {
    const b = Buffer.alloc(12);
    b.writeInt32LE(42, 0);
    b.writeUInt32LE(1000, 4);
    b.writeUInt32LE(2000, 8);
    expect(decodeUcred(b)).toEqual({ pid: 42, uid: 1000, gid: 2000 });
  });
});
