// The hand-off from a listener that accepts sockets itself to grpc-js: the CA's TLS front door and the sidecar's
// Workload API (a Unix socket) accept, check and account for each connection, then give it to grpc-js here, with
// what they learnt before gRPC (TLS facts, the peer's uid and pid), found again per call by the peer grpc-js names.
//
// Invariants: facts live exactly as long as their connection (forgotten on close); a peer name maps to one open
// connection at a time (a reused name replaces the facts of a closed one, never of an open one).
import type net from 'node:net';
import type * as grpc from '@grpc/grpc-js';

/** What grpc-js's createConnectionInjector() returns, as far as the hand-off uses it. */
export type ConnectionInjector = Pick<ReturnType<grpc.Server['createConnectionInjector']>, 'injectConnection'>;

/** Sockets handed to one grpc-js injector, and what is known of each by its grpc-js peer name. */
export class GrpcHandOff<F> {
  private readonly byPeer = new Map<string, { socket: net.Socket; facts: F }>();

  constructor(private readonly injector: ConnectionInjector) {}

  /** Gives `socket` to grpc-js; `facts(peer)` answers for every call on it until it closes. */
  hand(socket: net.Socket, peer: string, facts: F): void {
    const entry = { socket, facts };
    this.byPeer.set(peer, entry);
    socket.once('close', () => {
      if (this.byPeer.get(peer) === entry) this.byPeer.delete(peer);
    });
    this.injector.injectConnection(socket);
  }

  /** What was learnt of the connection a call arrived on (call.getPeer()), while it is open. */
  facts(peer: string): F | undefined {
    return this.byPeer.get(peer)?.facts;
  }

  /** Every open connection handed over, with its facts (to close them all at shutdown). */
  open(): { socket: net.Socket; facts: F }[] {
    return [...this.byPeer.values()];
  }

  /** Open connections handed over. */
  get size(): number {
    return this.byPeer.size;
  }
}
