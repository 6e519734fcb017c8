// The one reader of the identities a certificate names: its URI SANs and its SPIFFE ID, taken from node's own
// SAN text (X509Certificate or a TLS peer certificate), so no handshake pays for an ASN.1 parse.
import type { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';

/** A certificate as node hands it out: an X509Certificate, or the object TLSSocket#getPeerCertificate() returns. */
export type NamedCertificate = X509Certificate | PeerCertificate;

/** The URI SANs of a certificate, in order. */
export function uriSans(cert: NamedCertificate): string[] {
  const san = (cert as Partial<PeerCertificate>).subjectaltname ?? (cert as X509Certificate).subjectAltName;
  if (!san) return [];
  return san.split(', ').filter((p) => p.startsWith('URI:')).map((p) => p.slice(4));
}

/** The one SPIFFE ID of a certificate, or undefined when it does not carry exactly one URI SAN, a spiffe:// one. */
export function spiffeIdOf(cert: NamedCertificate): string | undefined {
  const uris = uriSans(cert);
  return uris.length === 1 && uris[0]!.startsWith('spiffe://') ? uris[0] : undefined;
}
