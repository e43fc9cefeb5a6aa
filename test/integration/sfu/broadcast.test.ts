import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Broadcast, WorkerPool } from '../../../sfu/index.ts';
import { audioRtpParameters, clientDtlsParameters, garbageRtpParameters, videoSimulcastRtpParameters } from '../../fixtures/rtp.ts';
import { appError, createTestBroadcast, createTestPool, waitFor } from '../../helpers/sfu.ts';

describe('Broadcast: broadcaster side', () => {
  let pool: WorkerPool;
  let broadcast: Broadcast | undefined;
  beforeAll(async () => {
    pool = await createTestPool();
  });
  afterEach(() => {
    broadcast?.close();
    broadcast = undefined;
  });
  afterAll(async () => {
    await pool.close();
  });

  it('creates a broadcast with the origin router capabilities (Opus, VP8, H264)', async () => {
    broadcast = await createTestBroadcast(pool);
    expect(broadcast.closed).toBe(false);
    expect(broadcast.viewerCount).toBe(0);
    expect(broadcast.producers).toEqual([]);
    const mimeTypes = broadcast.rtpCapabilities.codecs?.map((c) => c.mimeType) ?? [];
    expect(mimeTypes).toEqual(expect.arrayContaining(['audio/opus', 'video/VP8', 'video/H264']));
    const h264Profiles = broadcast.rtpCapabilities.codecs
      ?.filter((c) => c.mimeType === 'video/H264')
      .map((c) => c.parameters?.['profile-level-id']);
    expect(h264Profiles).toEqual(expect.arrayContaining(['42e01f', '4d001f']));
  });

  it('creates a send transport whose ICE candidates carry the listen address', async () => {
    broadcast = await createTestBroadcast(pool);
    const t = await broadcast.createSendTransport();
    expect(t.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(t.iceParameters.usernameFragment).toBeTruthy();
    expect(t.dtlsParameters.fingerprints.length).toBeGreaterThan(0);
    const protocols = t.iceCandidates.map((c) => c.protocol).sort();
    expect(protocols).toEqual(['tcp', 'udp']);
    for (const c of t.iceCandidates) expect(c.address).toBe('127.0.0.1');
    // preferUdp: the UDP candidate has the higher priority.
    const udp = t.iceCandidates.find((c) => c.protocol === 'udp');
    const tcp = t.iceCandidates.find((c) => c.protocol === 'tcp');
    expect(udp?.priority).toBeGreaterThan(tcp?.priority ?? Infinity);
  });

  it('puts the announced address into ICE candidates', async () => {
    const announcedPool = await createTestPool({ announcedAddress: 'media.spyglass.test' });
    try {
      const b = await createTestBroadcast(announcedPool);
      const t = await b.createSendTransport();
      expect(t.iceCandidates.map((c) => c.address)).toEqual(['media.spyglass.test', 'media.spyglass.test']);
      b.close();
    } finally {
      await announcedPool.close();
    }
  });

  it('connects the send transport and rejects unknown transport ids with NOT_FOUND', async () => {
    broadcast = await createTestBroadcast(pool);
    const t = await broadcast.createSendTransport();
    await broadcast.connectSendTransport(t.id, clientDtlsParameters);
    const other = '00000000-0000-4000-8000-000000000000';
    expect((await appError(broadcast.connectSendTransport(other, clientDtlsParameters))).code).toBe('NOT_FOUND');
    const err = await appError(broadcast.produce({ transportId: other, kind: 'audio', rtpParameters: audioRtpParameters }));
    expect(err.code).toBe('NOT_FOUND');
  });

  it('produces VP8 simulcast and Opus, once per kind', async () => {
    broadcast = await createTestBroadcast(pool);
    const t = await broadcast.createSendTransport();
    const kinds: string[] = [];
    broadcast.on('newproducer', ({ kind }) => kinds.push(kind));

    const video = await broadcast.produce({ transportId: t.id, kind: 'video', rtpParameters: videoSimulcastRtpParameters });
    const audio = await broadcast.produce({ transportId: t.id, kind: 'audio', rtpParameters: audioRtpParameters });
    expect(video.producerId).not.toBe(audio.producerId);
    expect(kinds).toEqual(['video', 'audio']);
    expect(broadcast.producers).toEqual(
      expect.arrayContaining([
        { id: video.producerId, kind: 'video' },
        { id: audio.producerId, kind: 'audio' },
      ]),
    );

    const second = await appError(broadcast.produce({ transportId: t.id, kind: 'video', rtpParameters: videoSimulcastRtpParameters }));
    expect(second.code).toBe('WRONG_STATE');
    expect(broadcast.producers).toHaveLength(2);
  });

  it('turns rtpParameters mediasoup rejects into VALIDATION_FAILED / MEDIA_ERROR, not a crash', async () => {
    broadcast = await createTestBroadcast(pool);
    const t = await broadcast.createSendTransport();
    const bad = await appError(broadcast.produce({ transportId: t.id, kind: 'video', rtpParameters: garbageRtpParameters }));
    expect(['VALIDATION_FAILED', 'MEDIA_ERROR']).toContain(bad.code);

    // Audio parameters declared as video.
    const mismatched = await appError(broadcast.produce({ transportId: t.id, kind: 'video', rtpParameters: audioRtpParameters }));
    expect(mismatched.code).toBe('VALIDATION_FAILED');
    expect(mismatched.message).toMatch(/audio\/opus is not video/);

    // The failed attempts did not take the kind: a correct producer still works.
    const ok = await broadcast.produce({ transportId: t.id, kind: 'video', rtpParameters: videoSimulcastRtpParameters });
    expect(ok.producerId).toBeTruthy();
  });

  it('closeSendTransport closes the producers, keeps viewers, and a new transport can produce again', async () => {
    broadcast = await createTestBroadcast(pool);
    const t = await broadcast.createSendTransport();
    await broadcast.produce({ transportId: t.id, kind: 'video', rtpParameters: videoSimulcastRtpParameters });
    await broadcast.produce({ transportId: t.id, kind: 'audio', rtpParameters: audioRtpParameters });
    const viewer = await broadcast.addViewer('viewer-1');
    const vt = await viewer.createTransport();
    const consumers = await viewer.consume(vt.id, broadcast.rtpCapabilities);
    expect(consumers).toHaveLength(2);

    const closed = waitFor(broadcast, 'producersclosed');
    broadcast.closeSendTransport();
    await closed;
    expect(broadcast.producers).toEqual([]);
    expect(broadcast.viewerCount).toBe(1);
    expect(viewer.closed).toBe(false);
    // The worker tells each consumer that its producer closed.
    await vi.waitFor(() => expect(viewer.consumerCount).toBe(0));
    // The old transport is gone.
    expect((await appError(broadcast.connectSendTransport(t.id, clientDtlsParameters))).code).toBe('NOT_FOUND');

    // The broadcaster comes back.
    const t2 = await broadcast.createSendTransport();
    expect(t2.id).not.toBe(t.id);
    const again = await broadcast.produce({ transportId: t2.id, kind: 'video', rtpParameters: videoSimulcastRtpParameters });
    const fresh = await viewer.consume(vt.id, broadcast.rtpCapabilities);
    expect(fresh.map((c) => c.producerId)).toEqual([again.producerId]);
    await viewer.resumeConsumer(fresh[0]?.id ?? '');
  });

  it('a new send transport replaces the old one and its producers', async () => {
    broadcast = await createTestBroadcast(pool);
    const t1 = await broadcast.createSendTransport();
    await broadcast.produce({ transportId: t1.id, kind: 'audio', rtpParameters: audioRtpParameters });
    let producersClosed = 0;
    broadcast.on('producersclosed', () => (producersClosed += 1));
    const t2 = await broadcast.createSendTransport();
    expect(producersClosed).toBe(1);
    expect(broadcast.producers).toEqual([]);
    const err = await appError(broadcast.produce({ transportId: t1.id, kind: 'audio', rtpParameters: audioRtpParameters }));
    expect(err.code).toBe('NOT_FOUND');
    await broadcast.produce({ transportId: t2.id, kind: 'audio', rtpParameters: audioRtpParameters });
    expect(broadcast.producers).toHaveLength(1);
  });

  it('close() is idempotent, emits once, and refuses further use', async () => {
    broadcast = await createTestBroadcast(pool);
    const viewer = await broadcast.addViewer('v');
    const reasons: string[] = [];
    const viewerReasons: string[] = [];
    broadcast.on('close', (r) => reasons.push(r));
    viewer.on('close', (r) => viewerReasons.push(r));
    broadcast.close();
    broadcast.close('worker-died');
    expect(reasons).toEqual(['stopped']);
    expect(viewerReasons).toEqual(['broadcast-closed']);
    expect(broadcast.closed).toBe(true);
    expect(broadcast.viewerCount).toBe(0);
    expect((await appError(broadcast.addViewer('w'))).code).toBe('WRONG_STATE');
    expect((await appError(broadcast.createSendTransport())).code).toBe('WRONG_STATE');
    expect(pool.workers[0]?.load).toBe(0);
  });
});
