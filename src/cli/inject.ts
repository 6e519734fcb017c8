// `ztmesh inject`: reads Kubernetes manifests (a file or stdin) and writes them with the sidecar injected.
// Notes about each object go to stderr so stdout can be piped into `kubectl apply -f -`.
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { ConfigError } from '../common/errors.js';
import { validateTrustDomain } from '../pki/spiffe-id.js';
import { injectManifests } from '../k8s/inject-manifest.js';
import { DEFAULT_INJECT_OPTIONS, type InjectMode, type InjectOptions } from '../k8s/inject.js';

async function readInput(file: string): Promise<string> {
  if (file !== '-') return readFile(file, 'utf8');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Injection options shared by `inject` and `webhook`. */
export function addInjectOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--mode <mode>', 'transparent (iptables init container) or explicit').choices(['transparent', 'explicit']).default(DEFAULT_INJECT_OPTIONS.mode))
    .option('--legacy-sidecar', 'a regular container instead of a native sidecar (clusters older than 1.29)', false)
    .option('--image <image>', 'the ztmesh image for the sidecar and init container', DEFAULT_INJECT_OPTIONS.image)
    .option('--ca-address <host:port>', 'the CA the sidecars use', DEFAULT_INJECT_OPTIONS.caAddress)
    .option('--trust-domain <td>', 'the trust domain', DEFAULT_INJECT_OPTIONS.trustDomain);
}

/** Builds InjectOptions from parsed flags. */
export function injectOptionsFrom(opts: Record<string, unknown>): InjectOptions {
  return Object.freeze({
    mode: opts.mode as InjectMode,
    legacySidecar: opts.legacySidecar === true,
    image: String(opts.image),
    caAddress: String(opts.caAddress),
    trustDomain: validateTrustDomain(String(opts.trustDomain)),
  });
}

/** Registers the `inject` command. */
export function register(program: Command): void {
  const cmd = program
    .command('inject')
    .description('inject the ztmesh sidecar into Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob and List manifests')
    .option('-f, --filename <file>', 'manifest file, or - for stdin', '-');
  addInjectOptions(cmd).action(async (opts: Record<string, unknown>) => {
    const source = await readInput(String(opts.filename));
    let result;
    try {
      result = injectManifests(source, injectOptionsFrom(opts));
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(e.code, `${String(opts.filename)}: ${e.message}`, { cause: e });
      throw e;
    }
    for (const n of result.notes) process.stderr.write(`ztmesh inject: ${n.kind}/${n.name}: ${n.outcome}\n`);
    process.stdout.write(result.output);
  });
}
