// The ztmesh CLI: parses arguments and dispatches to one file per command.
// Nothing imports cli/; each command's file holds its composition root or calls one.
import { Command, CommanderError } from 'commander';
import { ZTMESH_VERSION } from '../common/version.js';
import { fatalExitCode, fatalLine } from './fatal-line.js';

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
  uninject: () => import('./inject.js'),
  check: () => import('./check.js'),
  webhook: () => import('./webhook.js'),
  demo: () => import('./demo.js'),
  connect: () => import('./connect.js'),
  policy: () => import('./policy.js'),
};

/** Builds the command tree with every command, or only `only` when given. */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command('ztmesh')
    .description('Zero Trust service mesh: SPIFFE identities, mTLS sidecars, transparent interception')
    .version(ZTMESH_VERSION)
    .showHelpAfterError();
  const names = only && only in COMMANDS ? [only] : Object.keys(COMMANDS);
  // One module may register several commands (inject and uninject): register each module once.
  for (const registrar of new Set(await Promise.all(names.map((n) => COMMANDS[n]!())))) registrar.register(program);
  return program;
}

/** "ca serve" for `ztmesh ca serve`: the command path below the program. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Runs the CLI with process.argv-style arguments. An error thrown by a command becomes one plain stderr line
 * naming the command (fatal-line.ts) and exit code 1, whatever the command.
 */
export async function main(argv: string[]): Promise<void> {
  const program = await buildProgram(argv[2]);
  let running = '';
  program.hook('preAction', (_program, action) => { running = commandPath(action); });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) throw err;
    process.stderr.write(fatalLine(running, err));
    process.exitCode = fatalExitCode(err);
  }
}
