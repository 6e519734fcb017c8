// What leaves the mesh unencrypted, and what enters it without an identity: the transparent listeners count each
// plain outbound connection (with its destination, in a bounded top list) and each plaintext inbound one, into the
// metrics and into /status `mesh`, so an operator sees exactly what is not mTLS.
import type { Clock } from '../../common/clock.js';
import { isoTime } from '../../common/clock.js';
import { TopCounter } from '../../common/top-counter.js';
import type { DataPathMetrics } from '../datapath-metrics.js';

/** Destinations tracked for the top list (bounded memory whatever the traffic). */
export const PASSTHROUGH_TRACKED = 64;
/** Destinations /status shows. */
export const PASSTHROUGH_SHOWN = 10;

/** /status `mesh.passthrough` and `mesh.inboundPlaintext`. */
export interface MeshTrafficStatus {
  passthrough: { total: number; top: { destination: string; connections: number; last: string }[] };
  inboundPlaintext: { total: number };
}

/** The counts of one sidecar's plain connections. */
export class MeshTraffic {
  private readonly top: TopCounter;
  private passthroughTotal = 0;
  private plaintextTotal = 0;

  constructor(private readonly metrics: Pick<DataPathMetrics, 'outboundPassthrough' | 'inboundPlaintext'>, clock: Clock) {
    this.top = new TopCounter(PASSTHROUGH_TRACKED, clock);
  }

  /** One app connection forwarded as plain TCP to `destination` ("10.0.0.7:5432"). */
  passthrough(reason: 'cidr' | 'port' | 'not_meshed', destination: string): void {
    this.passthroughTotal++;
    this.metrics.outboundPassthrough.inc({ reason });
    this.top.add(destination);
  }

  /** One inbound connection forwarded without TLS (permissive mode). */
  plaintext(): void {
    this.plaintextTotal++;
    this.metrics.inboundPlaintext.inc();
  }

  status(): MeshTrafficStatus {
    return {
      passthrough: {
        total: this.passthroughTotal,
        top: this.top.top(PASSTHROUGH_SHOWN).map((e) => ({ destination: e.key, connections: e.count, last: isoTime(e.lastMs) })),
      },
      inboundPlaintext: { total: this.plaintextTotal },
    };
  }
}
