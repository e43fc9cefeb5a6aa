import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import { RedisRpc } from '../../../common/redisRpc.ts';
import type { Broadcast, WorkerPool } from '../../../sfu/index.ts';
import { TapServer } from '../../../signaling/recording/TapServer.ts';
import { TapResponseSchema, tapChannels, type TapClosed, type TapResponse } from '../../../common/jobs/tap.ts';
import { audioRtpParameters, videoSimulcastRtpParameters } from '../../fixtures/rtp.ts';
import { createTestBroadcast, createTestPool, silentLogger } from '../../helpers/sfu.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const channels = tapChannels(`spyglass-test-tap-${process.pid}`);
const target = {
  host: '127.0.0.1',
  video: { rtpPort: 41990, rtcpPort: 41991 },
  audio: { rtpPort: 41992, rtcpPort: 41993 },
  srtp: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: 'QSXVvCMu21Q/IEeqqeBpQEBtlShRdjEMa3DHYcPt' },
};

/**
 * The recording tap protocol between a record job and the SFU, over real Redis pub/sub and a
 * real mediasoup worker (producers from fixed RTP parameters; no media needs to flow).
 */
describe('recording tap over Redis', () => {
  let pool: WorkerPool;
  let serverRpc: RedisRpc;
  let clientRpc: RedisRpc;
  let tapServer: TapServer;
  const live = new Map<BroadcastId, { media: Broadcast; offsetMs: () => number }>();
  const ended = new Set<string>();
  const closedMessages: TapClosed[] = [];

  beforeAll(async () => {
    pool = await createTestPool();
    serverRpc = new RedisRpc(REDIS_URL, silentLogger());
    clientRpc = new RedisRpc(REDIS_URL, silentLogger());
    await Promise.all([serverRpc.ready(), clientRpc.ready()]);
    await clientRpc.subscribe(channels.closed, (m) => closedMessages.push(m as TapClosed));
    tapServer = new TapServer({
      rpc: serverRpc,
      queuePrefix: `spyglass-test-tap-${process.pid}`,
      logger: silentLogger(),
      lookup: (id) => live.get(id),
      isOver: (id) => Promise.resolve(ended.has(id)),
      keyframeIntervalMs: 500,
      leaseMs: 1500,
      secondTrackWaitMs: 300,
    });
    await tapServer.start();
  });
  afterEach(() => {
    for (const b of live.values()) b.media.close();
    live.clear();
    closedMessages.length = 0;
  });
  afterAll(async () => {
    tapServer?.close();
    await serverRpc?.close();
    await clientRpc?.close();
    await pool?.close();
  });

  async function call(payload: unknown): Promise<TapResponse> {
    return TapResponseSchema.parse(await clientRpc.call(channels.rpc, payload, 3000));
  }

  async function liveBroadcast(kinds: Array<'audio' | 'video'>): Promise<Broadcast> {
    const media = await createTestBroadcast(pool);
    const t = await media.createSendTransport();
    for (const kind of kinds) {
      await media.produce({ transportId: t.id, kind, rtpParameters: kind === 'audio' ? audioRtpParameters : videoSimulcastRtpParameters });
    }
    live.set(media.id as BroadcastId, { media, offsetMs: () => 4321 });
    return media;
  }

  async function closedAnnouncement(tapId: string): Promise<TapClosed> {
    for (let i = 0; i < 100; i++) {
      const m = closedMessages.find((c) => c.tapId === tapId);
      if (m) return m;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no close announced for ${tapId}`);
  }

  it('opens paused consumers, answers with their codecs, resumes with the broadcast offset, and ends with the broadcast', async () => {
    const media = await liveBroadcast(['audio', 'video']);
    const opened = await call({ op: 'open', broadcastId: media.id, ...target });
    expect(opened.status).toBe('opened');
    if (opened.status !== 'opened') return;
    const byKind = Object.fromEntries(opened.streams.map((s) => [s.kind, s]));
    expect(byKind.video).toMatchObject({ mimeType: 'video/VP8', clockRate: 90000, rtpPort: 41990, rtcpPort: 41991 });
    expect(byKind.audio).toMatchObject({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, rtpPort: 41992, rtcpPort: 41993 });
    // Each stream comes with the SFU's own fresh SRTP key (never the recorder's) and its sending address.
    for (const s of opened.streams) expect(s).toMatchObject({ srtp: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80' }, sourceIp: '127.0.0.1' });
    expect(new Set([target.srtp.keyBase64, byKind.video!.srtp.keyBase64, byKind.audio!.srtp.keyBase64]).size).toBe(3);

    expect(await call({ op: 'resume', tapId: opened.tapId })).toEqual({ status: 'resumed', offsetMs: 4321 });
    expect(await call({ op: 'heartbeat', tapId: opened.tapId })).toEqual({ status: 'ok' });

    ended.add(media.id);
    live.delete(media.id as BroadcastId);
    tapServer.broadcastEnded(media.id as BroadcastId);
    media.close();
    expect((await closedAnnouncement(opened.tapId)).reason).toBe('ended');
    // A late heartbeat learns why; asking again for an ended broadcast says so.
    expect(await call({ op: 'heartbeat', tapId: opened.tapId })).toEqual({ status: 'closed', reason: 'ended' });
    expect(await call({ op: 'open', broadcastId: media.id, ...target })).toEqual({ status: 'ended' });
  });

  it('says not-ready until the broadcaster sends, and waits briefly for the second track', async () => {
    const media = await liveBroadcast([]);
    expect(await call({ op: 'open', broadcastId: media.id, ...target })).toEqual({ status: 'not-ready' });
    const t = await media.createSendTransport();
    await media.produce({ transportId: t.id, kind: 'video', rtpParameters: videoSimulcastRtpParameters });
    expect(await call({ op: 'open', broadcastId: media.id, ...target })).toEqual({ status: 'not-ready' });
    await new Promise((r) => setTimeout(r, 350));
    const opened = await call({ op: 'open', broadcastId: media.id, ...target });
    expect(opened.status).toBe('opened');
    if (opened.status === 'opened') expect(opened.streams.map((s) => s.kind)).toEqual(['video']);
  });

  it('closes the tap when the broadcaster tracks change, and when heartbeats stop', async () => {
    const media = await liveBroadcast(['audio', 'video']);
    const first = await call({ op: 'open', broadcastId: media.id, ...target });
    if (first.status !== 'opened') throw new Error(first.status);
    // The broadcaster reconnects: its producers close.
    media.closeSendTransport();
    expect((await closedAnnouncement(first.tapId)).reason).toBe('producers-changed');

    const t = await media.createSendTransport();
    await media.produce({ transportId: t.id, kind: 'audio', rtpParameters: audioRtpParameters });
    await media.produce({ transportId: t.id, kind: 'video', rtpParameters: videoSimulcastRtpParameters });
    const second = await call({ op: 'open', broadcastId: media.id, ...target });
    if (second.status !== 'opened') throw new Error(second.status);
    // No heartbeat: the lease (1.5 s here) runs out.
    expect((await closedAnnouncement(second.tapId)).reason).toBe('lease-expired');
  });

  it('stays silent for broadcasts hosted elsewhere and for invalid requests (callers time out)', async () => {
    // Without the recorder's SRTP key no tap opens.
    const live1 = await liveBroadcast(['audio', 'video']);
    const { srtp: _srtp, ...noKey } = target;
    await expect(clientRpc.call(channels.rpc, { op: 'open', broadcastId: live1.id, ...noKey }, 500)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(clientRpc.call(channels.rpc, { op: 'open', broadcastId: 'b_elsewhere01', ...target }, 500)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    await expect(clientRpc.call(channels.rpc, { op: 'open', broadcastId: '../etc', host: 'x' }, 500)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    await expect(clientRpc.call(channels.rpc, 'garbage', 500)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});
