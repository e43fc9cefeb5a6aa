import { setTimeout as sleep } from 'node:timers/promises';
import type { types as ms } from 'mediasoup';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../../common/errors.ts';
import type { Broadcast, BroadcastObserverEvents, WorkerPool } from '../../../sfu/index.ts';
import {
  SMOKE_CLIP,
  audioProducerRtpParameters,
  startRtpSender,
  synthesiseClip,
  videoProducerRtpParameters,
  type RtpSender,
} from '../../../testkit/media.ts';
import { audioRtpParameters, garbageRtpParameters } from '../../fixtures/rtp.ts';
import { appError, createTestBroadcast, createTestPool } from '../../helpers/sfu.ts';

/** Bytes a producer has received so far. */
async function bytesIn(producer: ms.Producer): Promise<number> {
  return (await producer.getStats()).reduce((n, s) => n + s.byteCount, 0);
}

/** Polls until `check` holds (a wait for media, not a timing assertion); throws after `ms`. */
async function eventually(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
}

/** Every emission of the broadcast's observer, in order. */
function recordObserver(broadcast: Broadcast): Array<{ event: keyof BroadcastObserverEvents; args: unknown[] }> {
  const seen: Array<{ event: keyof BroadcastObserverEvents; args: unknown[] }> = [];
  const events: Array<keyof BroadcastObserverEvents> = ['close', 'newrouter', 'routerclose', 'newproducer', 'newviewer', 'newpipe', 'newtap'];
  for (const event of events) broadcast.observer.on(event, (...args: unknown[]) => seen.push({ event, args }));
  return seen;
}

describe('Broadcast.produceRtp and Broadcast.observer', () => {
  let pool: WorkerPool;
  let clip: string;
  let broadcast: Broadcast | undefined;
  let sender: RtpSender | undefined;
  beforeAll(async () => {
    pool = await createTestPool({ numWorkers: 2 });
    clip = await synthesiseClip(SMOKE_CLIP);
  });
  afterEach(async () => {
    await sender?.stop();
    sender = undefined;
    broadcast?.close();
    broadcast = undefined;
  });
  afterAll(async () => {
    await pool.close();
  });

  it('takes the tracks as RTP and serves them like a browser’s: piped to a later edge, consumable, announced', async () => {
    broadcast = await createTestBroadcast(pool, 1);
    const seen = recordObserver(broadcast);
    const announced: string[] = [];
    broadcast.on('newproducer', ({ kind }) => announced.push(kind));
    const [origin] = broadcast.routers;
    expect([origin?.role, origin?.closed, origin?.viewerCount]).toEqual(['origin', false, 0]);

    const video = await broadcast.produceRtp({ kind: 'video', rtpParameters: videoProducerRtpParameters });
    const audio = await broadcast.produceRtp({ kind: 'audio', rtpParameters: audioProducerRtpParameters });
    for (const { rtp } of [video, audio]) {
      expect(rtp.ip).toBe('127.0.0.1');
      expect(rtp.port).toBeGreaterThan(0);
      expect(rtp.rtcpPort).toBeGreaterThan(0);
      expect(rtp.rtcpPort).not.toBe(rtp.port);
    }
    expect(video.rtp.port).not.toBe(audio.rtp.port);
    expect(broadcast.producers).toEqual([
      { id: video.producerId, kind: 'video' },
      { id: audio.producerId, kind: 'audio' },
    ]);
    expect(announced).toEqual(['video', 'audio']);
    expect(seen).toEqual([
      { event: 'newproducer', args: [{ id: video.producerId, kind: 'video', source: 'rtp' }] },
      { event: 'newproducer', args: [{ id: audio.producerId, kind: 'audio', source: 'rtp' }] },
    ]);

    // Real RTP from ffmpeg reaches the broadcast.
    expect(await broadcast.mediaReceived()).toBe(false);
    sender = startRtpSender(clip, video.rtp, audio.rtp);
    await eventually('the broadcast receives RTP', () => broadcast!.mediaReceived());

    // The first viewer fills the origin (maxViewersPerRouter 1); the second opens an edge,
    // which the observer announces with both producers already piped to it.
    const first = await broadcast.addViewer('first');
    expect(first.routerId).toBe(origin!.router.id);
    const second = await broadcast.addViewer('second');
    expect(broadcast.edgeCount).toBe(1);
    const edge = broadcast.routers[1]!;
    expect([edge.role, edge.closed, edge.viewerCount]).toEqual(['edge', false, 1]);
    expect(second.routerId).toBe(edge.router.id);
    expect(edge.workerIndex).not.toBe(origin!.workerIndex);
    expect([...edge.producers().keys()].sort()).toEqual([video.producerId, audio.producerId].sort());
    expect(seen.slice(2).map((s) => s.event)).toEqual(['newviewer', 'newrouter', 'newviewer']);
    expect(seen[2]!.args[0]).toBe(first);
    expect(seen[3]!.args[0]).toBe(edge);
    expect(seen[4]!.args[0]).toBe(second);

    // The edge's copies carry the media: Broadcast's own piping, not the test's.
    for (const id of [video.producerId, audio.producerId]) {
      const copy = edge.producers().get(id)!;
      expect(copy.id).not.toBe(id);
      await eventually(`the edge's copy of ${id} receives RTP`, async () => (await bytesIn(copy)) > 0);
    }

    // A WebRTC viewer on the edge consumes them like a browser broadcaster's tracks.
    const t = await second.createTransport();
    const consumers = await second.consume(t.id, broadcast.rtpCapabilities);
    expect(consumers.map((c) => ({ producerId: c.producerId, kind: c.kind })).sort((a, b) => a.kind.localeCompare(b.kind))).toEqual([
      { producerId: audio.producerId, kind: 'audio' },
      { producerId: video.producerId, kind: 'video' },
    ]);

    // The edge's last viewer leaves: the edge closes, and the observer says so.
    broadcast.removeViewer('second');
    expect(edge.closed).toBe(true);
    expect(broadcast.routers).toHaveLength(1);
    expect(broadcast.routers[0]).toBe(origin);
    expect(seen.at(-1)).toEqual({ event: 'routerclose', args: [edge] });

    // The broadcaster's send side closes: the RTP producers go, as a browser's would.
    let producersClosed = 0;
    broadcast.on('producersclosed', () => (producersClosed += 1));
    broadcast.closeSendTransport();
    expect(producersClosed).toBe(1);
    expect(broadcast.producers).toEqual([]);
    expect(origin!.producers().size).toBe(0);
    // ... and may come back.
    const again = await broadcast.produceRtp({ kind: 'video', rtpParameters: videoProducerRtpParameters });
    expect(broadcast.producers).toEqual([{ id: again.producerId, kind: 'video' }]);

    // Closing the broadcast: the observer's last word, once.
    broadcast.close();
    broadcast.close();
    expect(seen.filter((s) => s.event === 'close')).toEqual([{ event: 'close', args: ['stopped'] }]);
    expect(broadcast.observer.listenerCount('close')).toBe(0);
  });

  it('refuses what produce() refuses: a second track of a kind, codecs of the other kind, garbage, an ended broadcast', async () => {
    broadcast = await createTestBroadcast(pool);
    const b = broadcast;
    // Codecs mediasoup does not know: refused by the worker, and no transport is left behind.
    const garbage = await appError(b.produceRtp({ kind: 'video', rtpParameters: garbageRtpParameters }));
    expect(['VALIDATION_FAILED', 'MEDIA_ERROR']).toContain(garbage.code);
    expect(b.producers).toEqual([]);

    const [one, two] = await Promise.allSettled([
      b.produceRtp({ kind: 'video', rtpParameters: videoProducerRtpParameters }),
      b.produceRtp({ kind: 'video', rtpParameters: videoProducerRtpParameters }),
    ]);
    expect([one.status, two.status].sort()).toEqual(['fulfilled', 'rejected']);
    const refused = [one, two].find((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused?.reason).toBeInstanceOf(AppError);
    expect((refused?.reason as AppError).code).toBe('WRONG_STATE');
    expect((await appError(b.produceRtp({ kind: 'video', rtpParameters: videoProducerRtpParameters }))).code).toBe('WRONG_STATE');

    expect((await appError(b.produceRtp({ kind: 'audio', rtpParameters: videoProducerRtpParameters }))).code).toBe('VALIDATION_FAILED');
    // The refusals left no producer behind: the audio track still goes in.
    expect(b.producers.map((p) => p.kind)).toEqual(['video']);
    await b.produceRtp({ kind: 'audio', rtpParameters: audioRtpParameters });
    expect(b.producers.map((p) => p.kind)).toEqual(['video', 'audio']);

    b.close();
    expect((await appError(b.produceRtp({ kind: 'audio', rtpParameters: audioProducerRtpParameters }))).code).toBe('WRONG_STATE');
  });

  it('a throwing observer listener does not unwind the broadcast', async () => {
    broadcast = await createTestBroadcast(pool);
    broadcast.observer.on('newproducer', () => {
      throw new Error('a careless observer');
    });
    broadcast.observer.on('newviewer', () => {
      throw new Error('another careless observer');
    });
    const { producerId } = await broadcast.produceRtp({ kind: 'audio', rtpParameters: audioProducerRtpParameters });
    expect(broadcast.producers).toEqual([{ id: producerId, kind: 'audio' }]);
    const viewer = await broadcast.addViewer('v');
    expect(broadcast.getViewer('v')).toBe(viewer);
  });
});
