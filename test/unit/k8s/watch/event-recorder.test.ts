// Events on objects, written to the stand-in API server: the core/v1 shape kubectl describe shows, deduplicated and
// rate-limited per object, cut when long, and a refused write logged (naming what RBAC lacks), never thrown.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventRecorder, EVENT_MAX_MESSAGE } from '../../../../src/k8s/watch/event-recorder.js';
import type { KubeClient } from '../../../../src/k8s/kube-client.js';
import { watchKit, type WatchKit } from '../../../helpers/k8s-watch-kit.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let kit: WatchKit;
beforeAll(async () => { kit = await watchKit(); });
afterAll(async () => { await kit?.close(); });

const recorder = (client: KubeClient = kit.client) => new EventRecorder({ client, clock: kit.clock, log: kit.log.logger, component: 'ztmesh-ca', instance: 'ztmesh-ca-7d4f9-abcde' });
const eventsIn = async (ns: string): Promise<Obj[]> => ((await kit.client.call('GET', `/api/v1/namespaces/${ns}/events`)).body as Obj).items;
const policy = (name: string, ns = 'shop') => ({ apiVersion: 'ztmesh.io/v1alpha1', kind: 'AuthorizationPolicy', name, namespace: ns, uid: `uid-${name}`, resourceVersion: '42' });

describe('EventRecorder', () => {
  it('writes a core/v1 Event on the object, as kubectl describe shows it', async () => {
    const r = recorder();
    expect(await r.record(policy('db-from-api'), 'Warning', 'InvalidPolicy', 'spec.action: must be ALLOW or DENY, got "PERMIT"')).toBe(true);
    const [event] = await eventsIn('shop');
    expect(event).toMatchObject({
      apiVersion: 'v1', kind: 'Event', type: 'Warning', reason: 'InvalidPolicy', count: 1,
      message: 'spec.action: must be ALLOW or DENY, got "PERMIT"',
      metadata: { namespace: 'shop', name: expect.stringMatching(/^db-from-api\.[0-9a-f]+$/) },
      involvedObject: { apiVersion: 'ztmesh.io/v1alpha1', kind: 'AuthorizationPolicy', name: 'db-from-api', namespace: 'shop', uid: 'uid-db-from-api', resourceVersion: '42' },
      source: { component: 'ztmesh-ca' }, reportingComponent: 'ztmesh-ca', reportingInstance: 'ztmesh-ca-7d4f9-abcde',
      firstTimestamp: new Date(kit.clock.now()).toISOString(),
    });
    // A cluster-scoped object's Events go to "default".
    expect(await r.record({ apiVersion: 'v1', kind: 'Namespace', name: 'shop' }, 'Normal', 'TrustBundleWritten', 'ztmesh-trust-bundle is current')).toBe(true);
    expect((await eventsIn('default')).map((e) => e.involvedObject)).toEqual([{ apiVersion: 'v1', kind: 'Namespace', name: 'shop' }]);
  });

  it('writes the same Event once per hour, at most 5 per object per 10 minutes, and cuts long messages', async () => {
    const r = recorder();
    const p = policy('noisy', 'dedupe');
    expect(await r.record(p, 'Warning', 'InvalidPolicy', 'spec.rules[0]: unknown field')).toBe(true);
    expect(await r.record(p, 'Warning', 'InvalidPolicy', 'spec.rules[0]: unknown field')).toBe(false);
    const results = [];
    for (let i = 1; i <= 6; i++) results.push(await r.record(p, 'Warning', 'InvalidPolicy', `spec.rules[${i}]: unknown field`));
    expect(results).toEqual([true, true, true, true, false, false]);
    // Another object has its own budget.
    expect(await r.record(policy('quiet', 'dedupe'), 'Warning', 'InvalidPolicy', 'spec.rules[0]: unknown field')).toBe(true);
    await kit.clock.advance(600_000);
    expect(await r.record(p, 'Warning', 'InvalidPolicy', 'spec.rules[0]: unknown field')).toBe(false);
    expect(await r.record(p, 'Warning', 'InvalidPolicy', 'x'.repeat(5_000))).toBe(true);
    await kit.clock.advance(3_000_000);
    expect(await r.record(p, 'Warning', 'InvalidPolicy', 'spec.rules[0]: unknown field')).toBe(true);
    const events = await eventsIn('dedupe');
    expect(events).toHaveLength(8);
    expect(Math.max(...events.map((e) => e.message.length))).toBe(EVENT_MAX_MESSAGE);
    expect(r.stats()).toEqual({ written: 8, suppressed: 4, failed: 0 });
  });

  it('logs a refused write naming what RBAC lacks, and never throws', async () => {
    const { client, token } = kit.clientAs('system:serviceaccount:ztmesh-system:ztmesh-ca', ['system:serviceaccounts']);
    const r = recorder(client);
    expect(await r.record(policy('refused'), 'Warning', 'InvalidPolicy', 'spec: required')).toBe(false);
    const line = kit.log.lines.find((l) => l.code === 'kube_forbidden' && l.component === 'k8s-events');
    expect(line?.err).toContain('cannot create events in namespace shop: forbidden; grant verb "create" on resource "events" in API group ""');
    expect(kit.log.text()).not.toContain(token);
    expect(r.stats()).toEqual({ written: 0, suppressed: 0, failed: 1 });
  });
});
