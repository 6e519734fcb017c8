// `ztmesh policy explain` and `ztmesh policy validate` as a CI pipeline and an operator run them: explain decides over
// a directory, files, or what a real CA serves (--ca-admin, with the CA's mesh default), naming the deciding policy and
// a dry-run policy that would decide otherwise, and `local` when the workload's own allow list (--allow) decides; exit 0
// allow, 1 deny, 2 bad input; validate prints file:object:field
// per problem, exit 0 valid, 1 problems, 2 input it cannot read. `ztmesh ca status` shows who runs which version.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { runCli } from '../helpers/cli.js';
import { openMesh, svidFor } from '../helpers/mesh-stream.js';
import { policyDoc, writePolicyFile } from '../helpers/policies.js';
import { tempDir } from '../helpers/temp-dir.js';

const id = (sa: string) => `spiffe://example.org/ns/shop/sa/${sa}`;
const good = tempDir('ztmesh-policies-good-');
const bad = tempDir('ztmesh-policies-bad-');
writePolicyFile(good, 'db.yaml', [
  policyDoc('shop', 'db-allows-api', { selector: { serviceAccounts: ['db'] }, rules: [{ from: [{ principals: [id('api')] }], to: [{ ports: [5432] }] }] }),
  policyDoc('shop', 'db-audit', { action: 'DENY', dryRun: true, selector: { serviceAccounts: ['db'] }, rules: [{ from: [{ principals: [id('api')] }] }] }),
]);
writePolicyFile(bad, 'ok.yaml', [policyDoc('shop', 'fine', {})]);
writePolicyFile(bad, 'bad.yaml', [policyDoc('shop', 'db', { action: 'AUDIT', selector: { serviceAccounts: ['db'] } })]);
writePolicyFile(bad, 'broken.yml', 'kind: [AuthorizationPolicy\n');

let ca: TestCaServer;
beforeAll(async () => { ca = await startCa({ args: ['--policy-dir', good, '--default-policy', 'deny'] }); });
afterAll(async () => { await ca?.stop(); });

const explain = (...args: string[]) => runCli(['policy', 'explain', ...args]);

describe('ztmesh policy explain', () => {
  it('allows api → db:5432 (exit 0), naming the policy and the dry-run one that would deny', async () => {
    const r = await explain('--from', id('api'), '--to', id('db'), '--port', '5432', '--dir', good);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ALLOW: spiffe:\/\/example\.org\/ns\/shop\/sa\/api → spiffe:\/\/example\.org\/ns\/shop\/sa\/db port 5432\n  decided by: shop\/db-allows-api/);
    expect(r.stdout).toContain('dry run: shop/db-audit would deny (not enforced)');
  });

  it('denies web → db:5432 (exit 1) from files, and by the mesh default from the CA (--ca-admin), in JSON', async () => {
    const files = await explain('--from', id('web'), '--to', id('db'), '--port', '5432', '-f', join(good, 'db.yaml'), '-o', 'json');
    expect(files.code).toBe(1);
    expect(JSON.parse(files.stdout)).toMatchObject({ decision: 'deny', policy: 'shop/db-allows-api', reason: 'no_allow_matched', defaultPolicy: 'allow', dryRun: [] });
    const fromCa = await explain('--from', id('web'), '--to', id('api'), '--ca-admin', ca.adminAddress, '-o', 'json');
    expect(fromCa.code).toBe(1);
    expect(JSON.parse(fromCa.stdout)).toMatchObject({ decision: 'deny', policy: 'mesh-default', reason: 'mesh_default', defaultPolicy: 'deny', port: null });
  });

  it('names `local` when the workload\'s own allow list (--allow) decides: web allowed (exit 0), ops refused (exit 1)', async () => {
    const allowed = await explain('--from', id('web'), '--to', id('api'), '--port', '8080', '--dir', good, '--default-policy', 'deny', '--allow', `${id('web')},${id('billing')}`, '-o', 'json');
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(JSON.parse(allowed.stdout)).toMatchObject({ decision: 'allow', policy: 'local', reason: 'allow_matched', local: [id('web'), id('billing')] });
    const refused = await explain('--from', id('ops'), '--to', id('api'), '--port', '8080', '--dir', good, '--default-policy', 'deny', '--allow', id('web'), '--allow', id('billing'));
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stdout).toMatch(/^DENY: .*\n {2}decided by: local \(/);
    // Without --allow the same question is the mesh default's, as before.
    const without = await explain('--from', id('web'), '--to', id('api'), '--port', '8080', '--dir', good, '--default-policy', 'deny', '-o', 'json');
    expect(without.code).toBe(1);
    expect(JSON.parse(without.stdout)).toMatchObject({ decision: 'deny', policy: 'mesh-default', local: null });
  });

  it.each([
    ['an --allow pattern that is no SPIFFE ID pattern', ['--from', id('web'), '--to', id('db'), '--dir', good, '--allow', 'web'], /--allow "web"/],
    ['a --from that is no SPIFFE ID', ['--from', 'web', '--to', id('db'), '--dir', good], /--from "web"/],
    ['a port out of range', ['--from', id('web'), '--to', id('db'), '--port', '70000', '--dir', good], /--port "70000"/],
    ['no source of policies', ['--from', id('web'), '--to', id('db')], /exactly one of --dir/],
    ['a directory that is not there', ['--from', id('web'), '--to', id('db'), '--dir', join(good, 'nope')], /no such directory/],
    ['invalid policies', ['--from', id('web'), '--to', id('db'), '--dir', bad], /problems in the policies/],
    ['an admin that is not a CA\'s', ['--from', id('web'), '--to', id('db'), '--ca-admin', '127.0.0.1:1'], /cannot reach the CA admin/],
  ])('refuses %s with exit 2', async (_what, args, message) => {
    const r = await explain(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

describe('ztmesh policy validate', () => {
  it('exit 0 for valid files, 1 with one file:object:field line per problem, 2 for input it cannot read', async () => {
    const ok = await runCli(['policy', 'validate', '--dir', good]);
    expect([ok.code, ok.stdout, ok.stderr.trim()]).toEqual([0, '', '2 valid policies in 1 file, 0 problems']);
    const r = await runCli(['policy', 'validate', '--dir', bad]);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/bad\.yaml:shop\/db:spec\.action: "AUDIT" is not one of ALLOW, DENY$/),
      expect.stringMatching(/broken\.yml:#1:\(syntax\): not YAML/),
    ]);
    const json = await runCli(['policy', 'validate', '-f', join(bad, 'bad.yaml'), '-o', 'json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, files: 1, policies: 0, problems: [{ object: 'shop/db', field: 'spec.action' }] });
    expect((await runCli(['policy', 'validate', '--dir', join(bad, 'nope')])).code).toBe(2);
  });
});

describe('ztmesh ca status', () => {
  it('shows which identity runs which policy version', async () => {
    const s = openMesh(ca, await svidFor(ca, id('db')));
    s.subscribe(['policy']);
    const u = await s.next();
    s.ack(u);
    await expect.poll(async () => (await runCli(['ca', 'status', '--admin', ca.adminAddress])).stdout, { timeout: 10_000 })
      .toMatch(new RegExp(`spiffe://example\\.org/ns/shop/sa/db\\s+${u.version}\\s+yes\\s+shop/db-allows-api,shop/db-audit`));
    const out = (await runCli(['ca', 'status', '--admin', ca.adminAddress])).stdout;
    expect(out).toMatch(/Authorization policy: 2 in force, 0 invalid \(from dir\), mesh default deny/);
    s.cancel();
  });
});
