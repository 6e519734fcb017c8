// The webhook swaps its serving certificate in place when the identity source rotates it; a broken one is
// refused and the last good certificate stays; /readyz follows the certificate's validity (fake clock).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_INJECT_OPTIONS } from '../../src/k8s/inject.js';
import { startWebhookServer, type RunningWebhook, type ServingCert, type ServingCertSource } from '../../src/k8s/webhook.js';
import { makeCa, makeLeaf } from '../helpers/pki.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { captureLogger } from '../helpers/k8s-test-kit.js';
import { admissionFixture, postHttps } from '../helpers/webhook-client.js';

const NAME = 'ztmesh-webhook.ztmesh-system.svc';
const ca = makeCa('cluster.local');
const clock = new FakeClock(Date.now());
const log = captureLogger();

function cert(): ServingCert {
  const l = makeLeaf(ca, 'spiffe://cluster.local/ns/ztmesh-system/sa/ztmesh-webhook', { dnsNames: [NAME] });
  return { certPem: l.certPem, keyPem: l.keyPem, notAfterMs: clock.now() + 3_600_000, serial: l.serialHex };
}

/** A hand-driven source, as the identity manager publishes rotations. */
function manualSource(first: ServingCert) {
  let current: ServingCert | undefined = first;
  const listeners = new Set<(c: ServingCert | undefined) => void>();
  const source: ServingCertSource = {
    current: () => current,
    subscribe: (l) => { listeners.add(l); l(current); return () => listeners.delete(l); },
  };
  return { source, publish(c: ServingCert) { current = c; for (const l of listeners) l(c); } };
}

const first = cert();
const src = manualSource(first);
let webhook: RunningWebhook;
const TLS = { caPem: ca.certPem, serverName: NAME };

beforeAll(async () => {
  webhook = await startWebhookServer({ host: '127.0.0.1', port: 0, inject: DEFAULT_INJECT_OPTIONS, clock, log: log.logger, certs: src.source });
});
afterAll(async () => { await webhook.close(); });

const serialOf = async () => (await postHttps(webhook.port, '/inject', JSON.stringify(admissionFixture()), TLS)).peerCertSerial.toLowerCase().replace(/^0+/, '');
const norm = (s: string) => s.toLowerCase().replace(/^0+/, '');

describe('ztmesh webhook serving certificate', () => {
  it('serves the first certificate, then the rotated one on the next connection', async () => {
    expect(await serialOf()).toBe(norm(first.serial));
    const second = cert();
    src.publish(second);
    expect(await serialOf()).toBe(norm(second.serial));
    expect(log.lines.some((l) => l.msg === 'webhook serving certificate rotated' && l.serial === second.serial)).toBe(true);
  });

  it('a broken certificate (key does not match) is refused and the last good one stays', async () => {
    const good = src.source.current()!;
    const bad = { ...cert(), keyPem: makeLeaf(ca, 'spiffe://cluster.local/x').keyPem };
    src.publish(bad);
    expect(await serialOf()).toBe(norm(good.serial));
    expect(log.lines.some((l) => l.code === 'serving_cert_invalid')).toBe(true);
  });

  it('/readyz is 200 while the certificate is valid and 503 once it has expired', async () => {
    const good = cert();
    src.publish(good);
    const ready = () => postHttps(webhook.port, '/readyz', '', { ...TLS, method: 'GET' }).then((r) => r.status);
    expect(await ready()).toBe(200);
    clock.set(good.notAfterMs + 1);
    expect(await ready()).toBe(503);
    expect((await postHttps(webhook.port, '/healthz', '', { ...TLS, method: 'GET' })).status).toBe(200);
  });
});
