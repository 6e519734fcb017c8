// Remembers the local address:port of every upstream socket the sidecar dialled, to spot its own dials coming back.
// When the uid exclusion is wrong, the sidecar's dial is REDIRECTed to its own 15001; refusing it ends the loop at once.
import type net from 'node:net';
import { boundEndpoint } from '../../common/node-internals.js';
import { normalizeAddress } from '../../common/cidr.js';

const key = (address: string, port: number) => `${normalizeAddress(address)}|${port}`;

/** Reads a socket's local endpoint even while Node still marks it as connecting (its fd is bound by then). */
function localEndpoint(socket: net.Socket): { address?: string; port?: number } {
  if (!socket.connecting && socket.localAddress) return { address: socket.localAddress, port: socket.localPort! };
  return boundEndpoint(socket);
}

/** The set of our in-flight and open upstream dials, keyed by local endpoint. */
export class DialTracker {
  private readonly byEndpoint = new Map<string, net.Socket>();
  /** Dials whose connect() has not completed: their endpoint is looked up on demand. */
  private readonly connecting = new Set<net.Socket>();

  /** Starts tracking a socket just created with net.connect(); forgets it when it closes. */
  track(socket: net.Socket): void {
    this.connecting.add(socket);
    let k: string | undefined;
    socket.once('connect', () => {
      this.connecting.delete(socket);
      const e = localEndpoint(socket);
      if (e.address && e.port) this.byEndpoint.set((k = key(e.address, e.port)), socket);
    });
    socket.once('close', () => {
      this.connecting.delete(socket);
      if (k && this.byEndpoint.get(k) === socket) this.byEndpoint.delete(k);
    });
  }

  /** True when (address, port), the remote end of an accepted connection, is the local end of one of our dials. */
  isOwnDial(address: string | undefined, port: number | undefined): boolean {
    if (!address || !port) return false;
    const k = key(address, port);
    if (this.byEndpoint.has(k)) return true;
    // The accept can be seen before our own dial's 'connect' event: ask the kernel for the pending ones.
    for (const s of this.connecting) {
      const e = localEndpoint(s);
      if (e.address && e.port && key(e.address, e.port) === k) return true;
    }
    return false;
  }

  get size(): number {
    return this.byEndpoint.size + this.connecting.size;
  }
}
