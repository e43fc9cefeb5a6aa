import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProcess } from '../common/processMain.ts';
import { startSpyglass } from './server.ts';

/** The signalling process (HTTP, socket.io, the SFU): prints its URL once it listens. */
runProcess('signaling', async (config, logger) => {
  const webRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'web', 'dist');
  const app = await startSpyglass(config, logger, webRoot);
  logger.info({ url: app.url }, 'Spyglass is running');
  process.stdout.write(`\n  Spyglass is live at ${app.url}\n\n`);
  return app;
});
