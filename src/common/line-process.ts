// A long-running child process whose stdout and stderr are collected line by line, for code that waits on what a
// real process logs: the demo's CA and sidecars, and the tests' processes (test/helpers/line-process.ts).
import { spawn, type ChildProcess } from 'node:child_process';

export interface LineProcessOptions {
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Also writes every byte of stdout and stderr here (a log file); ended when the process is gone. */
  tee?: NodeJS.WritableStream;
  /** Keeps only the last this many lines (a process that runs for hours); default all. */
  keepLines?: number;
  /** Starts error messages, e.g. "ca". */
  name?: string;
}

/** A long-running process whose stdout/stderr lines are collected. */
export class LineProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  /** Resolves with the exit code once the process is gone and its output read to the end. */
  readonly exited: Promise<number | null>;
  private waiters: { re: RegExp; resolve: (line: string) => void }[] = [];
  private readonly prefix: string;

  constructor(argv: string[], opts: LineProcessOptions = {}) {
    this.prefix = opts.name ? `${opts.name}: ` : '';
    this.child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let buf = '';
      stream.on('data', (d: Buffer) => {
        opts.tee?.write(d);
        buf += d.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          this.lines.push(line);
          if (opts.keepLines !== undefined && this.lines.length > opts.keepLines) this.lines.shift();
          this.waiters = this.waiters.filter((w) => (w.re.test(line) ? (w.resolve(line), false) : true));
        }
      });
    }
    // 'close', not 'exit': it fires only after stdout and stderr are drained, so no last line is lost.
    this.exited = new Promise((resolve) => this.child.on('close', (code) => {
      opts.tee?.end();
      resolve(code);
    }));
  }

  /** Resolves with the first line (past or future) matching re; rejects after timeoutMs or when the process exits. */
  waitFor(re: RegExp, timeoutMs = 20_000): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.prefix}timed out waiting for ${re}; output:\n${this.lines.slice(-30).join('\n')}`)), timeoutMs);
      void this.exited.then((code) => { clearTimeout(t); reject(new Error(`${this.prefix}exited (${code}) before ${re}; output:\n${this.lines.slice(-30).join('\n')}`)); });
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

  /** Sends `signal` (unless the process is gone), then SIGKILL after `killAfterMs`; resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 5_000): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), killAfterMs);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}
