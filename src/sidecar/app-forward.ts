// The inbound's connection to the local app, for an authorized raw mTLS connection and for an authorized tunnel
// stream alike: one dial with a deadline on the injected clock, reported once as connected or failed.
import net from 'node:net';
import type { Clock } from '../common/clock.js';
import type { AppSocketBuffers } from './app-buffers.js';
import type { InboundRoute } from './inbound.js';
import { SharedBufferReader } from './shared-read.js';

export interface AppDial {
  /** Gives up on the dial (the peer went away first); neither callback runs after this. */
  cancel(): void;
}

export interface AppDialOptions {
  /** The app gets as long to accept as a peer gets to finish its handshake. */
  timeoutMs: number;
  clock: Clock;
  /** The data path's shared read buffer (shared-read.ts). */
  readBuffer?: Uint8Array;
  /** Sizes the connected socket's kernel buffers (app-buffers.ts). */
  buffers?: AppSocketBuffers;
}

/**
 * Dials the app at `route` (from its source address, if any). `connected` gets the socket, half-open, without Nagle
 * and with its kernel buffers sized; `failed` gets the error, an ETIMEDOUT one after `timeoutMs`. With `readBuffer`,
 * the socket reads into that shared buffer and comes paused, with the reader that forwards its bytes.
 */
export function dialApp(route: InboundRoute, opts: AppDialOptions, on: {
  connected(app: net.Socket, reader?: SharedBufferReader): void;
  failed(err: Error & { code?: string }): void;
}): AppDial {
  const { timeoutMs, clock, readBuffer } = opts;
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
    opts.buffers?.apply(app);
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
