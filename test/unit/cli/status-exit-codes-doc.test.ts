// docs/sidecar.md's exit-code table of `ztmesh status` is the code's: one row per EXIT_* constant of src/cli/status.ts,
// the ready row names exactly the identity states /readyz serves (hasValidSvid), the other row the rest, and a real
// run against a closed port and a server that is not a sidecar admin exits with the row that says so.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import type { SidecarStatus } from '../../../src/admin/status-types.js';
import * as statusCli from '../../../src/cli/status.js';
import { IDENTITY_STATES, type IdentityState } from '../../../src/common/mesh.js';
import { hasValidSvid, type Svid } from '../../../src/identity/credentials.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DOC = readFileSync(join(ROOT, 'docs/sidecar.md'), 'utf8');

interface Row { code: number; when: string; shownAs: string }

/** The rows of the table under "#### Exit codes of `ztmesh status`". */
function tableRows(): Row[] {
  const start = DOC.indexOf('#### Exit codes of `ztmesh status`');
  expect(start, 'docs/sidecar.md has the exit-code section').toBeGreaterThan(-1);
  const lines = DOC.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('| exit code |'));
  expect(first, 'the section has the table').toBeGreaterThan(-1);
  const body = lines.slice(first + 2);
  const rows = body.slice(0, body.findIndex((l) => !l.startsWith('|'))).map((l) => l.slice(1, -1).split(' | ').map((c) => c.trim()));
  return rows.map(([code, when, shownAs]) => {
    expect(code, `an exit code: "${code}"`).toMatch(/^\d+$/);
    return { code: Number(code), when: when!, shownAs: shownAs! };
  });
}

/** Every `EXIT_*` constant src/cli/status.ts defines. */
const EXIT_CODES = Object.entries(statusCli).filter(([name, v]) => name.startsWith('EXIT_') && typeof v === 'number') as [string, number][];

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);
/** What /readyz decides for the identity: a certificate valid now, in this state. */
const servedIn = (state: IdentityState) => hasValidSvid({ state, svid: { notBeforeMs: NOW - 60_000, notAfterMs: NOW + 3_600_000 } as Svid }, NOW);
const withReadiness = (ready: boolean) => ({ identity: { state: 'available', notAfter: null }, readiness: { ready, pending: ready ? [] : ['draining'] } }) as unknown as SidecarStatus;
const statesIn = (text: string) => IDENTITY_STATES.filter((s) => text.includes(`\`${s}\``));

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function listen(handler?: (res: import('node:http').ServerResponse) => void): Promise<number> {
  const s = createServer((_req, res) => handler?.(res));
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return (s.address() as AddressInfo).port;
}

/** Runs `ztmesh status --admin <address>` in this process and returns the exit code it set. */
async function statusExitCode(address: string): Promise<number | undefined> {
  const program = new Command().exitOverride();
  statusCli.register(program);
  const before = process.exitCode;
  try {
    await program.parseAsync(['status', '--admin', address], { from: 'user' });
    return process.exitCode === undefined ? undefined : Number(process.exitCode);
  } finally {
    process.exitCode = before;
  }
}

describe('docs/sidecar.md: exit codes of ztmesh status', () => {
  const rows = tableRows();
  const rowOf = (code: number) => rows.find((r) => r.code === code)!;

  it('has one row per exit code the status command defines, and no other', () => {
    expect(EXIT_CODES.length).toBeGreaterThanOrEqual(3);
    expect(rows.map((r) => r.code).sort()).toEqual(EXIT_CODES.map(([, v]) => v).sort());
    expect(new Set(rows.map((r) => r.code)).size).toBe(rows.length);
  });

  it('the 200 row is the code of a ready sidecar and names exactly the states /readyz serves; the 503 row the others', () => {
    const ready = statusCli.exitCodeFor(withReadiness(true), NOW);
    const notReady = statusCli.exitCodeFor(withReadiness(false), NOW);
    expect(ready).not.toBe(notReady);
    expect(rowOf(ready).when).toContain('`/readyz` answers 200');
    expect(rowOf(notReady).when).toContain('`/readyz` answers 503');

    const served = IDENTITY_STATES.filter(servedIn);
    expect(served.length).toBeGreaterThan(0);
    expect(served.length).toBeLessThan(IDENTITY_STATES.length);
    expect(statesIn(rowOf(ready).when)).toEqual(served);
    expect(statesIn(rowOf(notReady).when)).toEqual(IDENTITY_STATES.filter((s) => !servedIn(s)));
    // An older sidecar's /status has no `readiness`: the command's fallback rule gives the same answer per state.
    for (const state of IDENTITY_STATES) {
      const old = { identity: { state, notAfter: new Date(NOW + 3_600_000).toISOString() } } as unknown as SidecarStatus;
      expect(statusCli.exitCodeFor(old, NOW), state).toBe(servedIn(state) ? ready : notReady);
    }
  });

  it('an admin that cannot be read, or is not a sidecar admin, exits with the row that says so; a sidecar status does not', async () => {
    const unreadable = rows.find((r) => /cannot be read/.test(r.when));
    expect(unreadable, 'a row for an admin that cannot be read').toBeDefined();
    expect(unreadable!.when).toContain('not a ztmesh sidecar admin');

    const closed = await listen();
    await new Promise((resolve) => servers.pop()!.close(resolve));
    expect(await statusExitCode(`127.0.0.1:${closed}`)).toBe(unreadable!.code);

    const other = await listen((res) => { res.setHeader('content-type', 'application/json'); res.end('{"hello":"world"}'); });
    expect(await statusExitCode(`127.0.0.1:${other}`)).toBe(unreadable!.code);

    const draining = await listen((res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify(sidecarStatus(false))); });
    const code = await statusExitCode(`127.0.0.1:${draining}`);
    expect(code).toBe(statusCli.exitCodeFor(withReadiness(false), NOW));
    expect(code).not.toBe(unreadable!.code);
  });

  it('the prose of docs/sidecar.md and `ztmesh status --help` give the same codes as the table', () => {
    const ready = statusCli.exitCodeFor(withReadiness(true), NOW);
    const notReady = statusCli.exitCodeFor(withReadiness(false), NOW);
    const unreadable = rows.find((r) => /cannot be read/.test(r.when))!.code;
    expect(DOC.replace(/\s+/g, ' ')).toContain(`The exit code is ${ready} exactly when \`/readyz\` answers 200, ${notReady} when it answers 503, and ${unreadable} when the admin endpoint cannot be read`);
    const program = new Command();
    statusCli.register(program);
    const help = program.commands.find((c) => c.name() === 'status')!.description();
    expect(help).toMatch(new RegExp(`exit code ${ready} exactly when its /readyz answers 200 .*, ${notReady} otherwise, ${unreadable} when the admin cannot be read`));
  });
});

/** A minimal sidecar /status document, as the admin serves it. */
function sidecarStatus(ready: boolean): SidecarStatus {
  const iso = (d: number) => new Date(Date.now() + d).toISOString();
  return {
    identity: {
      spiffeId: 'spiffe://cluster.local/ns/a/sa/b', state: 'available', serial: '5f1c', notBefore: iso(-60_000), notAfter: iso(3_540_000), refreshAt: iso(1_740_000),
      rotations: 1, consecutiveFailures: 0, lastRotation: iso(-10_000), publicKeySha256: 'a'.repeat(64), failuresTotal: 0, history: [], lastError: null,
    },
    trustBundle: { trustDomain: 'cluster.local', sequence: 1, source: 'ca', roots: [], lastRefusal: null },
    ca: { address: 'x:1', addresses: ['x:1'], reachable: true, lastContact: iso(-1000), refusal: null, bundleStream: { connected: true, lastUpdate: null, lastError: null } },
    outageBudgetSeconds: null,
    listeners: [],
    readiness: { ready, pending: ready ? [] : ['draining'] },
  } as SidecarStatus;
}
