// `ca serve --policy-dir DIR`: AuthorizationPolicies from the *.yaml, *.yml and *.json files of one directory (not its
// subdirectories), read at start and again whenever one of them changes, appears or goes away (ca/dir-watch.ts).
// Each read builds every file's state, then replaces the store's file sources at once; a file that cannot be read
// keeps what it held (policy-store.ts).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../../common/clock.js';
import { ConfigError, describe } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { POLICY_LIMITS } from '../../policy/model.js';
import { parsePolicyText, type ParsedFile } from '../../policy/parse.js';
import { DirWatch, listNames } from '../dir-watch.js';
import type { PolicyWriter, SourceUpdate } from './policy-store.js';

/** The files of a policy directory. */
export const isPolicyFile = (name: string): boolean => /\.(ya?ml|json)$/i.test(name);

/** Reads one policy file; an unreadable one is a problem of that file, never a throw. */
export async function readPolicyFile(file: string): Promise<ParsedFile> {
  const unreadable = (message: string): ParsedFile => ({ policies: [], refusedKeys: [], unreadable: true, problems: [{ source: file, object: '-', field: '(file)', message }] });
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) return unreadable('is not a regular file');
    if (st.size > POLICY_LIMITS.maxFileBytes) return unreadable(`is larger than ${POLICY_LIMITS.maxFileBytes} bytes`);
    return parsePolicyText(await fs.readFile(file, 'utf8'), file, /\.json$/i.test(file) ? 'json' : 'yaml');
  } catch (e) {
    return unreadable(`cannot be read: ${describe(e).code}`);
  }
}

/** Every policy file of `dir`, read; throws when the directory itself cannot be listed. */
export async function readPolicyDir(dir: string): Promise<Map<string, ParsedFile>> {
  const out = new Map<string, ParsedFile>();
  for (const name of await listNames(dir, isPolicyFile)) {
    const file = path.join(dir, name);
    out.set(file, await readPolicyFile(file));
  }
  return out;
}

/** Refuses a --policy-dir that is not a readable directory (ConfigError naming the flag), before the CA starts anything. */
export async function assertPolicyDir(dir: string): Promise<void> {
  try {
    await listNames(dir, isPolicyFile);
  } catch (e) {
    const { code, message } = describe(e);
    throw new ConfigError('invalid_flag', `--policy-dir "${dir}": ${code === 'ENOENT' ? 'no such directory' : code === 'ENOTDIR' ? 'not a directory' : message}`);
  }
}

export interface PolicyDirOptions {
  dir: string;
  writer: PolicyWriter;
  clock: Clock;
  log: Logger;
  pollMs?: number;
}

/** The --policy-dir loader. */
export class PolicyDir {
  private readonly watch: DirWatch<Map<string, ParsedFile>>;
  private held = new Set<string>();

  constructor(private readonly opts: PolicyDirOptions) {
    this.watch = new DirWatch({
      dir: opts.dir, names: isPolicyFile, clock: opts.clock, log: opts.log, pollMs: opts.pollMs,
      read: () => readPolicyDir(opts.dir),
      apply: (files) => this.apply(files),
      refused: { message: 'policy directory unreadable; keeping the policies in force', fields: { dir: opts.dir } },
    });
  }

  /** Reads the directory (ConfigError when it cannot be listed: start-up stops), then follows its changes. */
  async start(): Promise<void> {
    await assertPolicyDir(this.opts.dir);
    this.apply(await readPolicyDir(this.opts.dir));
    await this.watch.start();
  }

  /** Reads the directory again now (tests; a SIGHUP would call it). */
  reload(): Promise<void> {
    return this.watch.reload();
  }

  close(): void {
    this.watch.close();
  }

  private apply(files: Map<string, ParsedFile>): void {
    const updates = new Map<string, SourceUpdate | undefined>();
    for (const [file, parsed] of files) updates.set(file, { source: file, parsed });
    for (const file of this.held) if (!files.has(file)) updates.set(file, undefined);
    this.held = new Set(files.keys());
    this.opts.writer.replaceSources(updates);
    const policies = [...files.values()].reduce((n, f) => n + f.policies.length, 0);
    this.opts.log.info({ dir: this.opts.dir, files: files.size, policies }, 'policy directory read');
  }
}
