import { createLogger } from '../../common/logger.ts';
import { startTestServer } from '../../testkit/server.ts';
import { serveParent } from './child.ts';

/**
 * A real Spyglass for the browser benchmarks (latency, time to first frame), in its own
 * process as in production: testkit's `startTestServer` (SQLite in a temp dir), serving the web client
 * built into BENCH_WEB_ROOT, BENCH_NUM_WORKERS mediasoup workers (default 1), recording off
 * (no Redis, no workers process). Media sockets on 127.0.0.1. BENCH_RTMP=1 also opens the RTMP
 * ingest listener on a free port (bench:ingest).
 */

export interface SpyglassReady {
  url: string;
  workerPids: number[];
  /** The RTMP ingest listener's port with BENCH_RTMP=1, else null. */
  rtmpPort: number | null;
}

const webRoot = process.env.BENCH_WEB_ROOT;
if (!webRoot) throw new Error('BENCH_WEB_ROOT is not set');
const numWorkers = Number(process.env.BENCH_NUM_WORKERS) || 1;
const app = await startTestServer(
  {
    logLevel: 'error',
    http: { host: '127.0.0.1' },
    mediasoup: { numWorkers, logLevel: 'warn' },
    recording: { enabled: false },
    ...(process.env.BENCH_RTMP === '1' ? { ingest: { rtmp: { enabled: true, host: '127.0.0.1', port: 0 } } } : {}),
  },
  { logger: createLogger({ level: 'error', name: 'bench-spyglass' }), webRoot },
);

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  void app.stop().finally(() => process.exit(0));
});

serveParent({ url: app.url, workerPids: app.pool.workers.map((w) => w.pid), rtmpPort: app.rtmp?.address.port ?? null } satisfies SpyglassReady, async () => null);
