// `ca serve --audit-log FILE` writes one hash-chained line per issuance and refusal, never a token, key or CSR.
// `ztmesh ca audit verify` passes on that real log and fails naming the line when one byte of a line is changed, a
// line is deleted, or two lines are swapped. A second process on the same file is refused (one file per replica).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineHash } from '../../src/ca/audit/audit-chain.js';
import { initCa, makeCsr, signCsr, signError, startCa, type TestCaServer } from '../helpers/ca.js';
import { CliProcess, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const tmp = tempDir('ztmesh-audit-');
const log = join(tmp, 'audit.log');
let ca: TestCaServer;
const secrets: string[] = [];

beforeAll(async () => {
  ca = await startCa({ args: ['--audit-log', log] });
  for (let i = 0; i < 4; i++) {
    const id = `spiffe://example.org/ns/default/sa/w${i}`;
    const token = await ca.mintToken(id);
    const { csr, keyPem } = makeCsr(id);
    secrets.push(token, csr.toString('base64').slice(20, 80), keyPem.split('\n')[1]!);
    await signCsr(ca.client(), csr, { token });
  }
  await signError(ca.client(), makeCsr().csr, { token: 'ztjt_not-a-real-token' });
  secrets.push('ztjt_not-a-real-token');
  await signError(ca.client(), Buffer.from('garbage'), { token: await ca.mintToken('spiffe://example.org/ns/default/sa/x') });
  // The last record's witness is on its way through the CA's stdout when the refusal reaches us: wait for it.
  await ca.process.waitFor(/"auditSeq":6\b/);
});
afterAll(async () => {
  await ca?.stop();
});

const lines = () => readFileSync(log, 'utf8').trim().split('\n');
const verifyCopyWithHead = async (name: string, content: string[], head?: string) => {
  const f = join(tmp, name);
  writeFileSync(f, `${content.join('\n')}\n`);
  return runCli(['ca', 'audit', 'verify', f, ...(head ? ['--head', head] : [])]);
};
const verifyCopy = (name: string, content: string[]) => verifyCopyWithHead(name, content);

describe('the issuance log', () => {
  it('holds a chained line per issuance and refusal, each hash witnessed on stdout, and no token, key or CSR', async () => {
    const recs = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(recs.map((r) => r.event)).toEqual(['opened', 'issued', 'issued', 'issued', 'issued', 'refused', 'refused']);
    expect(recs[1]).toMatchObject({ seq: 1, spiffeId: 'spiffe://example.org/ns/default/sa/w0', method: 'join_token', code: 'ok', peer: expect.stringMatching(/127\.0\.0\.1/) });
    expect(recs[1]).toHaveProperty('serial');
    expect(recs[1]).toHaveProperty('notAfter');
    expect(recs[1]!.root).toMatch(/^[0-9a-f]{64}$/);
    expect(recs.slice(5).map((r) => r.code)).toEqual(['unknown_token', 'malformed_csr']);
    const text = readFileSync(log, 'utf8');
    for (const s of secrets) expect(text).not.toContain(s);
    // Every line's hash reaches stdout (issuances in their audit line, every other record in a "recorded" line):
    // the log pipeline witnesses the whole chain.
    const stdout = ca.process.json().filter((l) => l.component === 'audit' && typeof l.auditSeq === 'number');
    expect(stdout.map((l) => [l.msg, l.auditSeq, l.auditHash])).toEqual(lines().map((l, i) => [i >= 1 && i <= 4 ? 'issued' : 'recorded', i, lineHash(l)]));
  });

  it('with --head from stdout, passes the real log that ends with a refusal, and fails once trailing refusals are deleted', async () => {
    const head = String(ca.process.json().filter((l) => l.component === 'audit' && typeof l.auditHash === 'string').at(-1)!.auditHash);
    const r = await runCli(['ca', 'audit', 'verify', log, '--head', head]);
    expect(r.code, r.stderr).toBe(0);
    const trimmed = await verifyCopyWithHead('trimmed.log', lines().slice(0, 5), head);
    expect(trimmed.code).toBe(1);
    expect(trimmed.stderr).toMatch(/trimmed\.log: line 5 was altered, or lines after it were removed.*\(audit_line_altered\)/);
  });

  it('verifies the real log', async () => {
    const r = await runCli(['ca', 'audit', 'verify', log]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/7 line\(s\), chain intact; head sha256 [0-9a-f]{64}/);
  });

  it('names the line when one byte of it changed', async () => {
    const l = lines();
    l[2] = l[2]!.replace(/"serial":"(.)/, (_m, c: string) => `"serial":"${c === 'a' ? 'b' : 'a'}`);
    const r = await verifyCopy('altered.log', l);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/altered\.log: line 3 was altered.*\(audit_line_altered\)/);
  });

  it('names the line when it was deleted', async () => {
    const l = lines();
    l.splice(2, 1);
    const r = await verifyCopy('removed.log', l);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/removed\.log: line 3 was removed: seq 2 should follow line 2 but is missing \(audit_line_removed\)/);
  });

  it('names the line when two lines were swapped', async () => {
    const l = lines();
    [l[2], l[3]] = [l[3]!, l[2]!];
    const r = await verifyCopy('swapped.log', l);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/swapped\.log: line 3 is out of order.*\(audit_line_reordered\)/);
  });

  it('refuses a second CA process on the same file: each replica writes its own', async () => {
    const other = new CliProcess(['ca', 'serve', '--dir', await initCa(), '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--audit-log', log]);
    expect(await other.exited).toBe(1);
    expect(other.output()).toMatch(/ztmesh ca serve: --audit-log .*audit\.log is written by another process; give each replica its own file .*\(audit_log_locked\)/);
  });
});
