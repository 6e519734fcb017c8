// The ztmesh CLI: parses arguments and dispatches to one file per command.
// Nothing imports cli/; each command's file holds its composition root or calls one.
import { Command } from 'commander';
import { register as registerCa } from './ca.js';
import { register as registerSidecar } from './sidecar.js';
import { register as registerStatus } from './status.js';
import { register as registerIptables } from './iptables.js';
import { register as registerInject } from './inject.js';
import { register as registerWebhook } from './webhook.js';
import { register as registerDemo } from './demo.js';

/** Builds the command tree; exported for tests of argument parsing. */
export function buildProgram(): Command {
  const program = new Command('ztmesh')
    .description('Zero Trust service mesh: SPIFFE identities, mTLS sidecars, transparent interception')
    .version('0.1.0')
    .showHelpAfterError();
  for (const register of [registerCa, registerSidecar, registerStatus, registerIptables, registerInject, registerWebhook, registerDemo]) {
    register(program);
  }
  return program;
}

/** Runs the CLI with process.argv-style arguments. */
export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
