// What a JWT-SVID request may ask for, as the CA and the sidecar's Workload API both check it (pure).
import { PolicyError } from '../common/errors.js';

/** Audiences one JWT-SVID may carry, and the longest audience accepted. */
export const MAX_AUDIENCES = 16;
export const MAX_AUDIENCE_LENGTH = 256;

/** The audiences of a request, checked: 1 to MAX_AUDIENCES non-empty strings; PolicyError `malformed_request` otherwise. Pure. */
export function checkAudiences(audiences: readonly string[]): string[] {
  if (audiences.length === 0) throw new PolicyError('malformed_request', 'at least one audience is required');
  if (audiences.length > MAX_AUDIENCES) throw new PolicyError('malformed_request', `at most ${MAX_AUDIENCES} audiences are accepted, got ${audiences.length}`);
  for (const a of audiences) {
    if (a.length === 0 || a.length > MAX_AUDIENCE_LENGTH) throw new PolicyError('malformed_request', `an audience must have 1 to ${MAX_AUDIENCE_LENGTH} characters`);
  }
  return [...new Set(audiences)];
}

