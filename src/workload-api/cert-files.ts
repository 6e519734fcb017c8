// Certificate files for apps that read files (as spiffe-helper keeps them): the SVID chain, its key (0600) and the
// trust bundle as PEM in one directory, each replaced atomically (temp file + rename) whenever the SVID or the bundle
// changes, then `onRotate` runs: a signal to the process in a pid file, or a command.
//
// Invariants: writes are serialised (one rotation's files are all written before the next begins); a file is never
// seen half-written; the key file is never readable by group or others, not even as a temp file; a failed write or
// hook is logged with its file and code, and the next change tries again.
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../common/clock.js';
import { isoTime } from '../common/clock.js';
import { describe } from '../common/errors.js';
import { writeFileAtomic, writeSecretFile } from '../common/files.js';
import type { Logger } from '../common/logger.js';
import type { WorkloadApiStatus } from '../admin/status-types.js';
import { hasValidSvid, type IdentitySource, type Svid, type TrustBundle } from '../identity/credentials.js';

/** How long an onRotate command may run before it is killed. */
export const ON_ROTATE_TIMEOUT_MS = 30_000;

/** What runs after the files changed. */
export type OnRotate = { signal: NodeJS.Signals; pidFile: string } | { command: readonly string[] };

export interface CertFilesConfig {
  dir: string;
  certFile: string;
  keyFile: string;
  bundleFile: string;
  onRotate?: OnRotate;
}

/** What /status shows of the files (admin/status-types.ts). */
export type CertFilesStatus = NonNullable<WorkloadApiStatus['files']>;

/** Keeps the PEM files of one identity current. */
export class CertFiles {
  private written: { svid: Svid; bundle: TrustBundle } | undefined;
  private queue: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;
  private readonly st: CertFilesStatus;

  constructor(private readonly config: CertFilesConfig, private readonly opts: { identity: IdentitySource; clock: Clock; log: Logger }) {
    const file = (f: string) => path.resolve(config.dir, f);
    this.st = {
      dir: path.resolve(config.dir), files: { cert: file(config.certFile), key: file(config.keyFile), bundle: file(config.bundleFile) },
      writes: 0, lastWrite: null, serial: null, lastError: null,
      onRotate: config.onRotate ? { kind: 'signal' in config.onRotate ? 'signal' : 'command', runs: 0, lastResult: null } : null,
    };
  }

  /** Writes the files for the current SVID (if any) and on every change. */
  start(): void {
    this.unsubscribe = this.opts.identity.subscribe((snap) => {
      if (!snap.svid || !snap.bundle || !hasValidSvid(snap, this.opts.clock.now())) return;
      const { svid, bundle } = snap;
      if (this.written?.svid === svid && this.written.bundle === bundle) return;
      this.written = { svid, bundle };
      this.queue = this.queue.then(() => this.write(svid, bundle));
    });
  }

  /** Stops following the identity; resolves once a write in progress is done. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.queue;
  }

  status(): CertFilesStatus {
    return { ...this.st, files: { ...this.st.files }, onRotate: this.st.onRotate ? { ...this.st.onRotate } : null };
  }

  private async write(svid: Svid, bundle: TrustBundle): Promise<void> {
    const { files } = this.st;
    let current = '';
    try {
      current = this.st.dir;
      await fs.mkdir(this.st.dir, { recursive: true, mode: 0o755 });
      // The key first: an app that reloads on the new certificate finds its key already there.
      current = files.key;
      await writeSecretFile(files.key, svid.keyPem);
      current = files.cert;
      await writeFileAtomic(files.cert, svid.chainPem);
      current = files.bundle;
      await writeFileAtomic(files.bundle, bundle.rootsPem);
    } catch (e) {
      const { code, message } = describe(e);
      this.st.lastError = { code, message, at: isoTime(this.opts.clock.now()) };
      this.opts.log.error({ file: current, code, err: message }, 'certificate files not written; retrying on the next rotation');
      return;
    }
    this.st.writes++;
    this.st.lastWrite = isoTime(this.opts.clock.now());
    this.st.serial = svid.serialHex;
    this.st.lastError = null;
    this.opts.log.info({ dir: this.st.dir, serial: svid.serialHex, bundleSequence: bundle.sequence }, 'certificate files written');
    if (this.config.onRotate) await this.runHook(this.config.onRotate);
  }

  private async runHook(hook: OnRotate): Promise<void> {
    const record = (result: string, ok: boolean) => {
      this.st.onRotate!.runs++;
      this.st.onRotate!.lastResult = result;
      if (ok) this.opts.log.info({ onRotate: result }, 'onRotate ran');
      else this.opts.log.warn({ code: 'on_rotate_failed', onRotate: result }, 'onRotate failed');
    };
    if ('signal' in hook) {
      try {
        const text = (await fs.readFile(hook.pidFile, 'utf8')).trim();
        if (!/^\d+$/.test(text) || Number(text) <= 1) throw new Error(`${hook.pidFile} holds "${text.slice(0, 20)}", not a process id`);
        process.kill(Number(text), hook.signal);
        record(`${hook.signal} sent to ${text}`, true);
      } catch (e) {
        record(`${hook.signal} not sent: ${describe(e).message}`, false);
      }
      return;
    }
    const [cmd, ...args] = hook.command;
    const result = await new Promise<string>((resolve) => {
      const child = spawn(cmd!, args, { stdio: 'ignore', timeout: ON_ROTATE_TIMEOUT_MS, killSignal: 'SIGKILL' });
      child.once('error', (e) => resolve(`${cmd} did not start: ${describe(e).code}`));
      child.once('exit', (code, signal) => resolve(signal ? `${cmd} killed by ${signal}` : `${cmd} exited ${code}`));
    });
    record(result, result.endsWith(' exited 0'));
  }
}
