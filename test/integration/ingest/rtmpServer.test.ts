import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../../common/errors.ts';
import type { EndReason } from '../../../common/protocol/events.ts';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import type { Broadcast, WorkerPool } from '../../../sfu/index.ts';
import type { RtpIngest, RtpIngestSession, StreamKeyAuthority } from '../../../signaling/ingest/ports.ts';
import type { IngestWarning } from '../../../signaling/ingest/rtmp/RtmpConnection.ts';
import { RtmpServer } from '../../../signaling/ingest/rtmp/RtmpServer.ts';
import type { UserRecord } from '../../../signaling/store/UserStore.ts';
import { killRtmpEncoders, startRtmpEncoder } from '../../../testkit/media.ts';
import { H264Viewer } from '../../helpers/h264Viewer.ts';
import { createTestBroadcast, createTestPool, processAlive, silentLogger } from '../../helpers/sfu.ts';

/**
 * The RTMP listener alone (signaling/ingest/rtmp/), against real ffmpeg encoders and a real
 * mediasoup broadcast, with the stream keys and the live domain behind their ports
 * (signaling/ingest/ports.ts) played by this file: it sees exactly what the listener asks of
 * them. test/integration/ingest/rtmp.test.ts runs the same listener in the whole server.
 */

const KEY = 'sk_rtmp_module_test_key_0001';

/** A session over one real broadcast; records how it was let go. */
class TestSession implements RtpIngestSession {
  readonly keyId = 'key1';
  ended = false;
  dropped = false;
  readonly closed: Promise<EndReason>;
  constructor(readonly media: Broadcast) {
    this.closed = new Promise((resolve) => media.once('close', () => resolve('stopped')));
  }
  get broadcastId(): BroadcastId {
    return this.media.id as BroadcastId;
  }
  produceRtp(kind: 'audio' | 'video', rtpParameters: Parameters<Broadcast['produceRtp']>[0]['rtpParameters']) {
    return this.media.produceRtp({ kind, rtpParameters });
  }
  end(): Promise<void> {
    this.ended = true;
    this.media.close();
    return Promise.resolve();
  }
  drop(): void {
    this.dropped = true;
    this.media.close();
  }
}

let pool: WorkerPool;
let rtmp: RtmpServer;
const sessions: TestSession[] = [];
const warnings: Array<{ broadcastId: BroadcastId; warning: IngestWarning }> = [];
let opens = 0;

const authority: StreamKeyAuthority = {
  authorise: (secret) =>
    Promise.resolve(
      secret === KEY ? { keyId: 'key1', user: { id: 'u_rtmp' } as unknown as UserRecord, title: 'From an encoder', visibility: 'public' as const } : undefined,
    ),
};
const broadcasts: RtpIngest = {
  async open(secret) {
    opens += 1;
    if (secret !== KEY) throw new AppError('UNAUTHENTICATED', 'unknown key');
    if (sessions.some((s) => !s.ended && !s.dropped)) throw new AppError('ALREADY_LIVE', 'you are live already');
    const session = new TestSession(await createTestBroadcast(pool));
    sessions.push(session);
    return session;
  },
};

const url = (key = KEY, app = 'live') => `rtmp://127.0.0.1:${String(rtmp.address.port)}/${app}/${key}`;

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  pool = await createTestPool();
  rtmp = await RtmpServer.open(
    { host: '127.0.0.1', port: 0, maxConnections: 10, publishTimeoutMs: 2000, mediaTimeoutMs: 3000, keyframeWarningMs: 4000 },
    { authority, broadcasts, warnings: { warn: (broadcastId, warning) => warnings.push({ broadcastId, warning }) }, logger: silentLogger() },
  );
});

afterEach(async () => {
  await killRtmpEncoders();
  await until('every RTMP connection closed', () => rtmp.connectionCount === 0 || undefined);
  for (const s of sessions) s.media.close();
  sessions.length = 0;
  warnings.length = 0;
  opens = 0;
});

afterAll(async () => {
  await rtmp?.close();
  await pool?.close();
});

describe('RTMP ingest: the listener with real encoders', () => {
  it('takes H.264 + AAC from ffmpeg: video copied, audio as Opus, decodable by a viewer; unpublish ends it', async () => {
    const encoder = startRtmpEncoder(url());
    const session = await until('the broadcast opened', () => sessions[0]);
    const media = session.media;
    await until('two producers', () => media.producers.length === 2 || undefined);
    expect(media.producers.map((p) => p.kind).sort()).toEqual(['audio', 'video']);
    const video = media.producers.find((p) => p.kind === 'video');
    if (!video) throw new Error('no video producer');
    const router = media.routers[0]?.router;
    if (!router) throw new Error('no router');
    const viewer = await H264Viewer.open(router, video.id);
    try {
      // testsrc2 at 30 fps with a keyframe every second: a viewer decodes frames within 2 s.
      const frames = await until('decoded frames', async () => ((await viewer.decodedFrames()) >= 30 ? viewer.decodedFrames() : undefined), 15_000);
      expect(frames).toBeGreaterThanOrEqual(30);
      const audioProducer = [...(media.routers[0]?.producers().values() ?? [])].find((p) => p.kind === 'audio');
      const audioStats = await audioProducer?.getStats();
      expect(audioStats?.[0]?.byteCount ?? 0).toBeGreaterThan(0);
      expect(audioProducer?.rtpParameters.codecs[0]?.mimeType).toBe('audio/opus');
    } finally {
      viewer.close();
    }
    expect(warnings).toEqual([]);
    await encoder.unpublish();
    await until('the session ended', () => session.ended || undefined);
    expect(session.dropped).toBe(false);
    expect(media.closed).toBe(true);
  }, 40_000);

  it('refuses a wrong key at publish: ffmpeg fails, nothing opens', async () => {
    const encoder = startRtmpEncoder(url('sk_not_a_key'));
    const { code, stderr } = await encoder.exited;
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/unknown or revoked stream key/);
    // Refused through the ingest core all the same (where attempts count against the address).
    expect(opens).toBe(1);
    expect(sessions).toEqual([]);
  });

  it('refuses another application than live', async () => {
    const { code, stderr } = await startRtmpEncoder(url(KEY, 'other')).exited;
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/live/);
    expect(opens).toBe(0);
  });

  it('refuses an audio-only stream, and a codec other than H.264, before opening anything', async () => {
    const audioOnly = await startRtmpEncoder(url(), { audioOnly: true }).exited;
    expect(audioOnly.code).not.toBe(0);
    const sorenson = await startRtmpEncoder(url(), { videoCodec: 'flv1' }).exited;
    expect(sorenson.code).not.toBe(0);
    const high = await startRtmpEncoder(url(), { profile: 'high' }).exited;
    expect(high.code).not.toBe(0);
    expect(opens).toBe(0);
    expect(sessions).toEqual([]);
  }, 30_000);

  it('a lost connection drops the session (its grace period), and ffmpeg goes with it', async () => {
    const encoder = startRtmpEncoder(url());
    const session = await until('the broadcast opened', () => sessions[0]);
    await until('two producers', () => session.media.producers.length === 2 || undefined);
    await encoder.kill();
    await until('the session dropped', () => session.dropped || undefined);
    expect(session.ended).toBe(false);
    expect(rtmp.connectionCount).toBe(0);
  }, 30_000);

  it('a second encoder with the same key is refused (ALREADY_LIVE) and the first goes on', async () => {
    startRtmpEncoder(url());
    const session = await until('the broadcast opened', () => sessions[0]);
    await until('two producers', () => session.media.producers.length === 2 || undefined);
    const second = await startRtmpEncoder(url()).exited;
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/ALREADY_LIVE/);
    expect(sessions).toHaveLength(1);
    expect(session.ended || session.dropped).toBe(false);
    // The first one's video still arrives after the refusal.
    const bytes = async () => {
      const video = [...(session.media.routers[0]?.producers().values() ?? [])].find((p) => p.kind === 'video');
      return (await video?.getStats())?.[0]?.byteCount ?? 0;
    };
    const after = await bytes();
    await until('more video', async () => ((await bytes()) > after ? true : undefined));
  }, 30_000);

  it('a truncated handshake (100 bytes, then close) or a silent connection leaves nothing open; a live stream is unaffected', async () => {
    const encoder = startRtmpEncoder(url());
    const session = await until('the broadcast opened', () => sessions[0]);
    const junk = net.connect(rtmp.address.port, '127.0.0.1');
    await new Promise<void>((resolve) => junk.once('connect', () => resolve()));
    junk.end(Buffer.concat([Buffer.from([3]), Buffer.alloc(99, 7)]));
    const silent = net.connect(rtmp.address.port, '127.0.0.1');
    const silentClosed = new Promise<void>((resolve) => silent.once('close', () => resolve()));
    // The silent one is closed by the server after publishTimeoutMs (2 s).
    await silentClosed;
    await until('only the encoder left', () => rtmp.connectionCount === 1 || undefined);
    expect(sessions).toHaveLength(1);
    expect(session.ended || session.dropped).toBe(false);
    expect(processAlive(encoder.pid)).toBe(true);
  }, 30_000);

  it('closes a connection that declares a 1 MiB message before publishing (no allocation on a stranger’s word)', async () => {
    // A listener of its own that would wait a minute for a publish: only the size check closes the connection.
    const patient = await RtmpServer.open(
      { host: '127.0.0.1', port: 0, maxConnections: 10, publishTimeoutMs: 60_000, mediaTimeoutMs: 3000, keyframeWarningMs: 4000 },
      { authority, broadcasts, warnings: { warn: () => undefined }, logger: silentLogger() },
    );
    const socket = net.connect(patient.address.port, '127.0.0.1');
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    let received = 0;
    const handshakeDone = new Promise<void>((resolve) => {
      socket.on('data', (d: Buffer) => {
        received += d.length;
        if (received >= 1 + 1536 * 2) resolve();
      });
    });
    socket.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536)])); // C0 + C1 (simple handshake)
    await handshakeDone;
    socket.write(Buffer.alloc(1536)); // C2
    // A type-0 chunk on chunk stream 3: timestamp 0, length 1 MiB, type 20 (AMF0 command), stream 0.
    socket.write(Buffer.from([0x03, 0, 0, 0, 0x10, 0x00, 0x00, 20, 0, 0, 0, 0, 1, 2, 3]));
    await closed;
    await until('no connection', () => patient.connectionCount === 0 || undefined);
    await patient.close();
    expect(opens).toBe(0);
  });

  it('says which setting to change when its port is taken', async () => {
    const taken = rtmp.address.port;
    await expect(
      RtmpServer.open(
        { host: '127.0.0.1', port: taken, maxConnections: 1, publishTimeoutMs: 1000, mediaTimeoutMs: 1000, keyframeWarningMs: 4000 },
        { authority, broadcasts, warnings: { warn: () => undefined }, logger: silentLogger() },
      ),
    ).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\): set ingest\.rtmp\.port/);
  });

  it('warns once when keyframes are more than 4 s apart (-g 300 at 30 fps)', async () => {
    startRtmpEncoder(url(), { gop: 300 });
    const session = await until('the broadcast opened', () => sessions[0]);
    const warned = await until('a warning', () => warnings[0], 15_000);
    expect(warned.broadcastId).toBe(session.broadcastId);
    expect(warned.warning.code).toBe('keyframe-interval');
    expect(warned.warning.message).toMatch(/keyframe interval to 2 s/);
    expect(warnings).toHaveLength(1);
  }, 30_000);

  it('warns of B-frames (main profile with -bf 2), and takes the stream', async () => {
    startRtmpEncoder(url(), { profile: 'main', bframes: 2 });
    const session = await until('the broadcast opened', () => sessions[0]);
    const warned = await until('a warning', () => warnings[0], 15_000);
    expect(warned).toMatchObject({ broadcastId: session.broadcastId, warning: { code: 'b-frames' } });
    const video = [...(session.media.routers[0]?.producers().values() ?? [])].find((p) => p.kind === 'video');
    expect(video?.rtpParameters.codecs[0]?.parameters).toMatchObject({ 'profile-level-id': '4d001f', 'packetization-mode': 1 });
  }, 30_000);

  it('a broadcast ended elsewhere (End on the go-live page) disconnects its encoder', async () => {
    const encoder = startRtmpEncoder(url());
    const session = await until('the broadcast opened', () => sessions[0]);
    await until('two producers', () => session.media.producers.length === 2 || undefined);
    session.media.close();
    const { code } = await encoder.exited;
    expect(code).not.toBe(0);
    await until('no connection', () => rtmp.connectionCount === 0 || undefined);
    expect(session.ended || session.dropped).toBe(false);
  }, 30_000);
});
