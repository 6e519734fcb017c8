// One sidecar, one data path: with two explicit inbound listeners, an explicit outbound and transparent mode, a
// rotation builds exactly one client TLS context (shared by every outbound dial) and one server context per
// inbound listener policy; counted at node's own tls.createSecureContext.
import tls from 'node:tls';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/common/clock.js';
import { Readiness } from '../../src/common/readiness.js';
import { sidecarConfigSchema } from '../../src/sidecar/config-schema.js';
import { startDataPath, type DataPath } from '../../src/sidecar/datapath.js';
import { transparentListeners } from '../../src/sidecar/intercept/transparent.js';
import { explicitListeners } from '../../src/sidecar/listeners.js';
import { API, freePort, LogCapture, makeCa, TestIdentity, WEB } from '../helpers/datapath.js';

describe('TLS contexts per rotation', () => {
  let identity: TestIdentity;
  let datapath: DataPath;
  beforeAll(async () => {
    identity = new TestIdentity(makeCa(), API);
    const config = sidecarConfigSchema.parse({
      trustDomain: 'cluster.local',
      inbound: [
        { name: 'open', listen: '127.0.0.1:0', forward: '127.0.0.1:1' },
        { name: 'web-only', listen: '127.0.0.1:0', forward: '127.0.0.1:1', allow: [WEB] },
      ],
      outbound: [{ name: 'out', listen: '127.0.0.1:0', upstream: '127.0.0.1:1' }],
      transparent: { enabled: true, inboundPort: await freePort(), outboundPort: await freePort() },
    });
    // Transparent mode without iptables here: its SO_ORIGINAL_DST boot check is passed in; its listeners are real.
    const sources = [explicitListeners, transparentListeners({ probe: async () => 'not checked: no iptables in this test' })];
    datapath = await startDataPath({ config, identity, log: new LogCapture().log, registry: new Registry(), clock: systemClock, readiness: new Readiness() }, sources);
  });
  afterAll(async () => { await datapath?.close(); });

  it('binds the three inbound policies and two outbound listeners on one data path', () => {
    expect(datapath.statuses().map((s) => s.kind)).toEqual(['inbound', 'inbound', 'outbound', 'transparent-inbound', 'transparent-outbound', 'passthrough']);
  });

  it('a rotation builds one client context and one server context per inbound policy (3), nothing more', () => {
    const created = vi.spyOn(tls, 'createSecureContext');
    const served = vi.spyOn(tls.Server.prototype, 'setSecureContext');
    try {
      for (let round = 1; round <= 2; round++) {
        created.mockClear();
        served.mockClear();
        const svid = identity.rotate();
        expect(served).toHaveBeenCalledTimes(3);
        for (const [options] of served.mock.calls) expect(options).toMatchObject({ cert: svid.chainPem });
        expect(created).toHaveBeenCalledTimes(3 + 1);
        expect(datapath.contexts.current()?.svid).toBe(svid);
      }
    } finally {
      created.mockRestore();
      served.mockRestore();
    }
  });
});
