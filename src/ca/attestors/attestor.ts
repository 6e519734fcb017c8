// The attestor interface: how the CA learns who a caller is.
// Join tokens, renewal by current SVID and Kubernetes TokenReview each implement it.
import type { X509Certificate } from 'node:crypto';

/** What the gRPC layer hands to attestors for one call. Never log `bearerToken`. */
export interface AttestationInput {
  /** The value after "Bearer " in the authorization metadata, if any. */
  bearerToken?: string;
  /** The verified-or-not TLS client certificate chain, leaf first, if the caller sent one. */
  peerChain?: X509Certificate[];
  /** The caller's address, for logs. */
  peer: string;
}

/** The identity an attestor vouches for; the CA signs for exactly this ID. */
export interface Attestation {
  spiffeId: string;
  /** Which attestor proved it ("join_token", "renewal", "k8s_token"), for audit and metrics. */
  method: string;
  /** Extra DNS SANs the attestor allows, if any. */
  dnsNames?: string[];
}

/**
 * One way of proving identity. Returns undefined when the input carries no credential of this kind
 * (so the next attestor may try), an Attestation on success, and throws AttestationError on a bad credential.
 */
export interface Attestor {
  readonly name: string;
  attest(input: AttestationInput): Promise<Attestation | undefined>;
}
