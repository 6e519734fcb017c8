// Flags that several commands declare alike: a repeatable flag's accumulator and the CA state directory (--dir),
// so that each reads and is described the same way in every command.
import { Option, type Command } from 'commander';

/** Accumulates a repeatable flag into a list (commander's argParser). */
export const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

/** The mandatory `--dir <dir>` of the `ca` commands; `note` says what else the directory may be. */
function caDirOption(note?: string): Option {
  return new Option('--dir <dir>', `CA state directory${note ? `, ${note}` : ''} (required)`).makeOptionMandatory();
}

/** Declares `parent name`, a command that works on a CA state directory: its description and its `--dir`. */
export function caDirCommand(parent: Command, name: string, description: string, note?: string): Command {
  return parent.command(name).description(description).addOption(caDirOption(note));
}
