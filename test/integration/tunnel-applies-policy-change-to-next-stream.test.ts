// Two real sidecars: api's policy is authorized per tunnel stream, so a change (the config file rewritten, then
// SIGHUP) applies to the very next app connection on the tunnel that is already open: allowed, denied, allowed again,
// all on one TLS connection; and to the streams open then, which a change that no longer allows web closes
// (policy_revoked). A reload that does not load changes nothing and says why.
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { connect, readAllOrReset } from '../helpers/datapath.js';
import { echoRoundTrip, payload, echoTunnelPairForSuite, WEB_ID } from '../helpers/tunnel.js';


const OTHER = 'spiffe://example.org/ns/default/sa/other';

describe('tunnel: a policy change applies to the next stream', () => {
  const pair = echoTunnelPairForSuite({ allow: [WEB_ID] });

  const through = async () => {
    const r = await echoRoundTrip(pair.webPort, payload(2048));
    return r.error ? r.error : r.received === r.sent ? 'echoed' : 'garbled';
  };
  const denied = async () => (await pair.api.status()).listeners[0]!.denied;

  it('allowed, then denied, then allowed again, stream by stream on one tunnel connection', async () => {
    expect(await through()).toBe('echoed');
    await pair.setAllow([OTHER]);
    expect(await through()).toBe('ECONNRESET');
    expect(await denied()).toBe(1);
    await pair.setAllow([OTHER, WEB_ID]);
    expect(await through()).toBe('echoed');
    expect(await denied()).toBe(1);
    await pair.setAllow([]);
    expect(await through()).toBe('ECONNRESET');
    expect(await denied()).toBe(2);
    await pair.setAllow(['spiffe://example.org/ns/default/*']);
    expect(await through()).toBe('echoed');

    const [pool] = (await pair.web.status()).tunnelPools!;
    expect(pool).toMatchObject({ connections: 1, streamsTotal: 5 });
    expect((await pair.api.status()).listeners[0]).toMatchObject({ tunnelConnections: 1, connectionsTotal: 5, denied: 2 });
    const reloads = pair.api.proc.json().filter((l) => l.msg === 'inbound policy reloaded: it applies from the next connection or tunnel stream');
    expect(reloads.map((l) => l.allow)).toEqual([[OTHER], [OTHER, WEB_ID], [], ['spiffe://example.org/ns/default/*']]);
  });

  it('a reload that no longer allows web closes its open stream (policy_revoked), counted and logged', async () => {
    const live = await connect(pair.webPort);
    const reply = readAllOrReset(live);
    live.write(payload(1024));
    await expect.poll(async () => (await pair.api.status()).listeners[0]!.connectionsActive, { timeout: 5_000 }).toBe(1);
    await pair.setAllow([OTHER]);
    const { error } = await reply;
    expect(error?.code).toBe('ECONNRESET');
    // The sidecar's JSON log is written asynchronously: the line may come after the reset.
    await expect.poll(() => pair.api.proc.json().find((l) => l.msg === 'connection closed')).toMatchObject({ reason: 'policy_revoked', peerId: WEB_ID, policy: 'local', detail: expect.stringMatching(/^no_allow_matched/) });
    expect((await pair.api.get('/metrics')).text).toMatch(/ztmesh_authz_decisions_total\{result="revoked",policy="local"\} 1/);
    await pair.setAllow([WEB_ID]);
  });

  it('a reload that does not load keeps the policy in force', async () => {
    const file = (pair.api.proc.child.spawnargs.at(pair.api.proc.child.spawnargs.indexOf('--config') + 1))!;
    writeFileSync(file, 'inbound: [ { name: app, allow: [ "not a spiffe id" ] } ]\n');
    pair.api.proc.child.kill('SIGHUP');
    const line = JSON.parse(await pair.api.proc.waitFor(/configuration reload refused/));
    expect(line).toMatchObject({ level: 'error', code: 'invalid_config' });
    expect(await through()).toBe('echoed');
  });
});
