// `ztmesh sidecar`: placeholder until its issue lands.
import type { Command } from 'commander';

/** Registers the `sidecar` command. */
export function register(program: Command): void {
  program.command('sidecar').description('(not implemented yet)').action(() => {
    throw new Error('ztmesh sidecar is not implemented yet');
  });
}
