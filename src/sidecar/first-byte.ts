// Permissive inbound mode's TLS-or-not decision (docs/design.md "Mesh stream", inbound modes): the first byte of a
// connection, read before any TLS engine sees it, as the tunnel/raw split reads ALPN. A TLS handshake record starts
// with 0x16; anything else is plaintext, and so is a client that says nothing within the detection timeout (a
// server-speaks-first protocol: MySQL, SMTP), as Istio's protocolDetectionTimeout does. Every byte read is put back.
// Kept small and on its own: issue 22's unified front door takes it as one of its steps.
import type net from 'node:net';
import type { Clock } from '../common/clock.js';

/** The first byte of a TLS record of type handshake (a ClientHello). */
export const TLS_HANDSHAKE_RECORD = 0x16;

/** What the first bytes said: TLS, plaintext (bytes that are not TLS, or silence), or the client went away. */
export type FirstBytes = 'tls' | 'plain' | 'silent' | 'closed';

/** Classifies the first byte of a chunk. Pure. */
export function classifyFirstByte(chunk: Uint8Array): 'tls' | 'plain' {
  return chunk.length > 0 && chunk[0] === TLS_HANDSHAKE_RECORD ? 'tls' : 'plain';
}

/**
 * Waits for the first bytes of `raw` (a paused socket nothing reads yet), puts them back (unshift: a TLS engine given
 * the socket next reads them first) and calls `done` once. Returns a cancel function.
 */
export function detectFirstBytes(raw: net.Socket, silenceMs: number, clock: Clock, done: (verdict: FirstBytes) => void): () => void {
  let settled = false;
  const finish = (v: FirstBytes) => {
    if (settled) return;
    settled = true;
    timer.cancel();
    raw.removeListener('readable', onReadable);
    raw.removeListener('close', onClose);
    done(v);
  };
  const onReadable = () => {
    const chunk = raw.read() as Buffer | null;
    if (chunk === null) return; // the end of the stream: 'close' follows
    raw.unshift(chunk);
    finish(classifyFirstByte(chunk));
  };
  const onClose = () => finish('closed');
  const timer = clock.setTimeout(() => finish('silent'), silenceMs);
  raw.on('readable', onReadable);
  raw.once('close', onClose);
  return () => {
    settled = true;
    timer.cancel();
    raw.removeListener('readable', onReadable);
    raw.removeListener('close', onClose);
  };
}
