// Before the CA has issued its serving certificate, the webhook is alive (/healthz 200, so the kubelet does not
// restart it) but not ready (/readyz 503), and it does not listen for AdmissionReviews yet.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess } from '../helpers/cli.js';
import { makeCa } from '../helpers/pki.js';

let webhook: CliProcess;
let health: string;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ztmesh-webhook-noca-'));
  writeFileSync(join(dir, 'token'), 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.');
  writeFileSync(join(dir, 'roots.pem'), makeCa('cluster.local').certPem);
  webhook = new CliProcess(['webhook', '--listen', '127.0.0.1:0', '--health', '127.0.0.1:0', '--ca-address', '127.0.0.1:1',
    '--token-file', join(dir, 'token'), '--bundle', join(dir, 'roots.pem'), '--dns', 'ztmesh-webhook.ztmesh-system.svc']);
  const line = await Promise.race([
    webhook.waitFor(/"msg":"webhook waiting for its serving certificate"/),
    webhook.exited.then((code) => { throw new Error(`webhook exited with ${code}:\n${webhook.output()}`); }),
  ]);
  health = `http://${(JSON.parse(line) as { health: string }).health}`;
});
afterAll(async () => { await webhook?.stop(); });

describe('ztmesh webhook while the CA is unreachable', () => {
  it('is alive but not ready, and logs why it has no certificate', async () => {
    expect((await fetch(`${health}/healthz`)).status).toBe(200);
    const ready = await fetch(`${health}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toContain('waiting for the serving certificate');
    await webhook.waitFor(/rotation_failed|unavailable/);
    expect(webhook.lines.some((l) => l.includes('"msg":"webhook serving"'))).toBe(false);
  });
});
