// The data path's stable reason codes and the one mapping from TLS/socket errors onto them.
// Codes appear in logs, in ztmesh_handshake_failures_total{reason} and in docs/datapath.md.

/** Every code a refused or failed data-path connection can carry. */
export const REASONS = {
  /** The client offered no certificate. */
  noClientCert: 'no_client_cert',
  /** The peer's chain does not lead to a root of the trust bundle. */
  untrustedChain: 'untrusted_chain',
  /** The peer's certificate is outside its validity period. */
  certExpired: 'cert_expired',
  /** The peer's certificate chains but breaks the X.509-SVID leaf rules (CA=true, not one valid SPIFFE ID, keyUsage). */
  invalidSvid: 'invalid_svid',
  /** The peer's SPIFFE ID is not allowed by the inbound policy. */
  spiffeIdDenied: 'spiffe_id_denied',
  /** The upstream's SPIFFE ID does not match `expect` (or our trust domain). */
  serverIdMismatch: 'server_id_mismatch',
  /** The handshake did not finish within handshakeTimeout. */
  handshakeTimeout: 'handshake_timeout',
  /** The first bytes were not a TLS record (plaintext, HTTP...). */
  notTls: 'not_tls',
  /** The peer offered only TLS versions below 1.3. */
  tlsVersion: 'tls_version',
  /** We hold no valid SVID: fail closed. */
  noSvid: 'no_svid',
  /** The listener is at maxConnections. */
  maxConnections: 'max_connections',
  /** The oldest unfinished handshake, cut to make room at a full bound (for the listener or the peer's address). */
  handshakeLimit: 'handshake_limit',
  /** The peer sent a TLS alert (it refused our certificate, for example). */
  peerAlert: 'peer_alert',
  /** The upstream reset the connection right after the handshake, before answering: it refused our identity (or its app is down). */
  serverRefused: 'server_refused',
  /** The peer went away before the handshake finished. */
  peerClosed: 'peer_closed',
  /** Any other handshake failure. */
  handshakeFailed: 'handshake_failed',
  /** The local app (inbound forward) refused or dropped the connection. */
  forwardUnavailable: 'forward_unavailable',
  /** The upstream could not be reached over TCP. */
  upstreamUnavailable: 'upstream_unavailable',
  /** A tunnel stream named a target its listener does not forward to (never an open proxy). */
  targetNotAllowed: 'target_not_allowed',
  /** A tunnel stream that is not an HTTP/2 CONNECT request with an authority. */
  tunnelMalformed: 'tunnel_malformed',
  /** A tunnel connection past the listener's bound per peer SPIFFE ID or per source address (`detail` names which). */
  tunnelConnectionLimit: 'tunnel_connection_limit',
  /** This Node.js changed an internal the data path relies on (common/node-internals.ts); an error line says which. */
  nodeInternalsChanged: 'node_internals_changed',
} as const;

export type ReasonCode = (typeof REASONS)[keyof typeof REASONS];

const NOT_TLS = new Set([
  'ERR_SSL_HTTP_REQUEST', 'ERR_SSL_HTTPS_PROXY_REQUEST', 'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_RECORD_LENGTH_MISMATCH', 'ERR_SSL_UNEXPECTED_RECORD',
]);
const TLS_VERSION = new Set([
  'ERR_SSL_UNSUPPORTED_PROTOCOL', 'ERR_SSL_NO_PROTOCOLS_AVAILABLE', 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  'ERR_SSL_UNSUPPORTED_SSL_VERSION', 'ERR_SSL_VERSION_TOO_LOW',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const CLOSED = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);
const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/** Maps an X.509 verification result (TLSSocket#authorizationError or a client verify error) to a code. */
export function verifyErrorReason(code: string | undefined): ReasonCode {
  return code && EXPIRED.has(code) ? REASONS.certExpired : REASONS.untrustedChain;
}

/**
 * Why an upstream dropped a connection whose handshake had already finished on our side: in TLS 1.3 the server
 * checks our certificate after that, so an alert or a reset before its first byte is the server refusing us.
 */
export function serverRefusalReason(err: unknown): ReasonCode {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /ALERT/.test(code) ? REASONS.peerAlert : REASONS.serverRefused;
}

/** Maps an error from a TLS handshake or dial to a reason code. */
export function tlsErrorReason(err: unknown): ReasonCode {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') return REASONS.handshakeFailed;
  if (Object.values(REASONS).includes(code as ReasonCode)) return code as ReasonCode;
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return REASONS.handshakeTimeout;
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return REASONS.noClientCert;
  if (NOT_TLS.has(code)) return REASONS.notTls;
  if (TLS_VERSION.has(code)) return REASONS.tlsVersion;
  if (EXPIRED.has(code)) return REASONS.certExpired;
  if (CLOSED.has(code)) return REASONS.peerClosed;
  if (UNREACHABLE.has(code)) return REASONS.upstreamUnavailable;
  if (/ALERT/.test(code)) return REASONS.peerAlert;
  // The rest of OpenSSL's X509_V_ERR_* names (UNABLE_TO_VERIFY_LEAF_SIGNATURE, SELF_SIGNED_CERT_IN_CHAIN, ...).
  if (!code.startsWith('ERR_') && /CERT|ISSUER|SIGNATURE|CHAIN/.test(code)) return REASONS.untrustedChain;
  return REASONS.handshakeFailed;
}
