// The data path's stable reason codes and the one mapping from TLS/socket errors onto them: the front door's codes
// (front-door/reasons.ts, shared with the CA) and the data path's own. Codes appear in logs, in
// ztmesh_handshake_failures_total{reason} and in docs/datapath.md.
import { HANDSHAKE_REASONS, handshakeErrorReason, verifyErrorReason } from '../front-door/reasons.js';

export { verifyErrorReason };

/** Every code a refused or failed data-path connection can carry. */
export const REASONS = {
  ...HANDSHAKE_REASONS,
  /** The peer's certificate chains but breaks the X.509-SVID leaf rules (CA=true, not one valid SPIFFE ID, keyUsage). */
  invalidSvid: 'invalid_svid',
  /** The peer's SPIFFE ID is not allowed by the inbound policy (the deciding policy is named in the line). */
  spiffeIdDenied: 'spiffe_id_denied',
  /** No authorization policy has arrived from the CA yet (nor was one kept in identity.stateDir): fail closed. */
  noPolicy: 'no_policy',
  /** An established connection or tunnel stream closed because a policy change no longer allows its peer. */
  policyRevoked: 'policy_revoked',
  /** The upstream's SPIFFE ID does not match `expect` (or our trust domain). */
  serverIdMismatch: 'server_id_mismatch',
  /** We hold no valid SVID: fail closed. */
  noSvid: 'no_svid',
  /** The listener is at maxConnections. */
  maxConnections: 'max_connections',
  /** The upstream reset the connection right after the handshake, before answering: it refused our identity (or its app is down). */
  serverRefused: 'server_refused',
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
  /** A handoff connection whose join request is malformed, names another identity's tunnel connection, or comes to a listener without tunnels. */
  handoffRefused: 'handoff_refused',
} as const;

export type ReasonCode = (typeof REASONS)[keyof typeof REASONS];

const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/**
 * Why an upstream dropped a connection whose handshake had already finished on our side: in TLS 1.3 the server
 * checks our certificate after that, so an alert or a reset before its first byte is the server refusing us.
 */
export function serverRefusalReason(err: unknown): ReasonCode {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /ALERT/.test(code) ? REASONS.peerAlert : REASONS.serverRefused;
}

/** Maps an error from a TLS handshake or dial to a reason code: one of ours as it is, a dial's errno, else the front door's. */
export function tlsErrorReason(err: unknown): ReasonCode {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && Object.values(REASONS).includes(code as ReasonCode)) return code as ReasonCode;
  if (typeof code === 'string' && UNREACHABLE.has(code)) return REASONS.upstreamUnavailable;
  return handshakeErrorReason(err);
}
