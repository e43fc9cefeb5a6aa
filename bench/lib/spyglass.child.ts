import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../common/config.ts';
import { createLogger } from '../../common/logger.ts';
import { startSpyglass } from '../../signaling/server.ts';
import { serveParent } from './child.ts';
import { BENCH_LIMITS } from './limits.ts';

/**
 * A real Spyglass for the browser benchmarks (latency, time to first frame), in its own
 * process as in production: `startSpyglass` on SQLite in a temp dir, serving the web client
 * built into BENCH_WEB_ROOT, BENCH_NUM_WORKERS mediasoup workers (default 1), recording off
 * (no Redis, no workers process). Media sockets on 127.0.0.1.
 */

export interface SpyglassReady {
  url: string;
  workerPids: number[];
}

const webRoot = process.env.BENCH_WEB_ROOT;
if (!webRoot) throw new Error('BENCH_WEB_ROOT is not set');
const numWorkers = Number(process.env.BENCH_NUM_WORKERS) || 1;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-bench-server-'));
const config = loadConfig(
  {},
  {
    mode: 'test',
    dataDir,
    logLevel: 'error',
    http: { host: '127.0.0.1', port: 0 },
    mediasoup: { numWorkers, webRtcPort: 0, logLevel: 'warn' },
    recording: { enabled: false },
    limits: BENCH_LIMITS,
  },
);
const logger = createLogger({ level: 'error', name: 'bench-spyglass' });
const app = await startSpyglass(config, logger, webRoot).catch((error: unknown) => {
  rmSync(dataDir, { recursive: true, force: true });
  throw error;
});

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  void app.close().finally(() => {
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  });
});

serveParent({ url: app.url, workerPids: app.pool.workers.map((w) => w.pid) } satisfies SpyglassReady, async () => null);
