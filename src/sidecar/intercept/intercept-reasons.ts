// Reason codes that only transparent mode produces, next to the data path's own (sidecar/reasons.ts).
// They appear in logs (`reason`), in ztmesh_connections_total and in docs/transparent.md.

export const INTERCEPT_REASONS = {
  /** The accepted connection is one of the sidecar's own upstream dials, REDIRECTed back (uid exclusion wrong). */
  redirectLoop: 'redirect_loop',
  /** The original destination is one of the sidecar's own listeners: the connection was made to it directly. */
  notRedirected: 'not_redirected',
  /** The kernel had no original destination for the connection (no conntrack entry, socket gone). */
  originalDstUnavailable: 'original_dst_unavailable',
  /** transparent.outboundPolicy is registry-only and membership says the destination is not meshed. */
  destinationNotMeshed: 'destination_not_meshed',
} as const;
