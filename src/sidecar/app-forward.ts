// The inbound's connection to the local app, for an authorized raw mTLS connection and for an authorized tunnel
// stream alike: one dial with a deadline on the injected clock, reported once as connected or failed.
import net from 'node:net';
import type { Clock } from '../common/clock.js';
import type { InboundRoute } from './inbound.js';
import { SharedBufferReader } from './shared-read.js';

export interface AppDial {
  /** Gives up on the dial (the peer went away first); neither callback runs after this. */
  cancel(): void;
}

/**
 * Dials the app at `route` (from its source address, if any). `connected` gets the socket, half-open and without
 * Nagle; `failed` gets the error, an ETIMEDOUT one after `timeoutMs` (the app gets as long to accept as a peer gets
 * to finish its handshake). With `readBuffer`, the socket reads into that shared buffer and comes paused, with the
 * reader that forwards its bytes (shared-read.ts).
 */
export function dialApp(route: InboundRoute, timeoutMs: number, clock: Clock, on: {
  connected(app: net.Socket, reader?: SharedBufferReader): void;
  failed(err: Error & { code?: string }): void;
}, readBuffer?: Uint8Array): AppDial {
  const { forward, localAddress } = route;
  const reader = readBuffer ? new SharedBufferReader(readBuffer) : undefined;
  const app = net.connect({
    host: forward.host, port: forward.port, allowHalfOpen: true, noDelay: true, ...(localAddress ? { localAddress } : {}),
    ...(reader ? { onread: reader.onread } : {}),
  });
  // Nothing is read before the splice names where the bytes go (SharedBufferReader.forwardTo resumes it).
  if (reader) app.pause();
  let done = false;
  const onError = (err: Error) => {
    if (done) return;
    done = true;
    timer.cancel();
    on.failed(err);
  };
  app.once('error', onError);
  const timer = clock.setTimeout(() => {
    app.destroy(Object.assign(new Error(`no connection to the app within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
  }, timeoutMs);
  app.once('connect', () => {
    if (done) return;
    done = true;
    timer.cancel();
    app.removeListener('error', onError);
    on.connected(app, reader);
  });
  return {
    cancel() {
      if (done) return;
      done = true;
      timer.cancel();
      app.on('error', () => {});
      app.destroy();
    },
  };
}
