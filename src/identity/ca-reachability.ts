// Whether the CA answered lately: fed by signing calls and the trust bundle stream.
// One shared record, so a broken stream shows the CA as unreachable before the next renewal.
import type { Clock } from '../common/clock.js';
import { Watchable } from '../common/watchable.js';

export interface CaContact {
  reachable: boolean;
  /** Epoch ms of the last answer from the CA (any answer, refusals included). */
  lastContactMs: number | null;
  /** The address that answered last, or the first configured one. */
  address: string;
}

/** The CA's reachability as the sidecar last observed it. */
export class CaReachability {
  private readonly state: Watchable<CaContact>;

  constructor(private readonly clock: Clock, address: string) {
    this.state = new Watchable<CaContact>({ reachable: false, lastContactMs: null, address });
  }

  /** The CA answered (success or refusal): it is reachable. */
  contact(address?: string): void {
    const cur = this.state.get();
    this.state.set({ reachable: true, lastContactMs: this.clock.now(), address: address ?? cur.address });
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
