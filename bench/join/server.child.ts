import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { types as ms } from 'mediasoup';
import { createLogger } from '../../common/logger.ts';
import { startTestServer } from '../../testkit/server.ts';
import { serveParent } from '../lib/child.ts';
import { openIngest, producerPackets, type Ingest, type RtpEndpoint } from '../../testkit/media.ts';

/**
 * The signalling server under test for the join storm, in its own process as in production:
 * testkit's `startTestServer` (SQLite in a temp dir), one mediasoup worker per core (or
 * BENCH_NUM_WORKERS), recording off (no Redis, no workers process).
 *
 * It also hosts the synthetic broadcaster's ingest: two PlainTransport producers on the
 * broadcast's origin router (found through mediasoup's observer), which ffmpeg feeds, and a
 * monitor that samples their packet counters and the event loop's delay during the storm, and
 * its own memory after a full garbage collection (`heap`: `--expose-gc` set at run time).
 */

export type ServerRequest =
  | { type: 'ingest' }
  | { type: 'packets' }
  | { type: 'monitorStart' }
  | { type: 'monitorStop' }
  | { type: 'status'; broadcastId: string }
  | { type: 'heap' };

/** The server process's memory after a full collection, in bytes: V8's heap in use, and memory outside it (Buffers, native objects' JS-owned parts). */
export interface HeapReading {
  heapUsed: number;
  external: number;
}

export interface ServerReady {
  url: string;
  workerPids: number[];
}

/** One sample of the ingest producers' packet counters; `at` is epoch ms (comparable across processes). */
export interface IngestSample {
  at: number;
  packets: number;
  /** How long the getStats round trip to the worker took. */
  rpcMs: number;
}

export interface MonitorReport {
  samples: IngestSample[];
  eventLoopDelayMs: { p50: number; p99: number; max: number };
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const numWorkers = Number(process.env.BENCH_NUM_WORKERS) || os.availableParallelism();
const app = await startTestServer(
  {
    logLevel: 'error',
    http: { host: '127.0.0.1' },
    mediasoup: { numWorkers, rtcMinPort: 30000, rtcMaxPort: 31999, logLevel: 'warn' },
    recording: { enabled: false },
  },
  // The web client is not needed (the server only warns that it is not built).
  { logger: createLogger({ level: 'error', name: 'bench-server' }), webRoot: '/nonexistent/spyglass-no-web' },
);

const routers: ms.Router[] = [];
for (const w of app.pool.workers) w.worker.observer.on('newrouter', (r) => routers.push(r));

let ingest: Ingest | undefined;
let monitor: { stop: () => Promise<MonitorReport> } | undefined;

const epochNow = () => performance.timeOrigin + performance.now();

async function ingestPackets(): Promise<number> {
  if (!ingest) return 0;
  const [v, a] = await Promise.all([producerPackets(ingest.video), producerPackets(ingest.audio)]);
  return v + a;
}

function startMonitor(): { stop: () => Promise<MonitorReport> } {
  const eld = monitorEventLoopDelay({ resolution: 5 });
  eld.enable();
  const samples: IngestSample[] = [];
  // Set by stop() while the loop awaits (the cast keeps TS from narrowing it to true).
  let running = true as boolean;
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      const packets = await ingestPackets();
      samples.push({ at: Math.round(epochNow()), packets, rpcMs: Math.round((performance.now() - t) * 10) / 10 });
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      eld.disable();
      const ms = (ns: number) => Math.round(ns / 1e5) / 10;
      return { samples, eventLoopDelayMs: { p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), max: ms(eld.max) } };
    },
  };
}

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  ingest?.close();
  void app.stop().finally(() => process.exit(0));
});

serveParent({ url: app.url, workerPids: app.pool.workers.map((w) => w.pid) } satisfies ServerReady, async (body) => {
  const req = body as ServerRequest;
  switch (req.type) {
    case 'ingest': {
      // The first router created since start is the (only) broadcast's origin.
      const origin = routers[0];
      if (!origin) throw new Error('no broadcast router yet: start the broadcast first');
      ingest ??= await openIngest(origin);
      return ingest.endpoints satisfies { video: RtpEndpoint; audio: RtpEndpoint };
    }
    case 'packets':
      return ingestPackets();
    case 'monitorStart':
      monitor = startMonitor();
      return null;
    case 'monitorStop': {
      if (!monitor) throw new Error('monitor not started');
      const report = await monitor.stop();
      monitor = undefined;
      return report;
    }
    case 'heap': {
      // Twice: the first collection's finalizers may free more on the second.
      gc();
      gc();
      const m = process.memoryUsage();
      return { heapUsed: m.heapUsed, external: m.external } satisfies HeapReading;
    }
    case 'status': {
      const live = app.live.onAir(req.broadcastId as Parameters<typeof app.live.onAir>[0]);
      return { viewers: live?.media.viewerCount ?? null, edges: live?.media.edgeCount ?? null };
    }
  }
});
