// The ztmesh CLI: parses arguments and dispatches to one file per command.
// Nothing imports cli/; each command's file holds its composition root or calls one.
import { Command } from 'commander';

type Registrar = { register(program: Command): void };

/**
 * Each command's module, loaded only when that command runs: a sidecar then never loads the CA, the
 * webhook or the injector (about 10 MB of RSS per sidecar). Help and unknown commands load them all.
 */
const COMMANDS: Record<string, () => Promise<Registrar>> = {
  ca: () => import('./ca.js'),
  sidecar: () => import('./sidecar.js'),
  status: () => import('./status.js'),
  iptables: () => import('./iptables.js'),
  inject: () => import('./inject.js'),
  webhook: () => import('./webhook.js'),
  demo: () => import('./demo.js'),
};

/** Builds the command tree with every command, or only `only` when given. */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command('ztmesh')
    .description('Zero Trust service mesh: SPIFFE identities, mTLS sidecars, transparent interception')
    .version('0.1.0')
    .showHelpAfterError();
  const names = only && only in COMMANDS ? [only] : Object.keys(COMMANDS);
  for (const name of names) (await COMMANDS[name]!()).register(program);
  return program;
}

/** Runs the CLI with process.argv-style arguments. */
export async function main(argv: string[]): Promise<void> {
  await (await buildProgram(argv[2])).parseAsync(argv);
}
