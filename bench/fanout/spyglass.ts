import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { types as ms } from 'mediasoup';
import type { Browser } from 'playwright-core';
import { loadConfig } from '../../common/config.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import { createLogger } from '../../common/logger.ts';
import { startSpyglass } from '../../signaling/server.ts';
import { openIngest, type Ingest } from '../lib/media.ts';
import { goLiveInChromium, watchInChromium, WEB_ROOT, type ChromiumBroadcaster, type ChromiumViewerResult } from './chromium.ts';
import type { FanoutPath } from './path.ts';
import { viewerRtpCapabilities } from '../../sfu/viewerCapabilities.ts';
import { attachPlainViewer, consumerPayloadTypes, type SrtpSuite } from './plainViewer.ts';
import { withWorkerBin } from './workerBin.ts';
import { BENCH_LIMITS } from '../lib/limits.ts';

/**
 * Spyglass's path: the real signalling server (`startSpyglass`, in the bench process: SQLite in
 * a temp dir, one mediasoup worker per core, recording off) with a real broadcast, started by a
 * broadcaster in Chromium on the /live page. Its `Broadcast` (origin router, edge routers on
 * other workers past `maxViewersPerRouter`) places every viewer: `Broadcast.addViewer` chooses
 * the router of each benchmark viewer, as it does for a viewer joining over socket.io.
 *
 * Two things sfu/ cannot do today, emulated here from outside (see docs/benchmarks.md):
 * - ingest: `Broadcast.produce` only takes a WebRtcTransport (ICE + DTLS), so the synthetic
 *   broadcaster's PlainTransport producers are opened on the origin router, and piped to every
 *   edge the broadcast opens exactly as `Broadcast` pipes its own producers
 *   (`pipeToRouter({ keepId: false })`);
 * - viewers: `Viewer` only creates WebRtcTransports, so each viewer's plain SRTP transport and
 *   consumers are created on the router `Broadcast.addViewer` chose for it.
 * The routers are found through mediasoup's observer events on the pool's workers.
 *
 * The Chromium broadcaster's own tracks are switched off (black frames, silence) except while
 * real Chromium viewers watch it on the /watch page ({@link SpyglassPath.watchInChromium}).
 */
export interface SpyglassPath extends FanoutPath {
  /** `count` Chromium viewers on /watch/<id> of this broadcast; what each decoded over `measureMs`. */
  watchInChromium(count: number, opts: { firstFrameTimeoutMs: number; measureMs: number }): Promise<ChromiumViewerResult[]>;
}

export async function openSpyglassPath(opts: {
  numWorkers: number;
  maxViewersPerRouter: number;
  rtcMinPort: number;
  rtcMaxPort: number;
  browser: Browser;
  srtpSuite: SrtpSuite;
  /** The worker binary (null: mediasoup's default). */
  workerBin: string | null;
}): Promise<SpyglassPath> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-bench-fanout-'));
  const config = loadConfig(
    {},
    {
      mode: 'test',
      dataDir,
      logLevel: 'error',
      http: { host: '127.0.0.1', port: 0 },
      mediasoup: {
        numWorkers: opts.numWorkers,
        webRtcPort: 0,
        rtcMinPort: opts.rtcMinPort,
        rtcMaxPort: opts.rtcMaxPort,
        maxViewersPerRouter: opts.maxViewersPerRouter,
        logLevel: 'warn',
      },
      recording: { enabled: false },
      limits: BENCH_LIMITS,
    },
  );
  const app = await withWorkerBin(opts.workerBin, () => startSpyglass(config, createLogger({ level: 'error', name: 'bench-spyglass' }), WEB_ROOT));

  const routers = new Map<string, ms.Router>();
  /** Edge router id → its copies of the ingest producers (once piped). */
  const edgeProducers = new Map<string, Promise<ms.Producer[]>>();
  let origin: ms.Router | undefined;
  let ingest: Ingest | undefined;
  let pipeTransports = 0;
  const workerPidOf = new Map<string, number>();
  for (const w of app.pool.workers) {
    w.worker.observer.on('newrouter', (router) => {
      routers.set(router.id, router);
      workerPidOf.set(router.id, w.pid);
      router.observer.once('close', () => {
        routers.delete(router.id);
        workerPidOf.delete(router.id);
        edgeProducers.delete(router.id);
      });
      router.observer.on('newtransport', (t) => {
        if (t.type === 'pipe') pipeTransports += 1;
      });
      if (!origin || !ingest) return;
      // An edge the broadcast just opened: feed it like Broadcast#pipe does.
      const from = origin;
      const piped = Promise.all(
        [ingest.video, ingest.audio].map(async (p) => {
          const { pipeProducer } = await from.pipeToRouter({ producerId: p.id, router, keepId: false });
          if (!pipeProducer) throw new Error('pipeToRouter returned no producer');
          return pipeProducer;
        }),
      );
      piped.catch(() => undefined);
      edgeProducers.set(router.id, piped);
    });
  }

  let caster: ChromiumBroadcaster | undefined;
  const close = async () => {
    ingest?.close();
    await caster?.close().catch(() => undefined);
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    caster = await goLiveInChromium(opts.browser, app.url, 30_000);
    // Off until Chromium viewers watch: encoding the fake camera would take CPU from the sinks.
    await caster.setSending(false);
    const media = app.live.onAir(caster.broadcastId as BroadcastId)?.media;
    if (!media) throw new Error(`broadcast ${caster.broadcastId} is not on air`);
    // The broadcast's first router is its origin.
    const [originRouter] = routers.values();
    if (!originRouter || routers.size !== 1) throw new Error(`expected only the origin router after going live, found ${routers.size}`);
    const opened = await openIngest(originRouter);
    // From now on, every new router is an edge of the broadcast (see the observer above).
    origin = originRouter;
    ingest = opened;
    const broadcaster = caster;
    return {
      name: 'spyglass',
      ingest: opened,
      payloadTypes: consumerPayloadTypes(originRouter),
      workerPids: () => app.pool.workers.map((w) => w.pid),
      async addViewer(id, sinkPort) {
        const viewer = await media.addViewer(id);
        const router = routers.get(viewer.routerId);
        if (!router) throw new Error(`viewer ${id}: router ${viewer.routerId} not found`);
        const producers = router === originRouter ? [opened.video, opened.audio] : await edgeProducers.get(router.id);
        if (!producers) throw new Error(`viewer ${id}: edge ${router.id} has no piped producers`);
        // What sfu/Viewer negotiates for a browser with these capabilities (no send-side BWE).
        return attachPlainViewer(router, producers, sinkPort, opts.srtpSuite, viewerRtpCapabilities(router.rtpCapabilities));
      },
      layout: () => ({ workers: new Set(workerPidOf.values()).size, routers: routers.size, edges: media.edgeCount, pipeTransports }),
      async watchInChromium(count, watchOpts) {
        await broadcaster.setSending(true);
        try {
          return await watchInChromium(opts.browser, app.url, broadcaster.broadcastId, count, watchOpts);
        } finally {
          await broadcaster.setSending(false).catch(() => undefined);
        }
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
