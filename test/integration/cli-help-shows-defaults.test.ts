// Every option in every command's --help says its default (or that it is required), so nobody has to read the
// source or the docs to learn what happens when a flag is left out.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const COMMANDS = ['ca init', 'ca serve', 'ca token create', 'ca root prepare', 'ca root activate', 'ca root retire', 'ca root status', 'ca audit verify', 'sidecar', 'status', 'iptables', 'inject', 'webhook', 'demo', 'connect'];

/** The option entries of a --help text, with wrapped description lines joined. */
function optionEntries(help: string): string[] {
  const lines = help.split('\n');
  const start = lines.findIndex((l) => l.trim() === 'Options:');
  const entries: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^\s{2}-/.test(line)) entries.push(line.trim());
    else if (/^\s{4,}\S/.test(line) && entries.length) entries[entries.length - 1] += ` ${line.trim()}`;
    else if (line.trim() === '' || !/^\s/.test(line)) break;
  }
  return entries.filter((e) => !e.startsWith('-h, --help'));
}

describe('--help shows defaults', () => {
  it.each(COMMANDS)('ztmesh %s --help', async (command) => {
    const r = await runCli([...command.split(' '), '--help']);
    expect(r.code).toBe(0);
    const entries = optionEntries(r.stdout);
    if (command !== 'connect') expect(entries.length).toBeGreaterThan(0);
    const missing = entries.filter((e) => !/\(default|\(required|default:/.test(e));
    expect(missing).toEqual([]);
  });
});
