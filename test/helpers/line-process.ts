// A long-running child process whose stdout and stderr are collected line by line, for tests that wait
// on what a real process logs. cli.ts (the ztmesh CLI) and netns.ts (processes in namespaces) build on it.
import { spawn, type ChildProcess } from 'node:child_process';

/** A long-running process whose stdout/stderr lines are collected. */
export class LineProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private waiters: { re: RegExp; resolve: (line: string) => void }[] = [];

  constructor(argv: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let buf = '';
      stream.on('data', (d: Buffer) => {
        buf += d.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          this.lines.push(line);
          this.waiters = this.waiters.filter((w) => (w.re.test(line) ? (w.resolve(line), false) : true));
        }
      });
    }
    // 'close', not 'exit': it fires only after stdout and stderr are drained, so no last line is lost.
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
  }

  /** Resolves with the first line (past or future) matching re; rejects after timeoutMs or when the process exits. */
  waitFor(re: RegExp, timeoutMs = 20_000): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output:\n${this.lines.slice(-30).join('\n')}`)), timeoutMs);
      void this.exited.then((code) => { clearTimeout(t); reject(new Error(`exited (${code}) before ${re}; output:\n${this.lines.slice(-30).join('\n')}`)); });
      this.waiters.push({ re, resolve: (l) => { clearTimeout(t); resolve(l); } });
    });
  }

  /** The JSON log lines. */
  json(): Record<string, unknown>[] {
    return this.lines.flatMap((l) => { try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; } });
  }

  output(): string {
    return this.lines.join('\n');
  }

  /** SIGTERM, then SIGKILL after 5 s. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}
