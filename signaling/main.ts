import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../common/config.ts';
import { createLogger } from '../common/logger.ts';
import { startSpyglass } from './server.ts';

/** The signalling process's composition root: the only place that reads process.env. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger({ level: config.logLevel, name: 'signaling' });
  const webRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'web', 'dist');
  const app = await startSpyglass(config, logger, webRoot);
  logger.info({ url: app.url }, 'Spyglass is running');
  process.stdout.write(`\n  Spyglass is live at ${app.url}\n\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    app.close().then(
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
  process.stderr.write(`Spyglass failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
