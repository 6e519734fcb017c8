// `ztmesh ca audit verify FILE…`: checks the hash chain of an issuance log (`ca serve --audit-log`).
// Exit 0 when intact; otherwise one line naming the first line altered, removed or reordered, and exit 1.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { AuditLogError, ConfigError } from '../common/errors.js';
import { verifyAuditLog } from '../ca/audit/audit-chain.js';

/** Registers `ca audit verify` under the `ca` command. */
export function registerAudit(ca: Command): void {
  const audit = ca.command('audit').description('the issuance log (ca serve --audit-log)');
  audit.command('verify')
    .description('check that no line of the log was altered, removed or reordered (give a rotated FILE.1 before FILE)')
    .argument('<file...>', 'the log file(s), oldest first')
    .option('--head <sha256>', 'the last auditHash the CA wrote to stdout (every record has one): also protects the last line (default: none)')
    .action(async (files: string[], opts: { head?: string }) => {
      const parts = await Promise.all(files.map(async (name) => ({
        name,
        text: await readFile(name, 'utf8').catch((e: NodeJS.ErrnoException) => {
          throw new ConfigError('audit_log_unreadable', `${name}: cannot read (${e.code ?? e.message})`);
        }),
      })));
      const v = verifyAuditLog(parts, opts.head ? { head: opts.head } : {});
      if (!v.ok) throw new AuditLogError(`audit_line_${v.problem}`, v.message);
      const note = v.continues ? ` (it continues an earlier file: give it first, e.g. ${files[0]}.1 ${files[0]})` : '';
      process.stdout.write(`${files.join(' ')}: ${v.lines} line(s), chain intact${note}; head sha256 ${v.head}\n`);
    });
}
