// Join-token attestor: a bearer token minted by `ztmesh ca token create`, single-use and expiring.
// It only claims tokens with the join-token prefix, so a Kubernetes JWT falls through to the next attestor.
import type { Clock } from '../../common/clock.js';
import { AttestationError } from '../../common/errors.js';
import { parseSpiffeId } from '../../pki/spiffe-id.js';
import { isJoinToken, type JoinTokenStore } from './join-tokens.js';
import type { Attestation, AttestationInput, Attestor } from './attestor.js';

/** Attests callers holding a valid, unused join token; the token is used up only when a certificate is issued. */
export class JoinTokenAttestor implements Attestor {
  readonly name = 'join_token';

  constructor(
    private readonly store: JoinTokenStore,
    private readonly trustDomain: string,
    private readonly clock: Clock,
  ) {}

  async attest(input: AttestationInput): Promise<Attestation | undefined> {
    const token = input.bearerToken;
    if (token === undefined || !isJoinToken(token)) return undefined;
    const { hash, record } = await this.store.check(token, this.clock.now());
    if (parseSpiffeId(record.spiffeId).trustDomain !== this.trustDomain) {
      throw new AttestationError('foreign_trust_domain', `join token names ${record.spiffeId}, outside trust domain ${this.trustDomain}`);
    }
    return { spiffeId: record.spiffeId, method: this.name, consume: () => this.store.consume(hash) };
  }
}
