// `ztmesh webhook`: placeholder until its issue lands.
import type { Command } from 'commander';

/** Registers the `webhook` command. */
export function register(program: Command): void {
  program.command('webhook').description('(not implemented yet)').action(() => {
    throw new Error('ztmesh webhook is not implemented yet');
  });
}
