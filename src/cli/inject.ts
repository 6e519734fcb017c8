// `ztmesh inject`: reads Kubernetes manifests (files, directories or stdin) and writes them with the sidecar injected,
// in the format they came in (JSON or YAML), as `kubectl` does. One note per object goes to stderr, so stdout can
// be piped into `kubectl apply -f -`.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { ConfigError } from '../common/errors.js';
import { validateTrustDomain } from '../pki/spiffe-id.js';
import { injectSources, uninjectSources, type InjectNote, type ManifestSource } from '../k8s/inject-manifest.js';
import { DEFAULT_INJECT_OPTIONS, type InjectMode, type InjectOptions } from '../k8s/inject.js';
import { collect } from './options.js';

/** File names read from a directory, as kubectl does. */
const MANIFEST_FILE = /\.(ya?ml|json)$/i;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The manifest files in `dir` (sorted by name; subdirectories too with `recursive`). */
async function manifestFiles(dir: string, recursive: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) { if (recursive) out.push(...(await manifestFiles(p, recursive))); }
    else if (MANIFEST_FILE.test(e.name)) out.push(p);
  }
  return out;
}

/** Reads every -f argument: `-` is stdin (once), a directory gives its manifest files, anything else is a file. */
export async function readSources(names: readonly string[], recursive: boolean): Promise<ManifestSource[]> {
  const sources: ManifestSource[] = [];
  let stdinRead = false;
  for (const name of names) {
    if (name === '-') {
      if (stdinRead) throw new ConfigError('invalid_flag', '-f -: stdin can be read only once');
      stdinRead = true;
      sources.push({ name: 'stdin', text: await readStdin() });
      continue;
    }
    const st = await stat(name).catch((e: NodeJS.ErrnoException) => {
      throw new ConfigError('manifest_unreadable', `-f ${name}: ${e.code === 'ENOENT' ? 'no such file or directory' : (e.code ?? e.message)}`);
    });
    if (st.isDirectory()) {
      const files = await manifestFiles(name, recursive);
      if (files.length === 0) throw new ConfigError('manifest_unreadable', `-f ${name}: the directory holds no .yaml, .yml or .json file`);
      for (const f of files) sources.push({ name: f, text: await readFile(f, 'utf8') });
    } else {
      sources.push({ name, text: await readFile(name, 'utf8') });
    }
  }
  return sources;
}


/**
 * Injection options shared by `inject` and `webhook`; `image` describes the --image default (the webhook's is its
 * own image, so it has none here).
 */
export function addInjectOptions(cmd: Command, image: { default?: string; help?: string } = { default: DEFAULT_INJECT_OPTIONS.image }): Command {
  return cmd
    .addOption(new Option('--mode <mode>', 'transparent (iptables init container) or explicit').choices(['transparent', 'explicit']).default(DEFAULT_INJECT_OPTIONS.mode))
    .option('--legacy-sidecar', 'a regular container instead of a native sidecar (clusters older than 1.29) (default: off)')
    .option('--image <image>', `the ztmesh image for the sidecar and init container${image.help ?? ''}`, image.default)
    .option('--ca-address <host:port>', 'the CA the sidecars use', DEFAULT_INJECT_OPTIONS.caAddress)
    .option('--trust-domain <td>', 'the trust domain', DEFAULT_INJECT_OPTIONS.trustDomain);
}

/** Builds InjectOptions from parsed flags. */
export function injectOptionsFrom(opts: Record<string, unknown>): InjectOptions {
  return Object.freeze({
    mode: opts.mode as InjectMode,
    legacySidecar: opts.legacySidecar === true,
    image: String(opts.image ?? DEFAULT_INJECT_OPTIONS.image),
    caAddress: String(opts.caAddress),
    trustDomain: validateTrustDomain(String(opts.trustDomain)),
  });
}

/** The -f and -R options `inject` and `uninject` share. */
function addInputOptions(cmd: Command): Command {
  return cmd
    .option('-f, --filename <path>', 'a manifest file, a directory of them, or - for stdin (repeatable) (default: -)', collect)
    .option('-R, --recursive', 'also read the subdirectories of a -f directory (default: off)');
}

/** One stderr line per object looked at, one per warning: stdout stays the manifests. */
function writeNotes(command: string, notes: readonly InjectNote[]): void {
  for (const n of notes) {
    process.stderr.write(`ztmesh ${command}: ${n.kind}/${n.name}: ${n.outcome}\n`);
    for (const w of n.warnings ?? []) process.stderr.write(`ztmesh ${command}: warning: ${n.kind}/${n.name}: ${w}\n`);
  }
}

/** Registers the `inject` and `uninject` commands. */
export function register(program: Command): void {
  const cmd = addInputOptions(program
    .command('inject')
    .description('inject the ztmesh sidecar into Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob '
      + 'and List manifests; JSON in gives JSON out, YAML in gives YAML out; other kinds pass through unchanged; '
      + 'an injected workload is upgraded to this version and these options (keeping its mode)'));
  addInjectOptions(cmd).action(async (opts: Record<string, unknown>) => {
    const sources = await readSources((opts.filename as string[] | undefined) ?? ['-'], opts.recursive === true);
    const result = injectSources(sources, injectOptionsFrom(opts));
    writeNotes('inject', result.notes);
    process.stdout.write(result.output);
  });
  addInputOptions(program
    .command('uninject')
    .description('remove everything `ztmesh inject` (or the webhook) added to the manifests: containers, volumes, label, annotations, '
      + 'and the app\'s probes and prometheus.io annotations as they were'))
    .action(async (opts: Record<string, unknown>) => {
      const sources = await readSources((opts.filename as string[] | undefined) ?? ['-'], opts.recursive === true);
      const result = uninjectSources(sources);
      writeNotes('uninject', result.notes);
      process.stdout.write(result.output);
    });
}
