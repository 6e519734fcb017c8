// A real pino logger whose JSON lines a unit test can read (what would have reached stdout).
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/common/logger.js';

/** A logger that keeps every line; `text()` is what would have reached stdout. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[]; text(): string } {
  const raw: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { raw.push(...String(chunk).split('\n').filter(Boolean)); cb(); } });
  const logger = createLogger({ level: 'debug', destination: stream });
  return {
    logger,
    get lines() { return raw.map((l) => JSON.parse(l) as Record<string, unknown>); },
    text: () => raw.join('\n'),
  };
}
