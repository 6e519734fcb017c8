// Before the CA has issued its serving certificate, the webhook is alive (/healthz 200, so the kubelet does not
// restart it) but not ready (/readyz 503), and it does not listen for AdmissionReviews yet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliProcess } from '../helpers/cli.js';
import { startWebhookWithoutCa } from '../helpers/webhook-process.js';

let webhook: CliProcess;
let health: string;

beforeAll(async () => {
  ({ proc: webhook, health } = await startWebhookWithoutCa());
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
