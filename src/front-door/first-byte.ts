// The front door's step before TLS decides from the first byte of a connection, read before any TLS engine sees it
// (issue 20's permissive inbound mode): a TLS handshake record starts with 0x16, anything else is not TLS. Pure.

/** The first byte of a TLS record of type handshake (a ClientHello). */
export const TLS_HANDSHAKE_RECORD = 0x16;

/** Classifies the first byte of a chunk. */
export function classifyFirstByte(chunk: Uint8Array): 'tls' | 'plain' {
  return chunk.length > 0 && chunk[0] === TLS_HANDSHAKE_RECORD ? 'tls' : 'plain';
}
