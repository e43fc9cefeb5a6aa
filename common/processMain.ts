import { loadConfig, type Config } from './config.ts';
import { dataDirSecret } from './dataDirSecret.ts';
import { createLogger, type Logger } from './logger.ts';

/**
 * The shared body of each process's main.ts (the only readers of process.env): loads the
 * config (exit 2 with the message when it is bad; with no secret configured on a loopback bind,
 * the one persisted in `<dataDir>/secret`, generated on the first start), starts the process, and on SIGINT or
 * SIGTERM closes it gracefully once (exit 0, or 1 when closing fails). A close that hangs does
 * not keep the process alive: after `shutdownTimeoutSeconds` it exits with code 1 and says so.
 */
export function runProcess(
  name: string,
  start: (config: Config, logger: Logger) => Promise<{ close(): Promise<void> }>,
): void {
  let config: Config;
  try {
    config = loadConfig(process.env, {}, { secretWhenUnset: dataDirSecret });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger({ level: config.logLevel, name });
  start(config, logger).then(
    (running) => {
      let stopping = false;
      const stop = (signal: string) => {
        // A second signal is expected, not urgent: Ctrl-C under `npm start` reaches each
        // process from the terminal and again from the supervisor.
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'shutting down');
        const timeoutSeconds = config.shutdownTimeoutSeconds;
        setTimeout(() => {
          logger.error({ timeoutSeconds }, 'shutdown timed out: exiting now');
          process.exit(1);
        }, timeoutSeconds * 1000).unref();
        running.close().then(
          () => process.exit(0),
          (err: unknown) => {
            logger.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    },
    (err: unknown) => {
      process.stderr.write(`Spyglass ${name} failed to start: ${(err as Error | null | undefined)?.stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
