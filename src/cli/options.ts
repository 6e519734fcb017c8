// Flags that several commands declare alike: a repeatable flag's accumulator and the CA state directory (--dir),
// so that each reads and is described the same way in every command.
import { Option } from 'commander';

/** Accumulates a repeatable flag into a list (commander's argParser). */
export const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

/** The mandatory `--dir <dir>` of the `ca` commands; `note` says what else the directory may be. */
export function caDirOption(note?: string): Option {
  return new Option('--dir <dir>', `CA state directory${note ? `, ${note}` : ''} (required)`).makeOptionMandatory();
}
