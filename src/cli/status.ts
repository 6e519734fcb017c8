// `ztmesh status`: placeholder until its issue lands.
import type { Command } from 'commander';

/** Registers the `status` command. */
export function register(program: Command): void {
  program.command('status').description('(not implemented yet)').action(() => {
    throw new Error('ztmesh status is not implemented yet');
  });
}
