// Interop helper: the clients we did not write (go-spiffe v2, py-spiffe, spire-agent's CLI), built once per content
// of their pinned inputs by test/interop/prepare.sh (which .ci/run also runs), and run as real processes.
//
//   const go = await interopTool('go');                               // path of the go-spiffe client binary
//   const r = await runTool([go, 'jwt', '-aud', 'db'], { SPIFFE_ENDPOINT_SOCKET: wl.endpoint });
//   r.json[0].spiffeId;                                                // each stdout line parsed as JSON
//   const server = new LineProcess([go, 'serve', ...], { env });      // long-running ones (test/helpers/line-process.ts)
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PREPARE = fileURLToPath(new URL('../interop/prepare.sh', import.meta.url));
/** The Python client script (run with the venv's python). */
export const PYTHON_CLIENT = fileURLToPath(new URL('../interop/python/client.py', import.meta.url));

/** How long a first build may take: spire-agent compiles for minutes on a cold cache (.ci/run builds it first). */
export const BUILD_TIMEOUT_MS = 15 * 60_000;

/** Builds (if needed) and returns the path of an interop tool; rejects with the build's output when it fails. */
export function interopTool(kind: 'go' | 'spire' | 'python'): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [PREPARE, kind], { timeout: BUILD_TIMEOUT_MS, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`test/interop/prepare.sh ${kind} failed: ${err.message}\n${stderr.slice(-4000)}`));
      else resolve(stdout.trim().split('\n').at(-1)!);
    });
  });
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Each stdout line that is a JSON object. */
  json: Record<string, unknown>[];
}

/** Runs `argv` to completion (never longer than `timeoutMs`) with `env` added. */
export function runTool(argv: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 40_000): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      const json = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, stdout, stderr, json });
    });
  });
}
