// Sidecar test helper: a real `ztmesh sidecar` process on 127.0.0.1 port 0, pointed at a test CA (test/helpers/ca.ts).
//
//   const ca = await startCa();                                  // example.org, join tokens
//   const sc = await startSidecar({ ca, ttl: '60s' });           // mints a join token for WEB_ID
//   await sc.waitForStatus((s) => s.identity.state === 'available');
//   await sc.rotate(); await sc.readyz(); sc.proc.json();        // admin calls and JSON log lines
//   await sc.stop();
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SidecarStatus } from '../../src/admin/status-types.js';
import { CliProcess } from './cli.js';
import type { TestCaServer } from './ca.js';
import { tempDir } from './temp-dir.js';

export const WEB_ID = 'spiffe://example.org/ns/default/sa/web';

export interface StartSidecarOptions {
  ca?: TestCaServer;
  /** CA address list; defaults to the test CA's. */
  caAddress?: string;
  /** Bootstrap bundle PEM; defaults to the test CA's bundle.pem. */
  bundlePem?: string;
  /** Token file content; by default a fresh join token for spiffeId from `ca`. */
  token?: string;
  spiffeId?: string;
  trustDomain?: string;
  ttl?: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

export interface TestSidecar {
  proc: CliProcess;
  /** http://127.0.0.1:PORT of the admin server. */
  admin: string;
  /** http://127.0.0.1:PORT of the health-only server. */
  health: string;
  /** http://HOST:PORT of the pod metrics port, when `metrics.listen` is set. */
  metrics: string | undefined;
  dir: string;
  token: string;
  status(): Promise<SidecarStatus>;
  readyz(base?: string): Promise<{ status: number; body: { ready: boolean; pending: string[] } }>;
  rotate(): Promise<{ status: number; body: Record<string, unknown> }>;
  get(path: string, base?: string): Promise<{ status: number; text: string }>;
  /** Polls /status every 100 ms until pred holds. */
  waitForStatus(pred: (s: SidecarStatus) => boolean, timeoutMs?: number): Promise<SidecarStatus>;
  stop(): Promise<number | null>;
}

/** Starts `ztmesh sidecar` and waits for its "admin listening" line. */
export async function startSidecar(opts: StartSidecarOptions): Promise<TestSidecar> {
  const dir = tempDir('ztmesh-sidecar-');
  const spiffeId = opts.spiffeId ?? WEB_ID;
  const token = opts.token ?? (opts.ca ? await opts.ca.mintToken(spiffeId) : 'no-ca-token');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const bundleFile = join(dir, 'roots.pem');
  writeFileSync(bundleFile, opts.bundlePem ?? opts.ca?.bundlePem ?? '');
  const proc = new CliProcess([
    'sidecar',
    '--trust-domain', opts.trustDomain ?? opts.ca?.trustDomain ?? 'example.org',
    '--ca-address', opts.caAddress ?? opts.ca!.address,
    '--ca-bundle', bundleFile,
    '--token-file', tokenFile,
    '--ttl', opts.ttl ?? '1h',
    '--admin', '127.0.0.1:0',
    '--health', '127.0.0.1:0',
    ...(opts.args ?? []),
  ], opts.env ?? {});
  const line = await Promise.race([
    proc.waitFor(/"msg":"admin listening"/),
    proc.exited.then((code) => { throw new Error(`sidecar exited with ${code}:\n${proc.output()}`); }),
  ]);
  const info = JSON.parse(line) as { admin: string; health: string; metrics?: string };
  const admin = `http://${info.admin}`;
  const health = `http://${info.health}`;
  const get = async (path: string, base = admin) => {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, text: await res.text() };
  };
  const status = async () => JSON.parse((await get('/status')).text) as SidecarStatus;
  return {
    proc, admin, health, dir, token, metrics: info.metrics ? `http://${info.metrics}` : undefined,
    status,
    get,
    async readyz(base = admin) {
      const r = await get('/readyz', base);
      return { status: r.status, body: JSON.parse(r.text) as { ready: boolean; pending: string[] } };
    },
    async rotate() {
      const res = await fetch(`${admin}/rotate`, { method: 'POST' });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    async waitForStatus(pred, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      let last: SidecarStatus | undefined;
      while (Date.now() < until) {
        last = await status();
        if (pred(last)) return last;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`status condition not met within ${timeoutMs} ms; last status:\n${JSON.stringify(last, null, 2)}\nlog:\n${proc.lines.slice(-20).join('\n')}`);
    },
    stop: () => proc.stop(),
  };
}
