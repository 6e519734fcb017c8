// Whether the CA answered lately, and whether its last answer to a signing call was a refusal:
// fed by signing calls and the trust bundle stream, so a broken stream shows the CA as unreachable at once.
import type { Clock } from '../common/clock.js';
import { Watchable } from '../common/watchable.js';

/** Codes meaning that no CA answered at all (as opposed to a CA that answered "no"). */
export const UNREACHED_CODES: ReadonlySet<string> = new Set(['unavailable', 'deadline_exceeded']);
/**
 * Codes meaning that a server answered but is not a CA we trust: its certificate does not chain to our bundle
 * (`ca_untrusted`) or does not carry the CA's SPIFFE ID (`ca_identity_mismatch`). Shown as "CA reached, not trusted".
 */
export const UNTRUSTED_CA_CODES: ReadonlySet<string> = new Set(['ca_untrusted', 'ca_identity_mismatch']);

/** The CA's last "no" to a signing call. */
export interface CaRefusal {
  /** The CA's own stable code when it sent one (`identity_mismatch`), else the call's (`permission_denied`). */
  code: string;
  message: string;
  atMs: number;
}

export interface CaContact {
  reachable: boolean;
  /** Epoch ms of the last answer from the CA (any answer, refusals included). */
  lastContactMs: number | null;
  /** The address that answered last, or the first configured one. */
  address: string;
  /** Set while the CA's latest answer to a signing call was a refusal; cleared by the next signature. */
  refusal: CaRefusal | null;
}

/** The CA's reachability as the sidecar last observed it. */
export class CaReachability {
  private readonly state: Watchable<CaContact>;

  constructor(private readonly clock: Clock, address: string) {
    this.state = new Watchable<CaContact>({ reachable: false, lastContactMs: null, address, refusal: null });
  }

  /** The CA answered (a bundle, a signature, a refusal): it is reachable. `signed` clears a standing refusal. */
  contact(address?: string, outcome: { signed?: boolean } = {}): void {
    const cur = this.state.get();
    this.state.set({ ...cur, reachable: true, lastContactMs: this.clock.now(), address: address ?? cur.address, ...(outcome.signed ? { refusal: null } : {}) });
  }

  /** The CA was reached and refused to sign (or was not the CA we expect): say so rather than "unreachable". */
  refused(code: string, message: string, address?: string): void {
    const cur = this.state.get();
    const now = this.clock.now();
    this.state.set({ reachable: true, lastContactMs: now, address: address ?? cur.address, refusal: { code, message, atMs: now } });
  }

  /** A transport failure: no address answered. */
  lost(): void {
    const cur = this.state.get();
    if (cur.reachable) this.state.set({ ...cur, reachable: false });
  }

  current(): CaContact {
    return this.state.get();
  }

  subscribe(listener: (c: CaContact) => void): () => void {
    return this.state.subscribe(listener);
  }
}
