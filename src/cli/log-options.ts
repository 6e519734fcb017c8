// The --log-format option of the commands that log (ca serve, webhook; the sidecar has it as a config key),
// and the root logger built from it: JSON for collectors, text for a person at a terminal.
import { Option, type Command } from 'commander';
import { createLogger, LOG_FORMAT_DEFAULT_TEXT, LOG_FORMAT_ENV, resolveLogFormat, type Logger } from '../common/logger.js';

/** Adds `--log-format json|text` (env ZTMESH_LOG_FORMAT) to `cmd`. */
export function addLogFormatOption(cmd: Command): Command {
  return cmd.addOption(new Option('--log-format <format>', `json or text (default: ${LOG_FORMAT_DEFAULT_TEXT}) [${LOG_FORMAT_ENV}]`));
}

/** The command's root logger, in the format the flag, the environment or the terminal asks for. */
export function commandLogger(name: string, flags: { logFormat?: unknown }): Logger {
  const flag = typeof flags.logFormat === 'string' ? flags.logFormat : undefined;
  return createLogger({ name, format: resolveLogFormat(flag, process.env, process.stdout.isTTY) });
}
