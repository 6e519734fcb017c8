// pino logger construction with redaction of secrets, as JSON lines or as text for a person (pino-pretty).
// One root logger per process (made in the composition root), one child per component.
import { createRequire } from 'node:module';
import { pino, type Logger, type DestinationStream } from 'pino';
import type { prettyFactory as PrettyFactory } from 'pino-pretty';
import { ConfigError } from './errors.js';

/**
 * pino-pretty, loaded only by a process that logs text: about 10 MB of RSS that a sidecar logging JSON (in a pod, or
 * under a supervisor) never needs.
 */
function loadPrettyFactory(): typeof PrettyFactory {
  return (createRequire(import.meta.url)('pino-pretty') as { prettyFactory: typeof PrettyFactory }).prettyFactory;
}

export type { Logger } from 'pino';

/** Field names that may hold secrets; pino replaces their values before they are written. */
export const REDACTED_PATHS = [
  'token', '*.token', 'authorization', '*.authorization', 'key', '*.key', 'keyPem', '*.keyPem',
  'privateKey', '*.privateKey', 'headers.authorization', 'req.headers.authorization',
];

/** `json`: one JSON object per line (log collectors); `text`: one readable line per entry (a person at a terminal). */
export type LogFormat = 'json' | 'text';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'text'];
/** The environment variable every logging command reads when its flag is absent. */
export const LOG_FORMAT_ENV = 'ZTMESH_LOG_FORMAT';
/** What `--help` says about the default. */
export const LOG_FORMAT_DEFAULT_TEXT = 'text on a terminal, json otherwise';

/**
 * The format to log in: the flag, else $ZTMESH_LOG_FORMAT, else text when stdout is a terminal and JSON otherwise
 * (pipes, files, containers). Throws ConfigError naming the source of a bad value.
 */
export function resolveLogFormat(flag: string | undefined, env: NodeJS.ProcessEnv, isTTY: boolean | undefined): LogFormat {
  const [value, source] = flag !== undefined ? [flag, '--log-format'] : env[LOG_FORMAT_ENV] ? [env[LOG_FORMAT_ENV], LOG_FORMAT_ENV] : [undefined, ''];
  if (value === undefined) return isTTY ? 'text' : 'json';
  const v = value.trim().toLowerCase();
  if (!(LOG_FORMATS as readonly string[]).includes(v)) throw new ConfigError('invalid_flag', `${source} "${value}": must be json or text`);
  return v as LogFormat;
}

export interface LoggerOptions {
  level?: string;
  name?: string;
  /** json (default) or text. */
  format?: LogFormat;
  /** Where lines go; stdout by default. Tests pass a stream to capture lines. */
  destination?: DestinationStream;
}

/** Creates the process's root logger. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const options = {
    level: opts.level ?? process.env.ZTMESH_LOG_LEVEL ?? 'info',
    base: opts.name ? { name: opts.name, pid: process.pid } : { pid: process.pid },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (opts.format === 'text') {
    // pino-pretty's formatter over our own line sink: its stream variant would treat `err` (a message string in
    // ztmesh's lines) as an Error and print it on a second line. Redaction runs before, so no secret reaches it.
    const prettify = loadPrettyFactory()({
      colorize: !opts.destination && process.stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,name',
      singleLine: true,
      errorLikeObjectKeys: [],
    });
    const out = opts.destination ?? pino.destination({ sync: true });
    return pino(options, { write: (line: string) => void out.write(prettify(line)) });
  }
  return opts.destination ? pino(options, opts.destination) : pino(options, pino.destination({ sync: false }));
}

/** A logger that drops everything; for unit tests and library callers. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
