// docs/design.md lists today's contracts, read from the code itself: every data-path reason code (refusals, and why
// a tunnel connection ended), metric name, sidecar configuration key, `ca serve` flag, port and path, identity state,
// proto message, admin route and admin refusal code. A contract added to the code without this page fails here, and
// so does a citation of a section that is not there.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { register as registerCa } from '../../../src/cli/ca.js';
import * as mesh from '../../../src/common/mesh.js';
import { REFUSAL_CODES } from '../../../src/admin/request-policy.js';
import { adminRoutes, healthRoutes, type SidecarAdmin } from '../../../src/admin/sidecar-admin.js';
import { CONFIG_KEYS } from '../../../src/sidecar/config.js';
import { INTERCEPT_REASONS } from '../../../src/sidecar/intercept/intercept-reasons.js';
import { REASONS } from '../../../src/sidecar/reasons.js';
import { MESH_REFUSALS } from '../../../src/ca/mesh/mesh-service.js';
import { TUNNEL_END_REASONS } from '../../../src/sidecar/tunnel/session-guard.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DESIGN = readFileSync(join(ROOT, 'docs/design.md'), 'utf8');
const listed = (term: string) => DESIGN.includes(`\`${term}\``) || DESIGN.includes(`| ${term} |`);

function sources(dir: string, pattern = /\.ts$/): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p, pattern) : pattern.test(p) ? [p] : [];
  });
}

describe('docs/design.md lists the contracts', () => {
  it('every data-path reason code', () => {
    for (const code of [...Object.values(REASONS), ...Object.values(INTERCEPT_REASONS), ...Object.values(TUNNEL_END_REASONS)]) expect(listed(code), code).toBe(true);
  });

  it('every metric the code registers', () => {
    const names = sources(join(ROOT, 'src')).flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/name: '(ztmesh_[a-z_]+)'/g)].map((m) => m[1]!));
    expect(names.length).toBeGreaterThan(15);
    for (const name of names) expect(listed(name), name).toBe(true);
  });

  it('every sidecar configuration key', () => {
    for (const k of CONFIG_KEYS) expect(listed(k.path), k.path).toBe(true);
  });

  it('every `ztmesh ca serve` flag', () => {
    const program = new Command();
    registerCa(program);
    const serve = program.commands.find((c) => c.name() === 'ca')!.commands.find((c) => c.name() === 'serve')!;
    expect(serve.options.length).toBeGreaterThan(20);
    for (const o of serve.options) expect(DESIGN, o.long).toContain(`\`${o.long}\``);
  });

  it('every port, path, name and identity state of common/mesh.ts', () => {
    for (const port of [...Object.values(mesh.PORTS), mesh.PROXY_UID]) expect(DESIGN).toMatch(new RegExp(`\\b${port}\\b`));
    for (const v of [mesh.TOKEN_PATH, mesh.BUNDLE_PATH, mesh.INBOUND_SOURCE_V4, mesh.TOKEN_AUDIENCE, mesh.CA_SERVICE_ADDRESS, mesh.caSpiffeId('<td>'), mesh.DEFAULT_TRUST_DOMAIN]) {
      expect(DESIGN, v).toContain(v);
    }
    for (const state of mesh.IDENTITY_STATES) expect(listed(state), state).toBe(true);
  });

  it('the CA proto, message for message', () => {
    const proto = readFileSync(join(ROOT, 'proto/ztmesh/ca/v1/ca.proto'), 'utf8');
    const lines = proto.split('\n').filter((l) => /^\s*(rpc|message|service) /.test(l));
    expect(lines.length).toBe(11);
    for (const line of lines) expect(DESIGN).toContain(line.trim());
  });

  it('the mesh proto, service and message for message', () => {
    const proto = readFileSync(join(ROOT, 'proto/ztmesh/mesh/v1/mesh.proto'), 'utf8');
    const names = [...proto.matchAll(/^\s*(?:rpc|message|service) (\w+)/gm)].map((m) => m[1]!);
    expect(names.length).toBe(16);
    for (const name of names) expect(DESIGN).toMatch(new RegExp(`(message|rpc|service) ${name}\\b`));
    for (const field of [...proto.matchAll(/^\s*(?:repeated )?[\w.]+ (\w+) = \d+;/gm)].map((m) => m[1]!)) expect(DESIGN, field).toContain(` ${field} = `);
  });

  it('every `ztmesh ca serve` route of the admin, and the mesh stream\'s refusal codes', () => {
    for (const route of ['GET /identities', 'GET /mesh', 'GET /policies']) expect(DESIGN).toContain(route);
    for (const code of MESH_REFUSALS) expect(listed(code), code).toBe(true);
  });

  it('every admin route, and every admin refusal code', () => {
    const routes = [...Object.keys(adminRoutes({} as SidecarAdmin)), ...Object.keys(healthRoutes({} as SidecarAdmin))];
    for (const route of routes) expect(listed(route), route).toBe(true);
    for (const code of REFUSAL_CODES) expect(listed(code), code).toBe(true);
  });

  it('every citation of one of its sections in src/, test/ and docs/ names a heading it has', () => {
    const headings = [...DESIGN.matchAll(/^#+ (.+)$/gm)].map((m) => m[1]!);
    const files = ['src', 'test', 'docs'].flatMap((d) => sources(join(ROOT, d), /\.(ts|md)$/));
    const cited = files.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/design\.md\)? "([^"]+)"/g)].map((m) => m[1]!));
    expect(cited.length).toBeGreaterThan(10);
    for (const section of cited) expect(headings.some((h) => h.startsWith(section)), section).toBe(true);
  });
});
