// Every admin and health server ztmesh runs, as real processes: a CA (admin), a sidecar with an identity (admin and
// health) and a webhook waiting for its certificate (health). For tests that hold a rule against all of them.
//
//   const all = await startEveryAdmin();   // all.servers(): [name, base URL, routes][]
//   await all.stop();
import { startCa, type TestCaServer } from './ca.js';
import { startSidecar, type TestSidecar } from './sidecar.js';
import { startWebhookWithoutCa, type WaitingWebhook } from './webhook-process.js';

export interface EveryAdmin {
  ca: TestCaServer;
  sc: TestSidecar;
  webhook: WaitingWebhook;
  /** Each server's name, base URL and the [method, path] of every route it has (plus one it has not). */
  servers(): [string, string, [string, string][]][];
  stop(): Promise<void>;
}

export async function startEveryAdmin(): Promise<EveryAdmin> {
  const ca = await startCa();
  const [sc, webhook] = await Promise.all([startSidecar({ ca }), startWebhookWithoutCa()]);
  await sc.waitForStatus((s) => s.identity.state === 'available');
  return {
    ca, sc, webhook,
    servers: () => [
      ['sidecar admin', sc.admin, [['GET', '/healthz'], ['GET', '/readyz'], ['GET', '/status'], ['GET', '/metrics'], ['GET', '/certs'], ['POST', '/rotate'], ['GET', '/nope']]],
      ['sidecar health', sc.health, [['GET', '/healthz'], ['GET', '/readyz'], ['GET', '/status']]],
      ['CA admin', `http://${ca.adminAddress}`, [['GET', '/healthz'], ['GET', '/readyz'], ['GET', '/metrics']]],
      ['webhook health', webhook.health, [['GET', '/healthz'], ['GET', '/readyz'], ['GET', '/metrics']]],
    ],
    async stop() {
      await webhook.proc.stop();
      await sc.stop();
      await ca.stop();
    },
  };
}
