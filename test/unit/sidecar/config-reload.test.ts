// What SIGHUP may change in a running sidecar (config-reload.ts): inbound policies, applied; anything else, named.
import { describe, expect, it } from 'vitest';
import { loadSidecarConfig } from '../../../src/sidecar/config.js';
import { planReload, withPolicies } from '../../../src/sidecar/config-reload.js';

const WEB = 'spiffe://cluster.local/ns/default/sa/web';
const load = (inbound: unknown[], extra: Record<string, unknown> = {}) => loadSidecarConfig({ env: { ZTMESH_INBOUND: JSON.stringify(inbound), ...extra } as NodeJS.ProcessEnv });
const api = (over: Record<string, unknown> = {}) => ({ name: 'api', listen: '0.0.0.0:15006', forward: '127.0.0.1:8080', ...over });

describe('planReload', () => {
  it('nothing changed: nothing to do', () => {
    expect(planReload(load([api()]), load([api()]))).toEqual({ policies: [], restartNeeded: [] });
  });

  it('an allow list or defaultPolicy change is a policy to apply', () => {
    const plan = planReload(load([api()]), load([api({ allow: [WEB] })]));
    expect(plan).toEqual({ policies: [{ listener: 'api', allow: [WEB], defaultPolicy: 'allow' }], restartNeeded: [] });
    expect(planReload(load([api({ allow: [WEB] })]), load([api({ allow: [WEB], defaultPolicy: 'deny' })])).policies).toEqual([{ listener: 'api', allow: [WEB], defaultPolicy: 'deny' }]);
  });

  it('anything else is named as needing a restart, policies still applied', () => {
    const plan = planReload(load([api()]), load([api({ forward: '127.0.0.1:9090', allow: [] })], { ZTMESH_LOG_LEVEL: 'debug' }));
    expect(plan.policies).toEqual([{ listener: 'api', allow: [], defaultPolicy: 'allow' }]);
    expect(plan.restartNeeded).toEqual(['logLevel', 'inbound[api].forward']);
    expect(planReload(load([api()]), load([api(), api({ name: 'two', listen: '0.0.0.0:15007' })])).restartNeeded).toEqual(['inbound[two]']);
  });

  it('the transparent policy, when transparent mode runs', () => {
    const on = { ZTMESH_TRANSPARENT_ENABLED: 'true' };
    const plan = planReload(load([], on), load([], { ...on, ZTMESH_TRANSPARENT_ALLOW: WEB }));
    expect(plan).toEqual({ policies: [{ listener: 'transparent-inbound', allow: [WEB], defaultPolicy: 'allow' }], restartNeeded: [] });
  });

  it('withPolicies keeps what was not applied, so the next reload names it again', () => {
    const running = load([api()]);
    const next = load([api({ forward: '127.0.0.1:9090', allow: [WEB] })]);
    const after = withPolicies(running, next);
    expect(after.inbound[0]).toMatchObject({ forward: '127.0.0.1:8080', allow: [WEB] });
    expect(planReload(after, next)).toEqual({ policies: [], restartNeeded: ['inbound[api].forward'] });
  });
});
