// A web page the developer opens must not rotate the sidecar's identity: POST /rotate with a foreign Origin, a
// cross-site or same-site Sec-Fetch-Site, or a form body is refused with 403 and rotates nothing, with one log line
// naming the peer and the header. Plain `curl -X POST` (the real binary) still rotates, and `ztmesh status` works.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { runCli } from '../helpers/cli.js';
import { startSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { curl } from '../helpers/admin-http.js';

let ca: TestCaServer;
let sc: TestSidecar;
beforeAll(async () => {
  ca = await startCa();
  sc = await startSidecar({ ca });
  await sc.waitForStatus((s) => s.identity.state === 'available');
});
afterAll(async () => {
  await sc?.stop();
  await ca?.stop();
});

/** `curl -X POST <admin>/rotate` with extra arguments; returns the HTTP status and the JSON body. */
async function curlRotate(...extra: string[]): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await curl(['-X', 'POST', ...extra, '--write-out', '\n%{http_code}', `${sc.admin}/rotate`]);
  expect(r.code, r.stderr).toBe(0);
  const nl = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(nl + 1)), body: JSON.parse(r.stdout.slice(0, nl)) as Record<string, unknown> };
}

describe('POST /rotate from another site', () => {
  it('is refused with 403 for a foreign Origin, Sec-Fetch-Site cross-site or same-site, or a form body, and rotates nothing', async () => {
    const before = (await sc.status()).identity;
    const attempts: [string[], string, string][] = [
      // The reproduction: a text/plain "simple" request a page can send without a preflight.
      [['-H', 'Origin: http://evil.example', '-H', 'Content-Type: text/plain', '--data', 'x'], 'origin_not_allowed', 'origin'],
      [['-H', 'Origin: http://evil.example'], 'origin_not_allowed', 'origin'],
      [['-H', 'Origin: null'], 'origin_not_allowed', 'origin'],
      [['-H', 'Sec-Fetch-Site: cross-site', '-H', 'Sec-Fetch-Mode: no-cors'], 'cross_site', 'sec-fetch-site'],
      [['-H', 'Sec-Fetch-Site: same-site'], 'cross_site', 'sec-fetch-site'],
      [['-H', 'Content-Type: application/x-www-form-urlencoded', '--data', 'a=b'], 'form_content_type', 'content-type'],
    ];
    for (const [args, code, header] of attempts) {
      const r = await curlRotate(...args);
      expect(r.status, args.join(' ')).toBe(403);
      expect(r.body).toMatchObject({ error: { code } });
      const line = await sc.proc.waitFor(new RegExp(`"code":"${code}".*"msg":"admin request refused"`));
      expect(JSON.parse(line)).toMatchObject({ level: 'warn', header, method: 'POST', target: '/rotate', peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    }
    expect(sc.proc.json().filter((l) => l.msg === 'admin request refused')).toHaveLength(attempts.length);
    const after = (await sc.status()).identity;
    expect(after.rotations).toBe(before.rotations);
    expect(after.serial).toBe(before.serial);
  });

  it('plain curl -X POST (no Origin) still rotates, and ztmesh status still reads the admin', async () => {
    const before = (await sc.status()).identity;
    const r = await curlRotate();
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ rotated: true });
    const after = (await sc.status()).identity;
    expect(after.rotations).toBe(before.rotations + 1);
    expect(after.serial).not.toBe(before.serial);
    expect(after.serial).toBe(r.body.serial);
    const status = await runCli(['status', '--admin', sc.admin]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^State\s+available$/m);
  });
});
