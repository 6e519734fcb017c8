// The front door's vocabulary: why a connection did not get past its TLS handshake, in one set of stable codes that
// the CA (ztmesh_ca_connections_refused_total{reason}) and the sidecar (ztmesh_handshake_failures_total{reason}) share,
// and the one mapping from a TLS error onto them.

/** Every code a connection can be refused (or lost) with before or during its TLS handshake. */
export const HANDSHAKE_REASONS = {
  /** The handshake did not finish within the handshake timeout. */
  handshakeTimeout: 'handshake_timeout',
  /** The oldest unfinished handshake, cut to make room at a full bound (for the listener or the peer's address). */
  handshakeLimit: 'handshake_limit',
  /** Every connection the listener may hold is held and established (the CA's --max-connections). */
  connectionLimit: 'connection_limit',
  /** The peer's address holds as many connections as it may (the CA's --max-connections-per-source). */
  sourceConnectionLimit: 'source_connection_limit',
  /** The first bytes were not a TLS record (plaintext, HTTP...). */
  notTls: 'not_tls',
  /** The peer offered only TLS versions below 1.3. */
  tlsVersion: 'tls_version',
  /** The client offered no certificate. */
  noClientCert: 'no_client_cert',
  /** The peer's chain does not lead to a root of the trust bundle. */
  untrustedChain: 'untrusted_chain',
  /** The peer's certificate is outside its validity period. */
  certExpired: 'cert_expired',
  /** The peer sent a TLS alert (it refused our certificate, for example). */
  peerAlert: 'peer_alert',
  /** The peer went away before the handshake finished (not a refusal). */
  peerClosed: 'peer_closed',
  /** Any other handshake failure. */
  handshakeFailed: 'handshake_failed',
  /** This Node.js changed an internal the front door relies on (common/node-internals.ts); an error line says which. */
  nodeInternalsChanged: 'node_internals_changed',
} as const;

export type HandshakeReason = (typeof HANDSHAKE_REASONS)[keyof typeof HANDSHAKE_REASONS];

const NOT_TLS = new Set([
  'ERR_SSL_HTTP_REQUEST', 'ERR_SSL_HTTPS_PROXY_REQUEST', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_UNKNOWN_PROTOCOL',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_RECORD_LENGTH_MISMATCH', 'ERR_SSL_UNEXPECTED_RECORD',
]);
const TLS_VERSION = new Set([
  'ERR_SSL_UNSUPPORTED_PROTOCOL', 'ERR_SSL_NO_PROTOCOLS_AVAILABLE', 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  'ERR_SSL_UNSUPPORTED_SSL_VERSION', 'ERR_SSL_VERSION_TOO_LOW',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const CLOSED = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

/** Maps an X.509 verification result (TLSSocket#authorizationError or a client verify error) to a code. */
export function verifyErrorReason(code: string | undefined): HandshakeReason {
  return code && EXPIRED.has(code) ? HANDSHAKE_REASONS.certExpired : HANDSHAKE_REASONS.untrustedChain;
}

/** Maps the error of a TLS handshake (node's `code`: ERR_SSL_*, an X509_V_ERR_* name, a socket errno) to a code. Pure. */
export function handshakeErrorReason(err: unknown): HandshakeReason {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') return HANDSHAKE_REASONS.handshakeFailed;
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return HANDSHAKE_REASONS.handshakeTimeout;
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return HANDSHAKE_REASONS.noClientCert;
  if (NOT_TLS.has(code)) return HANDSHAKE_REASONS.notTls;
  if (TLS_VERSION.has(code)) return HANDSHAKE_REASONS.tlsVersion;
  if (EXPIRED.has(code)) return HANDSHAKE_REASONS.certExpired;
  if (CLOSED.has(code)) return HANDSHAKE_REASONS.peerClosed;
  if (/ALERT/.test(code)) return HANDSHAKE_REASONS.peerAlert;
  // The rest of OpenSSL's X509_V_ERR_* names (UNABLE_TO_VERIFY_LEAF_SIGNATURE, SELF_SIGNED_CERT_IN_CHAIN, ...).
  if (!code.startsWith('ERR_') && /CERT|ISSUER|SIGNATURE|CHAIN/.test(code)) return HANDSHAKE_REASONS.untrustedChain;
  return HANDSHAKE_REASONS.handshakeFailed;
}
