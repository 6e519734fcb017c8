// Runs the attestors in order; the first that recognises a credential decides.
import { AttestationError } from '../../common/errors.js';
import type { Attestation, AttestationInput, Attestor } from './attestor.js';

/** Returns the first attestation; throws AttestationError `no_credential` when no attestor recognised anything. */
export async function attest(attestors: readonly Attestor[], input: AttestationInput): Promise<Attestation> {
  for (const a of attestors) {
    const result = await a.attest(input);
    if (result) return result;
  }
  const why = input.bearerToken !== undefined
    ? 'the bearer token is of no known kind'
    : 'no bearer token and no client certificate that verifies against the trust bundle';
  throw new AttestationError(input.bearerToken !== undefined ? 'unknown_token' : 'no_credential', `no credential: ${why}`);
}
