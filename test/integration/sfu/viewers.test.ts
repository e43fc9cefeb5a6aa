import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RtpCapabilities } from '../../../common/protocol/media.ts';
import type { Broadcast, WorkerPool } from '../../../sfu/index.ts';
import { audioRtpParameters, clientDtlsParameters, videoSimulcastRtpParameters } from '../../fixtures/rtp.ts';
import { appError, captureConsumers, createTestBroadcast, createTestPool } from '../../helpers/sfu.ts';

/** A live broadcast with the fixture's VP8 simulcast and Opus producers. */
async function liveBroadcast(pool: WorkerPool, maxViewersPerRouter = 100): Promise<{ broadcast: Broadcast; video: string; audio: string }> {
  const broadcast = await createTestBroadcast(pool, maxViewersPerRouter);
  const t = await broadcast.createSendTransport();
  const video = await broadcast.produce({ transportId: t.id, kind: 'video', rtpParameters: videoSimulcastRtpParameters });
  const audio = await broadcast.produce({ transportId: t.id, kind: 'audio', rtpParameters: audioRtpParameters });
  return { broadcast, video: video.producerId, audio: audio.producerId };
}

describe('Viewers', () => {
  let pool: WorkerPool | undefined;
  let broadcast: Broadcast | undefined;
  afterEach(async () => {
    broadcast?.close();
    broadcast = undefined;
    await pool?.close();
    pool = undefined;
  });

  it('consume returns paused consumers for both producers; resume works; viewerCount follows', async () => {
    pool = await createTestPool();
    const created = captureConsumers(pool);
    const live = await liveBroadcast(pool);
    broadcast = live.broadcast;

    const viewer = await broadcast.addViewer('alice');
    expect(broadcast.viewerCount).toBe(1);
    expect(broadcast.getViewer('alice')).toBe(viewer);
    expect(await broadcast.addViewer('alice')).toBe(viewer);
    expect(broadcast.viewerCount).toBe(1);

    const t = await viewer.createTransport();
    expect(t.iceCandidates.every((c) => c.address === '127.0.0.1')).toBe(true);
    await viewer.connectTransport(t.id, clientDtlsParameters);
    const consumers = await viewer.consume(t.id, broadcast.rtpCapabilities);
    expect(consumers.map((c) => c.producerId).sort()).toEqual([live.video, live.audio].sort());
    expect(consumers.map((c) => c.kind).sort()).toEqual(['audio', 'video']);
    expect(new Set(consumers.map((c) => c.id)).size).toBe(2);
    const loadWithConsumers = pool.workers[0]?.load;
    // 1 router + 2 consumers.
    expect(loadWithConsumers).toBe(3);

    // Nothing new to consume: an empty list, not duplicates.
    expect(await viewer.consume(t.id, broadcast.rtpCapabilities)).toEqual([]);

    // Created paused; resumed only on request.
    expect(created.map((c) => c.id).sort()).toEqual(consumers.map((c) => c.id).sort());
    expect(created.every((c) => c.paused)).toBe(true);
    for (const c of consumers) await viewer.resumeConsumer(c.id);
    expect(created.every((c) => !c.paused)).toBe(true);

    expect((await appError(viewer.resumeConsumer('00000000-0000-4000-8000-000000000000'))).code).toBe('NOT_FOUND');
    expect((await appError(viewer.consume('00000000-0000-4000-8000-000000000000', broadcast.rtpCapabilities))).code).toBe('NOT_FOUND');
    expect((await appError(viewer.connectTransport('00000000-0000-4000-8000-000000000000', clientDtlsParameters))).code).toBe('NOT_FOUND');

    const bob = await broadcast.addViewer('bob');
    expect(broadcast.viewerCount).toBe(2);
    const closeReasons: string[] = [];
    viewer.on('close', (r) => closeReasons.push(r));
    broadcast.removeViewer('alice');
    broadcast.removeViewer('alice');
    expect(closeReasons).toEqual(['left']);
    expect(viewer.closed).toBe(true);
    expect(broadcast.viewerCount).toBe(1);
    expect(broadcast.getViewer('alice')).toBeUndefined();
    // The viewer's consumers are gone from the worker's load.
    expect(pool.workers[0]?.load).toBe(1);
    bob.close();
    expect(broadcast.viewerCount).toBe(0);
  });

  it('creates video consumers of simulcast producers with the highest spatial layer preferred', async () => {
    pool = await createTestPool();
    const created = captureConsumers(pool);
    const live = await liveBroadcast(pool);
    broadcast = live.broadcast;
    const viewer = await broadcast.addViewer('v');
    const t = await viewer.createTransport();
    const [video] = (await viewer.consume(t.id, broadcast.rtpCapabilities)).filter((c) => c.kind === 'video');
    // The consumer's single encoding advertises the three simulcast layers to the client.
    expect(video?.rtpParameters).toMatchObject({ encodings: [expect.objectContaining({ scalabilityMode: expect.stringMatching(/^L3T3/) })] });
    const consumer = created.find((c) => c.id === video?.id);
    expect(consumer?.type).toBe('simulcast');
    expect(consumer?.preferredLayers?.spatialLayer).toBe(2);
  });

  it('skips producers the device cannot decode and fails when it can decode none', async () => {
    pool = await createTestPool();
    const live = await liveBroadcast(pool);
    broadcast = live.broadcast;
    const viewer = await broadcast.addViewer('v');
    const t = await viewer.createTransport();

    const caps = broadcast.rtpCapabilities;
    const audioOnly: RtpCapabilities = { ...caps, codecs: caps.codecs?.filter((c) => c.kind === 'audio') };
    const consumers = await viewer.consume(t.id, audioOnly);
    expect(consumers.map((c) => c.producerId)).toEqual([live.audio]);

    const h264Only: RtpCapabilities = { ...caps, codecs: caps.codecs?.filter((c) => c.mimeType === 'video/H264') };
    const err = await appError(viewer.consume(t.id, h264Only));
    expect(err.code).toBe('VALIDATION_FAILED');
    // The error names the codec the device lacks (mediasoup does not transcode: docs/sfu.md, "Codecs").
    expect(err.message).toContain('(video/VP8)');
  });

  it('a viewer who joins before the broadcaster produces gets consumers later', async () => {
    pool = await createTestPool();
    broadcast = await createTestBroadcast(pool);
    const viewer = await broadcast.addViewer('early');
    const t = await viewer.createTransport();
    expect(await viewer.consume(t.id, broadcast.rtpCapabilities)).toEqual([]);
    const send = await broadcast.createSendTransport();
    const kinds: string[] = [];
    broadcast.on('newproducer', ({ kind }) => kinds.push(kind));
    await broadcast.produce({ transportId: send.id, kind: 'audio', rtpParameters: audioRtpParameters });
    expect(kinds).toEqual(['audio']);
    const consumers = await viewer.consume(t.id, broadcast.rtpCapabilities);
    expect(consumers.map((c) => c.kind)).toEqual(['audio']);
  });

  it('a new transport replaces the old one and drops its consumers', async () => {
    pool = await createTestPool();
    const live = await liveBroadcast(pool);
    broadcast = live.broadcast;
    const viewer = await broadcast.addViewer('v');
    const t1 = await viewer.createTransport();
    const first = await viewer.consume(t1.id, broadcast.rtpCapabilities);
    expect(first).toHaveLength(2);
    const t2 = await viewer.createTransport();
    expect(viewer.consumerCount).toBe(0);
    expect((await appError(viewer.consume(t1.id, broadcast.rtpCapabilities))).code).toBe('NOT_FOUND');
    expect((await appError(viewer.resumeConsumer(first[0]?.id ?? ''))).code).toBe('NOT_FOUND');
    expect(await viewer.consume(t2.id, broadcast.rtpCapabilities)).toHaveLength(2);
  });
});

describe('Fan-out over routers', () => {
  let pool: WorkerPool | undefined;
  let broadcast: Broadcast | undefined;
  afterEach(async () => {
    broadcast?.close();
    broadcast = undefined;
    await pool?.close();
    pool = undefined;
  });

  it('puts the 3rd viewer on an edge router on the other worker, fed with the piped producers', async () => {
    pool = await createTestPool({ numWorkers: 2 });
    const created = captureConsumers(pool);
    const live = await liveBroadcast(pool, 2);
    broadcast = live.broadcast;
    const originIndex = broadcast.originWorkerIndex;

    const v1 = await broadcast.addViewer('v1');
    const v2 = await broadcast.addViewer('v2');
    expect(v1.routerWorkerIndex).toBe(originIndex);
    expect(v2.routerWorkerIndex).toBe(originIndex);
    expect(broadcast.edgeCount).toBe(0);

    const v3 = await broadcast.addViewer('v3');
    expect(v3.routerWorkerIndex).not.toBe(originIndex);
    expect(v3.routerWorkerPid).not.toBe(v1.routerWorkerPid);
    expect(v3.routerId).not.toBe(v1.routerId);
    expect(broadcast.edgeCount).toBe(1);

    const t = await v3.createTransport();
    const consumers = await v3.consume(t.id, broadcast.rtpCapabilities);
    // The client sees the broadcast's producer ids, whichever router serves it.
    expect(consumers.map((c) => c.producerId).sort()).toEqual([live.video, live.audio].sort());
    for (const c of consumers) await v3.resumeConsumer(c.id);
    // Through the pipe, the edge consumer is still simulcast with the top layer preferred.
    const edgeVideo = created.find((c) => c.id === consumers.find((o) => o.kind === 'video')?.id);
    expect(edgeVideo?.type).toBe('simulcast');
    expect(edgeVideo?.preferredLayers?.spatialLayer).toBe(2);
    const edgeWorker = pool.workers[v3.routerWorkerIndex];
    // Edge worker: 1 router + 2 viewer consumers. Origin: 1 router + 2 pipe consumers.
    expect(edgeWorker?.load).toBe(3);
    expect(pool.workers[originIndex]?.load).toBe(3);

    // A 4th viewer shares the edge.
    const v4 = await broadcast.addViewer('v4');
    expect(v4.routerId).toBe(v3.routerId);

    // The edge closes once its last viewer leaves; the pipe consumers go with it.
    broadcast.removeViewer('v3');
    broadcast.removeViewer('v4');
    expect(broadcast.edgeCount).toBe(0);
    await vi.waitFor(() => expect(pool?.workers[originIndex]?.load).toBe(1));
  });

  it('pipes a producer created after the edge opened', async () => {
    pool = await createTestPool({ numWorkers: 2 });
    broadcast = await createTestBroadcast(pool, 1);
    await broadcast.addViewer('v1');
    const edgeViewer = await broadcast.addViewer('v2');
    expect(edgeViewer.routerWorkerIndex).not.toBe(broadcast.originWorkerIndex);
    const t = await edgeViewer.createTransport();
    expect(await edgeViewer.consume(t.id, broadcast.rtpCapabilities)).toEqual([]);

    const send = await broadcast.createSendTransport();
    const { producerId } = await broadcast.produce({ transportId: send.id, kind: 'video', rtpParameters: videoSimulcastRtpParameters });
    const consumers = await edgeViewer.consume(t.id, broadcast.rtpCapabilities);
    expect(consumers.map((c) => c.producerId)).toEqual([producerId]);

    // The broadcaster leaves: the piped producer and the edge viewer's consumer go too.
    broadcast.closeSendTransport();
    await vi.waitFor(() => expect(edgeViewer.consumerCount).toBe(0));
    expect(edgeViewer.closed).toBe(false);
  });

  it('with one worker, falls back to a second router on the same worker', async () => {
    pool = await createTestPool({ numWorkers: 1 });
    const live = await liveBroadcast(pool, 1);
    broadcast = live.broadcast;
    const v1 = await broadcast.addViewer('v1');
    const v2 = await broadcast.addViewer('v2');
    expect(v2.routerWorkerIndex).toBe(v1.routerWorkerIndex);
    expect(v2.routerId).not.toBe(v1.routerId);
    const t = await v2.createTransport();
    const consumers = await v2.consume(t.id, broadcast.rtpCapabilities);
    expect(consumers.map((c) => c.producerId).sort()).toEqual([live.video, live.audio].sort());
  });

  it('concurrent joins past the limit open exactly the edges needed', async () => {
    pool = await createTestPool({ numWorkers: 2 });
    const live = await liveBroadcast(pool, 2);
    broadcast = live.broadcast;
    const b = broadcast;
    const viewers = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((id) => b.addViewer(id)));
    expect(broadcast.viewerCount).toBe(6);
    // 2 on the origin, 4 on two edges of 2.
    expect(broadcast.edgeCount).toBe(2);
    const perRouter = new Map<string, number>();
    for (const v of viewers) perRouter.set(v.routerId, (perRouter.get(v.routerId) ?? 0) + 1);
    expect([...perRouter.values()]).toEqual([2, 2, 2]);
  });
});
