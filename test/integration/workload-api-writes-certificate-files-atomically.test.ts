// workloadApi.files: the sidecar keeps svid.pem, svid_key.pem (0600) and svid_bundle.pem current for apps that read
// files. A reader in a tight loop (another process) never sees a torn file across several rotations, the files always
// hold what /certs serves, and onRotate signals the process named in the pid file once per rotation.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { LineProcess } from '../helpers/line-process.js';
import { startSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { tempDir } from '../helpers/temp-dir.js';

const ROTATIONS = 5;
let ca: TestCaServer;
let sc: TestSidecar;
let dir: string;
let app: LineProcess;

/** Reads the three files in a loop until SIGTERM; prints how many reads it made and each torn one. */
const READER = `
const fs = require('fs'); const path = require('path'); const crypto = require('crypto');
const dir = process.argv[1]; let reads = 0; const torn = []; const serials = new Set(); let stop = false;
process.on('SIGTERM', () => { stop = true; });
const check = (name, fn) => { let text; try { text = fs.readFileSync(path.join(dir, name), 'utf8'); } catch (e) { if (e.code !== 'ENOENT') torn.push(name + ': ' + e.code); return; }
  try { fn(text); } catch (e) { torn.push(name + ': ' + e.message); } };
const certs = (t) => { const n = (t.match(/-----BEGIN CERTIFICATE-----/g) || []).length; if (n < 1 || n !== (t.match(/-----END CERTIFICATE-----\\n/g) || []).length) throw new Error('torn PEM'); return new crypto.X509Certificate(t); };
console.log('reading');
(function loop() {
  for (let i = 0; i < 200; i++) {
    check('svid.pem', (t) => serials.add(certs(t).serialNumber)); check('svid_bundle.pem', certs);
    check('svid_key.pem', (t) => { crypto.createPrivateKey(t); const m = fs.statSync(path.join(dir, 'svid_key.pem')).mode & 0o777; if (m !== 0o600) throw new Error('mode ' + m.toString(8)); });
    reads++;
  }
  if (stop) { console.log(JSON.stringify({ reads, torn, serials: serials.size })); process.exit(0); } else setImmediate(loop);
})();`;

beforeAll(async () => {
  dir = tempDir('ztmesh-files-');
  ca = await startCa();
  // The app whose pid file onRotate signals: it counts SIGHUPs.
  app = new LineProcess([process.execPath, '-e', 'let n = 0; process.on("SIGHUP", () => console.log(JSON.stringify({ hup: ++n }))); console.log("up"); setInterval(() => {}, 1000);']);
  await app.waitFor(/^up$/);
  writeFileSync(join(dir, 'app.pid'), `${app.child.pid}\n`);
  const files = { dir: join(dir, 'certs'), onRotate: { signal: 'SIGHUP', pidFile: join(dir, 'app.pid') } };
  sc = await startSidecar({ ca, args: ['--workload-api-files', JSON.stringify(files)] });
});
afterAll(async () => {
  await sc?.stop();
  await app?.stop();
  await ca?.stop();
});

describe('certificate files', () => {
  it('are replaced atomically on every rotation, the key stays 0600, and onRotate fires each time', async () => {
    const certsDir = join(dir, 'certs');
    await sc.waitForStatus((s) => s.workloadApi?.files?.writes === 1);
    await app.waitFor(/"hup":1/);
    const reader = new LineProcess([process.execPath, '-e', READER, certsDir]);
    await reader.waitFor(/^reading$/);
    try {
      for (let i = 0; i < ROTATIONS; i++) {
        expect((await sc.rotate()).status).toBe(200);
        await sc.waitForStatus((s) => s.workloadApi!.files!.writes === i + 2 && s.workloadApi!.files!.serial === s.identity.serial);
      }
    } finally {
      reader.child.kill('SIGTERM');
    }
    await reader.exited;
    const result = reader.json()[0] as { reads: number; torn: string[]; serials: number };
    expect(result.torn).toEqual([]);
    // It read through the rotations: every SVID from the first to the last.
    expect(result.serials).toBe(ROTATIONS + 1);

    const { text } = await sc.get('/certs');
    const chain = readFileSync(join(certsDir, 'svid.pem'), 'utf8');
    const bundle = readFileSync(join(certsDir, 'svid_bundle.pem'), 'utf8');
    expect(text).toBe(`# certificate chain (leaf first)\n${chain}# trust bundle\n${bundle}`);
    const key = readFileSync(join(certsDir, 'svid_key.pem'), 'utf8');
    expect(new X509Certificate(chain).checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect(statSync(join(certsDir, 'svid_key.pem')).mode & 0o777).toBe(0o600);
    await app.waitFor(new RegExp(`"hup":${ROTATIONS + 1}`));
    const status = (await sc.status()).workloadApi!;
    expect(status.socket).toBeNull();
    expect(status.files).toMatchObject({ writes: ROTATIONS + 1, lastError: null, onRotate: { kind: 'signal', runs: ROTATIONS + 1, lastResult: `SIGHUP sent to ${app.child.pid}` } });
  });
});
