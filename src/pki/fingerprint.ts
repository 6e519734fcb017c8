// The name of a certificate in logs, /status and the issuance log: the SHA-256 of its DER, in lowercase hex.
import { createHash } from 'node:crypto';

/** SHA-256 hex of a certificate's DER. */
export function certFingerprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}
