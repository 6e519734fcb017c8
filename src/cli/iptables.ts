// `ztmesh iptables`: placeholder until its issue lands.
import type { Command } from 'commander';

/** Registers the `iptables` command. */
export function register(program: Command): void {
  program.command('iptables').description('(not implemented yet)').action(() => {
    throw new Error('ztmesh iptables is not implemented yet');
  });
}
