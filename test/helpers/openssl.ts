// A real foreign TLS peer for refusal scenarios: `openssl s_client` and `s_server` with test-time certificates.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineProcess } from './line-process.js';
import type { TestCa, TestLeaf } from './pki.js';

/** Why openssl tests skip, or undefined when the binary is there. */
export const OPENSSL_MISSING = spawnSync('openssl', ['version']).status === 0 ? undefined : 'openssl is not installed (apt-get install openssl)';
if (OPENSSL_MISSING) console.warn(`skipping openssl s_client scenarios: ${OPENSSL_MISSING}`);

/** A temp dir holding PEM files for openssl. */
export class PemDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'ztmesh-openssl-'));
  ca(ca: TestCa, name = 'ca.pem'): string {
    const p = join(this.dir, name);
    writeFileSync(p, ca.certPem);
    return p;
  }
  leaf(leaf: TestLeaf, name: string): { cert: string; key: string } {
    const cert = join(this.dir, `${name}.pem`);
    const key = join(this.dir, `${name}.key`);
    writeFileSync(cert, leaf.certPem);
    writeFileSync(key, leaf.keyPem, { mode: 0o600 });
    return { cert, key };
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface SClientResult { code: number | null; stdout: string; stderr: string }

/** Runs `openssl s_client` against 127.0.0.1:port, sends `input`, and collects what the server returned. */
export function sClient(opts: { port: number; caFile: string; cert?: { cert: string; key: string }; args?: string[]; input?: string; timeoutMs?: number }): Promise<SClientResult> {
  const args = ['s_client', '-connect', `127.0.0.1:${opts.port}`, '-CAfile', opts.caFile, '-quiet', ...(opts.args ?? [])];
  if (opts.cert) args.push('-cert', opts.cert.cert, '-key', opts.cert.key);
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 5_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // -quiet implies -ign_eof: s_client stays until the server closes, so the stdin end does not race the reply.
    child.stdin.end(opts.input ?? 'ping\n');
  });
}

/** A running `openssl s_server`: TLS 1.3 only, `-rev` (each line read is sent back reversed). */
export interface SServer { port: number; proc: LineProcess; stop(): Promise<void> }

/** Starts `openssl s_server` on 127.0.0.1 (a free port) presenting `cert`. */
export async function sServer(opts: { cert: { cert: string; key: string }; args?: string[] }): Promise<SServer> {
  const proc = new LineProcess(['openssl', 's_server', '-accept', '127.0.0.1:0', '-tls1_3', '-rev', '-cert', opts.cert.cert, '-key', opts.cert.key, ...(opts.args ?? [])]);
  const line = await proc.waitFor(/^ACCEPT /, 5_000);
  return { port: Number(line.slice(line.lastIndexOf(':') + 1)), proc, stop: async () => { await proc.stop(); } };
}
