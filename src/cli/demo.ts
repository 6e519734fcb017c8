// `ztmesh demo`: placeholder until its issue lands.
import type { Command } from 'commander';

/** Registers the `demo` command. */
export function register(program: Command): void {
  program.command('demo').description('(not implemented yet)').action(() => {
    throw new Error('ztmesh demo is not implemented yet');
  });
}
