// Watches ca.pem, ca.key and chain.pem while the CA runs and hands new, complete signing material to the switch.
// Files caught half-written (a key that does not match its certificate yet) are ignored until they agree.
import path from 'node:path';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { DirWatch } from '../dir-watch.js';
import { CA_FILES, loadSigningMaterial, type SigningMaterial } from '../state-dir.js';

/** Whether two sets of material are the same certificate, key and chain. */
export function sameMaterial(a: SigningMaterial, b: SigningMaterial): boolean {
  return a.caCertDer.equals(b.caCertDer) && a.keyPem === b.keyPem
    && a.intermediatesDer.length === b.intermediatesDer.length && a.intermediatesDer.every((d, i) => d.equals(b.intermediatesDer[i]!));
}

export interface SigningMaterialWatchOptions {
  dir: string;
  trustDomain: string;
  /** The material in force. */
  current: () => SigningMaterial;
  /** Called with new material (serialised); resolves once it was switched to, or refused. */
  onMaterial: (m: SigningMaterial) => Promise<unknown>;
  clock: Clock;
  log: Logger;
  pollMs?: number;
}

/** Reloads the signing files when they change. */
export class SigningMaterialWatch {
  private readonly watch: DirWatch<SigningMaterial>;

  constructor(opts: SigningMaterialWatchOptions) {
    this.watch = new DirWatch({
      dir: opts.dir, names: [CA_FILES.cert, CA_FILES.key, CA_FILES.chain], clock: opts.clock, log: opts.log,
      read: () => loadSigningMaterial(opts.dir, opts.trustDomain),
      apply: async (next) => { if (!sameMaterial(next, opts.current())) await opts.onMaterial(next); },
      refused: { message: 'signing files refused; keeping the current signing key', fields: { dir: path.resolve(opts.dir) } },
      ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
    });
  }

  start(): Promise<void> {
    return this.watch.start();
  }

  close(): void {
    this.watch.close();
  }
}
