// The attestor interface: how the CA learns who a caller is.
// Join tokens, renewal by current SVID and Kubernetes TokenReview each implement it.
import type { X509Certificate } from 'node:crypto';

/** What the gRPC layer hands to attestors for one call. Never log `bearerToken`. */
export interface AttestationInput {
  /** The value after "Bearer " in the authorization metadata, if any. */
  bearerToken?: string;
  /** The verified-or-not TLS client certificate chain, leaf first, if the caller sent one. */
  peerChain?: X509Certificate[];
  /**
   * Set when the caller sent a client certificate that TLS could not verify against the current bundle
   * (OpenSSL's reason, e.g. CERT_HAS_EXPIRED); peerChain is then absent.
   */
  peerCertError?: string;
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
  /**
   * For single-use credentials: called after every check passed and the certificate was signed, just before
   * it is returned. Throws AttestationError (e.g. `token_reused`) when the credential was used meanwhile;
   * the certificate is then discarded. Lets a refused CSR leave a join token unused.
   */
  consume?: () => Promise<void>;
}

/**
 * One way of proving identity. Returns undefined when the input carries no credential of this kind
 * (so the next attestor may try), an Attestation on success, and throws AttestationError on a bad credential.
 * An attestor whose upstream is down (e.g. the Kubernetes API) throws AttestationError with code
 * `upstream_unavailable` (the CA answers UNAVAILABLE, so the caller retries).
 */
export interface Attestor {
  readonly name: string;
  attest(input: AttestationInput): Promise<Attestation | undefined>;
}
