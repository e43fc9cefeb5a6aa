import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * Creates the process's root logger. Library code receives a child logger through its
 * constructor and never creates its own.
 * @param level pino level; default 'info'.
 */
export function createLogger(options: { level?: LevelWithSilent; name?: string } = {}): Logger {
  return pino({ level: options.level ?? 'info', name: options.name ?? 'spyglass' });
}
