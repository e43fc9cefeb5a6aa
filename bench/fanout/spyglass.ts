import type { types as ms } from 'mediasoup';
import type { Browser } from 'playwright-core';
import { createLogger } from '../../common/logger.ts';
import type { BroadcastRouterView } from '../../sfu/index.ts';
import { audioProducerRtpParameters, videoProducerRtpParameters, type Ingest } from '../../testkit/media.ts';
import { connect, ok, signUp, startTestServer, type ClientSocket, type TestServer } from '../../testkit/server.ts';
import { watchInChromium, WEB_ROOT, type ChromiumViewerResult } from './chromium.ts';
import type { FanoutPath } from './path.ts';
import { viewerRtpCapabilities } from '../../sfu/viewerCapabilities.ts';
import { attachPlainViewer, consumerPayloadTypes, type SrtpSuite } from './plainViewer.ts';
import { withWorkerBin } from './workerBin.ts';

/**
 * Spyglass's path: the real signalling server (testkit's `startTestServer`, in the bench
 * process: SQLite in a temp dir, one mediasoup worker per core, recording off) with a real
 * broadcast, started over socket.io (`broadcast:start`). The synthetic broadcaster's tracks
 * are the broadcast's own producers (`Broadcast.produceRtp`: a comedia PlainTransport each on
 * the origin router), so `Broadcast` pipes them to every edge router it opens
 * (`pipeToRouter({ keepId: false })`) as it does a browser's, and `Broadcast.addViewer` places
 * every viewer on the origin or an edge, as for a viewer joining over socket.io.
 *
 * One thing sfu/ does not offer is emulated: `Viewer` only creates WebRtcTransports, so each
 * benchmark viewer's plain SRTP transport and consumers are created on the router its `Viewer`
 * was placed on, consuming that router's copies of the producers — both found through the
 * broadcast's `observer` and `routers` (read-only views).
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
  const app: TestServer = await withWorkerBin(opts.workerBin, () =>
    startTestServer(
      {
        logLevel: 'error',
        http: { host: '127.0.0.1' },
        mediasoup: {
          numWorkers: opts.numWorkers,
          rtcMinPort: opts.rtcMinPort,
          rtcMaxPort: opts.rtcMaxPort,
          maxViewersPerRouter: opts.maxViewersPerRouter,
          logLevel: 'warn',
        },
        recording: { enabled: false },
      },
      { logger: createLogger({ level: 'error', name: 'bench-spyglass' }), webRoot: WEB_ROOT },
    ),
  );
  let socket: ClientSocket | undefined;
  const close = async () => {
    socket?.disconnect();
    await app.stop().catch(() => undefined);
  };
  try {
    const auth = await signUp(app.url, `caster${Date.now().toString(36)}`);
    socket = await connect(app.url, auth.token);
    const { broadcast } = await ok(socket, 'broadcast:start', { title: 'Fan-out', visibility: 'public', invitees: [] });
    const media = app.live.onAir(broadcast.id)?.media;
    if (!media) throw new Error(`broadcast ${broadcast.id} is not on air`);

    /** The broadcast's routers by id: the origin, then every edge it opens (until it closes). */
    const routers = new Map<string, BroadcastRouterView>(media.routers.map((r) => [r.router.id, r]));
    let edgesOpened = 0;
    media.observer.on('newrouter', (r) => {
      routers.set(r.router.id, r);
      edgesOpened += 1;
    });
    media.observer.on('routerclose', (r) => routers.delete(r.router.id));

    const video = await media.produceRtp({ kind: 'video', rtpParameters: videoProducerRtpParameters, ...recvBuffer() });
    const audio = await media.produceRtp({ kind: 'audio', rtpParameters: audioProducerRtpParameters, ...recvBuffer() });
    const [origin] = media.routers;
    const producerOf = (r: BroadcastRouterView, id: string): ms.Producer => {
      const p = r.producers().get(id);
      if (!p) throw new Error(`router ${r.router.id} has no copy of producer ${id}`);
      return p;
    };
    if (!origin) throw new Error('the broadcast has no origin router');
    const ingest: Ingest = {
      video: producerOf(origin, video.producerId),
      audio: producerOf(origin, audio.producerId),
      endpoints: { video: video.rtp, audio: audio.rtp },
      close: () => media.closeSendTransport(),
    };
    return {
      name: 'spyglass',
      ingest,
      payloadTypes: consumerPayloadTypes(origin.router),
      workerPids: () => app.pool.workers.map((w) => w.pid),
      async addViewer(id, sinkPort) {
        const viewer = await media.addViewer(id);
        const route = routers.get(viewer.routerId);
        if (!route) throw new Error(`viewer ${id}: router ${viewer.routerId} not found`);
        // What sfu/Viewer negotiates for a browser with these capabilities (no send-side BWE).
        // Broadcast pipes every producer to an edge before it places a viewer there.
        return attachPlainViewer(route.router, [producerOf(route, video.producerId), producerOf(route, audio.producerId)], sinkPort, opts.srtpSuite, viewerRtpCapabilities(route.router.rtpCapabilities));
      },
      layout: () => ({
        workers: new Set([...routers.values()].map((r) => r.workerPid)).size,
        routers: routers.size,
        edges: media.edgeCount,
        // pipeToRouter opens one PipeTransport pair per (origin, edge) router pair.
        pipeTransports: 2 * edgesOpened,
      }),
      watchInChromium: (count, watchOpts) => watchInChromium(opts.browser, app.url, broadcast.id, count, watchOpts),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** BENCH_INGEST_RCVBUF=<bytes>: the ingest sockets' receive buffer (capped by net.core.rmem_max); default: the OS's. */
function recvBuffer(): { recvBufferSize?: number } {
  const size = Number(process.env.BENCH_INGEST_RCVBUF) || undefined;
  return size ? { recvBufferSize: size } : {};
}
