// `ztmesh ca`: placeholder until its issue lands.
import type { Command } from 'commander';

/** Registers the `ca` command. */
export function register(program: Command): void {
  program.command('ca').description('(not implemented yet)').action(() => {
    throw new Error('ztmesh ca is not implemented yet');
  });
}
