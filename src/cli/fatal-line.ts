// The one plain stderr line every command prints when it cannot start or run, in the same style for all of them:
// "ztmesh <command>: <what went wrong> (<stable code>)". Logging commands also log the error; this line is for people.
import { ZtmeshError } from '../common/errors.js';

/** Formats `err` as the fatal line of `command` (e.g. "ca serve"). */
export function fatalLine(command: string, err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim() || 'failed';
  const code = err instanceof ZtmeshError ? ` (${err.code})` : '';
  return `ztmesh${command ? ` ${command}` : ''}: ${message}${code}\n`;
}

/** The exit code for a fatal error: an error's own `exitCode` when it has one, else 1. */
export function fatalExitCode(err: unknown): number {
  const code = (err as { exitCode?: unknown } | null)?.exitCode;
  return typeof code === 'number' && code > 0 ? code : 1;
}
