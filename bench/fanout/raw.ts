import { createWorker, type types as ms } from 'mediasoup';
import { openIngest, type Ingest } from '../../testkit/media.ts';
import { attachPlainViewer, consumerPayloadTypes, type SrtpSuite } from './plainViewer.ts';
import { withWorkerBin } from './workerBin.ts';
import type { FanoutPath } from './path.ts';

/**
 * The baseline: mediasoup with no Spyglass code at all — one worker (of `workerBin`, null:
 * mediasoup's default), one router (Opus and VP8), the ingest and every viewer's
 * PlainTransport on it.
 */
export async function openRawPath(
  ports: { rtcMinPort: number; rtcMaxPort: number },
  suite: SrtpSuite,
  workerBin: string | null,
  name: 'raw' | 'raw-same-binary',
): Promise<FanoutPath> {
  const worker = await withWorkerBin(workerBin, () => createWorker({ logLevel: 'warn', rtcMinPort: ports.rtcMinPort, rtcMaxPort: ports.rtcMaxPort }));
  let ingest: Ingest | undefined;
  try {
    const router = await worker.createRouter({
      mediaCodecs: [
        { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
        { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
      ],
    });
    ingest = await openIngest(router);
    const producers: ms.Producer[] = [ingest.video, ingest.audio];
    const opened = ingest;
    return {
      name,
      ingest: opened,
      payloadTypes: consumerPayloadTypes(router),
      workerPids: () => [worker.pid],
      addViewer: (_id, sinkPort) => attachPlainViewer(router, producers, sinkPort, suite),
      layout: () => ({ workers: 1, routers: 1, edges: 0, pipeTransports: 0 }),
      async close() {
        opened.close();
        worker.close();
      },
    };
  } catch (error) {
    ingest?.close();
    worker.close();
    throw error;
  }
}
