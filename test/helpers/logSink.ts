import { pino, type LevelWithSilent } from 'pino';
import type { Logger } from '../../common/logger.ts';

/** One line the service logged, as pino wrote it. */
export interface LogEntry {
  level: number;
  msg?: string;
  [key: string]: unknown;
}

/** A logger that keeps what it logs in memory, for tests that assert on the service's logs. */
export interface LogSink {
  /** Pass to `startTestServer(…, { logger })`. */
  logger: Logger;
  /** Every entry at or above the sink's level, oldest first. */
  readonly entries: readonly LogEntry[];
  /** Entries at level error (50) or above. */
  errors(): LogEntry[];
  /** Forgets what was logged so far. */
  clear(): void;
}

/**
 * A pino logger whose lines are parsed into `entries` instead of written out.
 * @param level the lowest level kept; default 'error'.
 */
export function createLogSink(level: LevelWithSilent = 'error'): LogSink {
  const entries: LogEntry[] = [];
  const logger = pino(
    { level, name: 'spyglass' },
    {
      write(line: string) {
        try {
          entries.push(JSON.parse(line) as LogEntry);
        } catch {
          entries.push({ level: 60, msg: `unparsable log line: ${line.slice(0, 200)}` });
        }
      },
    },
  );
  return {
    logger,
    entries,
    errors: () => entries.filter((e) => e.level >= 50),
    clear: () => void entries.splice(0),
  };
}
