import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastSummary, ServerToClientEvents } from '../../../common/protocol/events.ts';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import { killRtmpEncoders, startRtmpEncoder, type RtmpEncoderOptions } from '../../../testkit/media.ts';
import { connect, nextEvent, ok, signUp, startTestServer, type ClientSocket, type TestServer } from '../../../testkit/server.ts';
import { goLiveFake } from '../../helpers/fakePeers.ts';
import { H264Viewer } from '../../helpers/h264Viewer.ts';

/**
 * RTMP ingest in the whole server (docs/ingest.md, "RTMP"): real ffmpeg encoders publishing to
 * the listener with stream keys made in the store, the real ingest core behind it (the same
 * broadcast as the go-live page's), socket.io clients in the broadcast's room. The listener's
 * refusals one by one are in rtmpServer.test.ts.
 */
describe('RTMP ingest: encoders on the real server', () => {
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  let people = 0;

  beforeAll(async () => {
    server = await startTestServer({ live: { graceSeconds: 20 }, ingest: { rtmp: { enabled: true, mediaTimeoutSeconds: 3 } } });
  }, 120_000);
  afterEach(async () => {
    await killRtmpEncoders();
    for (const s of sockets.splice(0)) s.disconnect();
    // Each test is a person of its own: a broadcast one leaves in its grace period ends by itself, or with the server.
  });
  afterAll(async () => {
    await killRtmpEncoders();
    await server?.stop();
  });

  async function person() {
    people += 1;
    const auth = await signUp(server.url, `rtmp_person_${String(people)}`);
    const { secret } = await server.stores.streamKeys.create(auth.user.id, { name: 'OBS', title: `Studio ${String(people)}`, visibility: 'public' });
    return { auth, secret };
  }

  const rtmpUrl = (secret: string) => `rtmp://127.0.0.1:${String(server.rtmp?.address.port)}/live/${secret}`;
  const encode = (secret: string, o?: RtmpEncoderOptions) => startRtmpEncoder(rtmpUrl(secret), o);

  async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const liveOf = (userId: string, status: 'live' | 'reconnecting' = 'live') =>
    until(`a ${status} broadcast`, async () => {
      const b = await server.stores.broadcasts.findLiveByOwner(userId as never);
      return b?.status === status ? b : undefined;
    });
  const mediaFlows = (id: BroadcastId) => until('RTP at the broadcast', async () => ((await server.live.onAir(id)?.media.mediaReceived()) === true ? true : undefined));

  async function summary(id: string): Promise<BroadcastSummary> {
    const res = await fetch(`${server.url}/api/broadcasts/${id}`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { broadcast: BroadcastSummary }).broadcast;
  }

  async function viewer(id: BroadcastId): Promise<ClientSocket> {
    const s = await connect(server.url);
    sockets.push(s);
    await ok(s, 'broadcast:join', { broadcastId: id });
    return s;
  }

  it('an encoder goes live with its key: the key’s title, H.264 decodable by a viewer, Opus audio; unpublish ends it at once', async () => {
    const { auth, secret } = await person();
    const encoder = encode(secret);
    const record = await liveOf(auth.user.id);
    await mediaFlows(record.id);
    const live = await summary(record.id);
    expect(live).toMatchObject({ title: 'Studio 1', visibility: 'public', status: 'live', source: 'rtmp' });
    const media = server.live.onAir(record.id)?.media;
    const origin = media?.routers[0];
    const video = [...(origin?.producers().values() ?? [])].find((p) => p.kind === 'video');
    const audio = [...(origin?.producers().values() ?? [])].find((p) => p.kind === 'audio');
    if (!origin || !video || !audio) throw new Error('no producers');
    expect(audio.rtpParameters.codecs[0]?.mimeType).toBe('audio/opus');
    const h264 = await H264Viewer.open(origin.router, video.id);
    try {
      await until('30 decoded frames', async () => ((await h264.decodedFrames()) >= 30 ? true : undefined), 15_000);
    } finally {
      h264.close();
    }
    const watcher = await viewer(record.id);
    const ended = nextEvent(watcher, 'broadcast:ended', 10_000);
    await encoder.unpublish();
    expect((await ended).reason).toBe('stopped');
    expect((await server.stores.broadcasts.get(record.id))?.status).toBe('ended');
  }, 60_000);

  it('a wrong key is refused at publish: ffmpeg fails, nothing goes live', async () => {
    const { auth, secret } = await person();
    const { code, stderr } = await encode(`${secret.slice(0, -4)}AAAA`).exited;
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/unknown or revoked stream key/);
    expect(await server.stores.broadcasts.findLiveByOwner(auth.user.id)).toBeUndefined();
    await until('no RTMP connection', () => (server.rtmp?.connectionCount === 0 ? true : undefined));
  });

  it('wrong keys count against the address: past ingest.opensPerAddress the encoder is told RATE_LIMITED', async () => {
    const limited = await startTestServer({ ingest: { opensPerAddress: 2, rtmp: { enabled: true, mediaTimeoutSeconds: 3 } } });
    try {
      const url = `rtmp://127.0.0.1:${String(limited.rtmp?.address.port)}/live/sk_guess`;
      const results = [];
      for (let i = 0; i < 3; i += 1) results.push(await startRtmpEncoder(`${url}${String(i)}`).exited);
      expect(results.map((r) => r.code === 0)).toEqual([false, false, false]);
      expect(results[1]?.stderr).toMatch(/unknown or revoked stream key/);
      expect(results[2]?.stderr).toMatch(/RATE_LIMITED/);
    } finally {
      await limited.stop();
    }
  }, 60_000);

  it('the encoder lost and back within the grace period resumes the same broadcast', async () => {
    const { auth, secret } = await person();
    const first = encode(secret);
    const record = await liveOf(auth.user.id);
    await mediaFlows(record.id);
    const watcher = await viewer(record.id);
    const reconnecting = nextEvent(watcher, 'broadcast:status', 10_000);
    await first.kill();
    expect((await reconnecting).status).toBe('reconnecting');
    await liveOf(auth.user.id, 'reconnecting');
    const back = nextEvent(watcher, 'broadcast:status', 15_000);
    encode(secret);
    expect(await back).toEqual({ broadcastId: record.id, status: 'live' });
    const resumed = await liveOf(auth.user.id);
    expect(resumed.id).toBe(record.id);
    // The new connection's producers (the lost one's closed with it) receive its media.
    await until('video from the new connection', async () => {
      const producers = [...(server.live.onAir(record.id)?.media.routers[0]?.producers().values() ?? [])];
      const video = producers.find((p) => p.kind === 'video' && !p.closed);
      return ((await video?.getStats())?.[0]?.byteCount ?? 0) > 0 ? true : undefined;
    });
  }, 60_000);

  it('a second encoder with the same key, or one whose owner is live from the go-live page, is refused; the live broadcast is untouched', async () => {
    const { auth, secret } = await person();
    encode(secret);
    const record = await liveOf(auth.user.id);
    await mediaFlows(record.id);
    const second = await encode(secret).exited;
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/ALREADY_LIVE/);
    expect((await liveOf(auth.user.id)).id).toBe(record.id);

    // The owner of another key is live from the browser: the encoder is refused after its publish (the log says ALREADY_LIVE).
    const other = await person();
    const page = await connect(server.url, other.auth.token);
    sockets.push(page);
    const browser = await goLiveFake(page, 'from the page');
    const refused = await encode(other.secret).exited;
    expect(refused.code).not.toBe(0);
    const still = await server.stores.broadcasts.findLiveByOwner(other.auth.user.id);
    expect(still?.id).toBe(browser.id);
    expect(still?.source).toBe('browser');
  }, 60_000);

  it('keyframes 10 s apart (-g 300) warn the broadcast’s room; End on the go-live page disconnects the encoder', async () => {
    const { auth, secret } = await person();
    const encoder = encode(secret, { gop: 300 });
    const record = await liveOf(auth.user.id);
    const owner = await connect(server.url, auth.token);
    sockets.push(owner);
    await ok(owner, 'broadcast:join', { broadcastId: record.id });
    const warning: Parameters<ServerToClientEvents['broadcast:warning']>[0] = await nextEvent(owner, 'broadcast:warning', 15_000);
    expect(warning).toMatchObject({ broadcastId: record.id, code: 'keyframe-interval' });
    expect(warning.message).toMatch(/keyframe interval to 2 s/);
    await ok(owner, 'broadcast:stop', { broadcastId: record.id });
    const { code } = await encoder.exited;
    expect(code).not.toBe(0);
    await until('no RTMP connection', () => (server.rtmp?.connectionCount === 0 ? true : undefined));
  }, 60_000);
});
