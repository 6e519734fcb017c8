// Runs the built ztmesh CLI (bin/ztmesh.js → dist/) as real child processes.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LineProcess } from './line-process.js';

export const BIN = fileURLToPath(new URL('../../bin/ztmesh.js', import.meta.url));

export interface CliResult { code: number | null; stdout: string; stderr: string }

/** Runs `ztmesh ...args` to completion. */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`ztmesh ${args.join(' ')} timed out\n${stderr}`)); }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    child.stdin.end(opts.input ?? '');
  });
}

/** A long-running ztmesh process whose output is collected line by line. */
export class CliProcess extends LineProcess {
  /** `wrap` runs ztmesh under another command that execs it, e.g. ['prlimit', '--nofile=600:600']. */
  constructor(args: string[], env: NodeJS.ProcessEnv = {}, wrap: string[] = []) {
    super([...wrap, process.execPath, BIN, ...args], env);
  }
}
