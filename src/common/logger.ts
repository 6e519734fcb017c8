// pino logger construction with redaction of secrets.
// One root logger per process (made in the composition root), one child per component.
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/** Field names that may hold secrets; pino replaces their values before they are written. */
export const REDACTED_PATHS = [
  'token', '*.token', 'authorization', '*.authorization', 'key', '*.key', 'keyPem', '*.keyPem',
  'privateKey', '*.privateKey', 'headers.authorization', 'req.headers.authorization',
];

export interface LoggerOptions {
  level?: string;
  name?: string;
  /** Where lines go; stdout by default. Tests pass a stream to capture lines. */
  destination?: DestinationStream;
}

/** Creates the process's root JSON logger. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const options = {
    level: opts.level ?? process.env.ZTMESH_LOG_LEVEL ?? 'info',
    base: opts.name ? { name: opts.name, pid: process.pid } : { pid: process.pid },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options, pino.destination({ sync: false }));
}

/** A logger that drops everything; for unit tests and library callers. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
