// `ztmesh inject`: placeholder until its issue lands.
import type { Command } from 'commander';

/** Registers the `inject` command. */
export function register(program: Command): void {
  program.command('inject').description('(not implemented yet)').action(() => {
    throw new Error('ztmesh inject is not implemented yet');
  });
}
