// A real `ztmesh webhook` process whose CA is unreachable: its plain-HTTP health server is up (it starts before the
// serving certificate), nothing else is. For tests of that health port: probes, Host rules, readiness while waiting.
//
//   const wh = await startWebhookWithoutCa();   // wh.health is "http://127.0.0.1:PORT"
//   await wh.proc.stop();
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliProcess } from './cli.js';
import { makeCa } from './pki.js';
import { tempDir } from './temp-dir.js';

export interface WaitingWebhook {
  proc: CliProcess;
  /** http://127.0.0.1:PORT of the health server. */
  health: string;
}

/** Starts the webhook against CA address 127.0.0.1:1 and waits for its "waiting for its serving certificate" line. */
export async function startWebhookWithoutCa(): Promise<WaitingWebhook> {
  const dir = tempDir('ztmesh-webhook-noca-');
  writeFileSync(join(dir, 'token'), 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.');
  writeFileSync(join(dir, 'roots.pem'), makeCa('cluster.local').certPem);
  const proc = new CliProcess(['webhook', '--listen', '127.0.0.1:0', '--health', '127.0.0.1:0', '--ca-address', '127.0.0.1:1', '--image', 'ghcr.io/ztmesh/ztmesh:test',
    '--token-file', join(dir, 'token'), '--bundle', join(dir, 'roots.pem'), '--dns', 'ztmesh-webhook.ztmesh-system.svc']);
  const line = await Promise.race([
    proc.waitFor(/"msg":"webhook waiting for its serving certificate"/),
    proc.exited.then((code) => { throw new Error(`webhook exited with ${code}:\n${proc.output()}`); }),
  ]);
  return { proc, health: `http://${(JSON.parse(line) as { health: string }).health}` };
}
