import { loadConfig } from '../common/config.ts';
import { createLogger } from '../common/logger.ts';
import { startWorkers } from './startWorkers.ts';

/** The workers process's composition root: the only place here that reads process.env. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger({ level: config.logLevel, name: 'workers' });
  const workers = await startWorkers(config, logger);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: recordings stop cleanly and go back to the queue');
    workers.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`Spyglass workers failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
