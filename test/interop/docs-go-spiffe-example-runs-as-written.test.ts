// The go-spiffe program of docs/workload-api.md, taken from the page as it is written, built with the pinned go-spiffe
// (test/interop/go/go.mod) and run against a real sidecar: it prints the lines the page says it prints.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { BUILD_TIMEOUT_MS, runTool } from '../helpers/interop.js';
import { WEB_ID } from '../helpers/sidecar.js';
import { startWorkloadApiSidecar, type WorkloadApiSidecar } from '../helpers/workload-api.js';
import { tempDir } from '../helpers/temp-dir.js';

const DOC = readFileSync(fileURLToPath(new URL('../../docs/workload-api.md', import.meta.url)), 'utf8');
const GO_MODULE = fileURLToPath(new URL('./go/', import.meta.url));
const CACHE = fileURLToPath(new URL('./.cache/', import.meta.url));
const section = DOC.slice(DOC.indexOf('## Example: go-spiffe'));
const program = /```go\n([\s\S]*?)```/.exec(section)![1]!;
const expected = /It prints, for example:\n\n```\n([\s\S]*?)```/.exec(section)![1]!.trim().split('\n');

let ca: TestCaServer;
let wl: WorkloadApiSidecar;
let dir: string;
let binary: string;

beforeAll(async () => {
  // Built once per content of the program and the pinned module (test/interop/.cache, as prepare.sh does).
  const digest = createHash('sha256').update(program).update(readFileSync(join(GO_MODULE, 'go.sum'))).digest('hex').slice(0, 16);
  binary = join(CACHE, `docs-example-${digest}`);
  dir = tempDir('ztmesh-doc-go-');
  writeFileSync(join(dir, 'main.go'), program);
  for (const f of ['go.mod', 'go.sum']) copyFileSync(join(GO_MODULE, f), join(dir, f));
  mkdirSync(CACHE, { recursive: true });
  const build = existsSync(binary) ? Promise.resolve()
    : promisify(execFile)('go', ['build', '-o', join(dir, 'hello-spiffe'), '.'], { cwd: dir, timeout: BUILD_TIMEOUT_MS, env: { ...process.env, GOFLAGS: '-mod=readonly', GOTOOLCHAIN: 'local' } })
      .then(() => renameSync(join(dir, 'hello-spiffe'), binary));
  ca = await startCa();
  wl = await startWorkloadApiSidecar({ ca });
  await Promise.all([build, wl.sidecar.waitForStatus((s) => s.identity.state === 'available')]);
}, 15 * 60_000);
afterAll(async () => {
  await wl?.stop();
  await ca?.stop();
});

describe('docs/workload-api.md', () => {
  it('the go-spiffe example prints its X.509-SVID and a validated JWT-SVID, as the page shows', async () => {
    const r = await runTool([binary], { SPIFFE_ENDPOINT_SOCKET: wl.endpoint });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const notAfter = (await wl.sidecar.status()).identity.notAfter!.replace(/\.\d+Z$/, 'Z');
    expect(lines).toEqual([
      expected[0]!.replace(/valid until \S+/, `valid until ${notAfter}`).replace('spiffe://example.org/ns/default/sa/web', WEB_ID),
      expected[1]!,
    ]);
  });
});
