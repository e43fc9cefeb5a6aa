import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastSummary } from '../../../common/protocol/events.ts';
import type { IngestSession, IngestSessions, RtpIngestSession } from '../../../signaling/ingest/ports.ts';
import { audioProducerRtpParameters, SMOKE_CLIP, startRtpSender, synthesiseClip, videoProducerRtpParameters, type RtpSender } from '../../../testkit/media.ts';
import { connect, ok, request, signUp, startTestServer, type ClientSocket, type TestServer } from '../../../testkit/server.ts';
import { audioRtpParameters, clientDtlsParameters, videoSimulcastRtpParameters } from '../../fixtures/rtp.ts';
import { spawnWorkers, type WorkersProcess } from '../../../testkit/workers.ts';

/**
 * The ingest core (signaling/ingest/IngestService.ts) on the real server: an encoder's session
 * makes the same broadcast as the go-live page — listed, joined, recorded into a replay — and
 * resumes it within the grace period; the refusals in the order docs/ingest.md gives them.
 * Media is real: ffmpeg sends a synthetic VP8 + Opus clip as plain RTP into `produceRtp`.
 */
describe('ingest: encoders going live with a stream key (real server, mediasoup, ffmpeg)', () => {
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  const senders: RtpSender[] = [];
  const sessions: IngestSession[] = [];
  let clip: string;

  beforeAll(async () => {
    clip = await synthesiseClip(SMOKE_CLIP);
    server = await startTestServer({ live: { graceSeconds: 30 } });
  }, 120_000);
  afterEach(async () => {
    for (const s of senders.splice(0)) await s.stop();
    for (const s of sessions.splice(0)) await s.end();
    for (const s of sockets.splice(0)) s.disconnect();
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function person(username: string) {
    const auth = await signUp(server.url, username);
    const { secret, key } = await server.stores.streamKeys.create(auth.user.id, { name: 'OBS', title: `${username} from OBS`, visibility: 'public' });
    return { auth, secret, key };
  }

  async function open<V extends keyof IngestSessions = 'rtmp'>(secret: string, via: V = 'rtmp' as V, address = '192.0.2.10'): Promise<IngestSessions[V]> {
    const session = await server.ingest.broadcasts.open(secret, address, via);
    sessions.push(session);
    return session;
  }

  async function socketOf(token?: string): Promise<ClientSocket> {
    const s = await connect(server.url, token);
    sockets.push(s);
    return s;
  }

  /** ffmpeg sending the clip into the session's two plain RTP producers. */
  async function sendMedia(session: RtpIngestSession): Promise<RtpSender> {
    const video = await session.produceRtp('video', videoProducerRtpParameters);
    const audio = await session.produceRtp('audio', audioProducerRtpParameters);
    const sender = startRtpSender(clip, video.rtp, audio.rtp);
    senders.push(sender);
    return sender;
  }

  async function summary(id: string, token?: string): Promise<BroadcastSummary> {
    const res = await fetch(`${server.url}/api/broadcasts/${id}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    expect(res.status).toBe(200);
    return ((await res.json()) as { broadcast: BroadcastSummary }).broadcast;
  }

  async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const mediaFlows = (id: string) => until('RTP to reach the broadcast', async () => (await server.live.onAir(id as BroadcastSummary['id'])?.media.mediaReceived()) === true);

  it('goes live as a broadcast like any: listed, joined with chat and its count, the page’s End ends it', async () => {
    const alice = await person('ingest_alice');
    const session = await open(alice.secret);
    await sendMedia(session);
    await mediaFlows(session.broadcastId);

    expect(await summary(session.broadcastId)).toMatchObject({ status: 'live', title: 'ingest_alice from OBS', visibility: 'public', source: 'rtmp', owner: { username: 'ingest_alice' } });
    const list = (await (await fetch(`${server.url}/api/broadcasts`)).json()) as { broadcasts: BroadcastSummary[] };
    expect(list.broadcasts.map((b) => b.id)).toContain(session.broadcastId);
    expect((await server.stores.streamKeys.list(alice.auth.user.id))[0]?.lastUsedAt).toEqual(expect.any(String));

    const bob = await signUp(server.url, 'ingest_bob');
    const viewer = await socketOf(bob.token);
    const joined = await ok(viewer, 'broadcast:join', { broadcastId: session.broadcastId });
    expect(joined.broadcast).toMatchObject({ id: session.broadcastId, source: 'rtmp' });
    expect(server.live.onAir(session.broadcastId)?.media.producers.map((p) => p.kind).sort()).toEqual(['audio', 'video']);

    // The owner's go-live page: joins to see chat and counts, chats, cannot take the media, ends it.
    const page = await socketOf(alice.auth.token);
    await ok(page, 'broadcast:join', { broadcastId: session.broadcastId });
    expect(server.live.viewerCount(session.broadcastId)).toBe(1);
    await ok(page, 'chat:send', { broadcastId: session.broadcastId, text: 'hello from the page' });
    expect(await request(page, 'broadcast:resume', { broadcastId: session.broadcastId })).toMatchObject({ ok: false, error: { code: 'WRONG_STATE' } });
    await ok(page, 'broadcast:stop', { broadcastId: session.broadcastId });
    await expect(session.closed).resolves.toBe('stopped');
    expect(await summary(session.broadcastId)).toMatchObject({ status: 'ended' });
  });

  it('waits for a dropped encoder and resumes the same broadcast when it comes back within the grace period', async () => {
    const carol = await person('ingest_carol');
    const first = await open(carol.secret);
    const sender = await sendMedia(first);
    await mediaFlows(first.broadcastId);

    await sender.stop();
    first.drop();
    first.drop();
    await until('the broadcast to be reconnecting', async () => (await summary(first.broadcastId)).status === 'reconnecting');

    const second = await open(carol.secret, 'rtmp', '192.0.2.11');
    expect(second.broadcastId).toBe(first.broadcastId);
    expect(await summary(second.broadcastId)).toMatchObject({ status: 'live', source: 'rtmp' });
    await sendMedia(second);
    await until('the resumed media', async () => (server.live.onAir(second.broadcastId)?.media.producers.length ?? 0) === 2);
    await second.end();
    await second.end();
    await expect(second.closed).resolves.toBe('stopped');
    expect(await summary(second.broadcastId)).toMatchObject({ status: 'ended' });
  });

  it('keeps one live broadcast per person: ALREADY_LIVE from a browser, another encoder or another key', async () => {
    const dave = await person('ingest_dave');
    const other = await server.stores.streamKeys.create(dave.auth.user.id, { name: 'Second', title: 'second', visibility: 'public' });

    // Live from the browser first.
    const browser = await socketOf(dave.auth.token);
    const { broadcast } = await ok(browser, 'broadcast:start', { title: 'from the page', visibility: 'public', invitees: [] });
    await expect(server.ingest.broadcasts.open(dave.secret, '192.0.2.12', 'rtmp')).rejects.toMatchObject({ code: 'ALREADY_LIVE' });
    await ok(browser, 'broadcast:stop', { broadcastId: broadcast.id });

    // Live from an encoder: the page, the same key from a second encoder, and another key are refused.
    const session = await open(dave.secret);
    expect(await request(browser, 'broadcast:start', { title: 'again', visibility: 'public', invitees: [] })).toMatchObject({ ok: false, error: { code: 'ALREADY_LIVE' } });
    await expect(server.ingest.broadcasts.open(dave.secret, '192.0.2.13', 'whip')).rejects.toMatchObject({ code: 'ALREADY_LIVE', message: /another encoder/ });
    await expect(server.ingest.broadcasts.open(other.secret, '192.0.2.13', 'whip')).rejects.toMatchObject({ code: 'ALREADY_LIVE' });
    // Nothing of the refused ones was left behind: still the one broadcast, its encoder still the broadcaster.
    expect(server.live.onAir(session.broadcastId)?.broadcasterPeerId).toMatch(/^ingest:/);
    expect((await server.stores.broadcasts.findLiveByOwner(dave.auth.user.id))?.id).toBe(session.broadcastId);
  });

  it('refuses unknown and revoked keys (UNAUTHENTICATED), also for a resume, and suspended owners (SUSPENDED)', async () => {
    const erin = await person('ingest_erin');
    await expect(server.ingest.broadcasts.open('sk_not-a-key', '192.0.2.14', 'rtmp')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(server.ingest.broadcasts.open(`sk_${'A'.repeat(43)}`, '192.0.2.14', 'rtmp')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });

    const session = await open(erin.secret);
    session.drop();
    expect(await server.stores.streamKeys.revoke(erin.auth.user.id, erin.key.id)).toBe(true);
    await expect(server.ingest.broadcasts.open(erin.secret, '192.0.2.14', 'rtmp')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(await summary(session.broadcastId, erin.auth.token)).toMatchObject({ status: 'reconnecting' });
    await server.live.endBroadcast(session.broadcastId, 'ended-by-admin');
    await expect(session.closed).resolves.toBe('ended-by-admin');

    const frank = await person('ingest_frank');
    await server.stores.suspensions.suspend(frank.auth.user.id, 'spam', 'test');
    await expect(server.ingest.broadcasts.open(frank.secret, '192.0.2.15', 'rtmp')).rejects.toMatchObject({ code: 'SUSPENDED', message: /spam/ });
    expect(await server.stores.broadcasts.findLiveByOwner(frank.auth.user.id)).toBeUndefined();
  });

  it('lets a broadcast live with a key go on when the key is revoked; it starts nothing more', async () => {
    const hal = await person('ingest_hal');
    const session = await open(hal.secret);
    await server.stores.streamKeys.revoke(hal.auth.user.id, hal.key.id);
    expect(await summary(session.broadcastId)).toMatchObject({ status: 'live' });
    expect(server.live.onAir(session.broadcastId)?.broadcasterPeerId).toMatch(/^ingest:/);
    await session.end();
    await expect(server.ingest.broadcasts.open(hal.secret, '192.0.2.16', 'rtmp')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('feeds a WHIP encoder’s WebRTC producers through the session (transport, DTLS, audio and simulcast video)', async () => {
    const ivy = await person('ingest_ivy');
    const session = await open(ivy.secret, 'whip');
    const transport = await session.createTransport();
    await session.connectTransport(transport.id, clientDtlsParameters);
    const audio = await session.produce(transport.id, 'audio', audioRtpParameters);
    const video = await session.produce(transport.id, 'video', videoSimulcastRtpParameters);
    expect(server.live.onAir(session.broadcastId)?.media.producers.map((p) => p.id).sort()).toEqual([audio.producerId, video.producerId].sort());
    // Another encoder's session cannot feed it: it is refused before it exists.
    await expect(server.ingest.broadcasts.open(ivy.secret, '192.0.2.17', 'whip')).rejects.toMatchObject({ code: 'ALREADY_LIVE' });
    await expect(session.produce(transport.id, 'video', videoSimulcastRtpParameters)).rejects.toMatchObject({ code: 'WRONG_STATE' });
    session.drop();
    await expect(session.produce(transport.id, 'audio', audioRtpParameters)).rejects.toMatchObject({ code: 'WRONG_STATE' });
    await server.live.endBroadcast(session.broadcastId, 'ended-by-admin');
  });

  it('starts private broadcasts for a private key: only its owner sees them', async () => {
    const gina = await signUp(server.url, 'ingest_gina');
    const { secret } = await server.stores.streamKeys.create(gina.user.id, { name: 'Private', title: 'just me', visibility: 'private' });
    const session = await open(secret);
    expect(await summary(session.broadcastId, gina.token)).toMatchObject({ visibility: 'private', source: 'rtmp' });
    const res = await fetch(`${server.url}/api/broadcasts/${session.broadcastId}`);
    expect(res.status).toBe(404);
  });
});

describe('ingest: the replay, sunset and rate limits', () => {
  const servers: TestServer[] = [];
  const workers: WorkersProcess[] = [];
  const senders: RtpSender[] = [];
  afterEach(async () => {
    for (const s of senders.splice(0)) await s.stop();
    for (const w of workers.splice(0)) await w.stop();
    for (const s of servers.splice(0)) await s.stop();
  });

  it('records an encoder’s broadcast into a replay like any other', async () => {
    const clip = await synthesiseClip(SMOKE_CLIP);
    const server = await startTestServer();
    servers.push(server);
    workers.push(await spawnWorkers(server.config));
    const auth = await signUp(server.url, 'ingest_rec');
    const { secret } = await server.stores.streamKeys.create(auth.user.id, { name: 'OBS', title: 'recorded', visibility: 'public' });
    const session = await server.ingest.broadcasts.open(secret, '192.0.2.20', 'rtmp');
    const video = await session.produceRtp('video', videoProducerRtpParameters);
    const audio = await session.produceRtp('audio', audioProducerRtpParameters);
    senders.push(startRtpSender(clip, video.rtp, audio.rtp));
    await new Promise((r) => setTimeout(r, 4000));
    await session.end();
    const deadline = Date.now() + 90_000;
    let state: string | undefined;
    while (Date.now() < deadline) {
      state = (await server.stores.replays.get(session.broadcastId))?.state;
      if (state === 'ready' || state === 'failed') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(state).toBe('ready');
  }, 150_000);

  it('refuses new ingest from read-only on (SERVICE_SUNSET) and ends the live one', async () => {
    let now = Date.parse('2031-06-01T12:00:00.000Z');
    const server = await startTestServer({ recording: { enabled: false } }, { clock: () => now });
    servers.push(server);
    const auth = await signUp(server.url, 'ingest_sunset');
    const { secret } = await server.stores.streamKeys.create(auth.user.id, { name: 'OBS', title: 'sunset', visibility: 'public' });
    const session = await server.ingest.broadcasts.open(secret, '192.0.2.21', 'rtmp');
    const iso = (ms: number) => new Date(ms).toISOString();
    const H = 3_600_000;
    await server.stores.sunset.schedule({ announceAt: iso(now + H), readOnlyAt: iso(now + 2 * H), exportOnlyAt: iso(now + 3 * H), offAt: iso(now + 4 * H), message: '' }, 'test');
    now += 2 * H + 1000;
    await server.sunset.refresh();
    await expect(session.closed).resolves.toBe('service-closing');
    await expect(server.ingest.broadcasts.open(secret, '192.0.2.21', 'rtmp')).rejects.toMatchObject({ code: 'SERVICE_SUNSET' });
  });

  it('limits ingest attempts per address (any key) and starts per key', async () => {
    const server = await startTestServer({ recording: { enabled: false }, ingest: { opensPerAddress: 3, opensPerKey: 2, openWindowSeconds: 3600 } });
    servers.push(server);
    const auth = await signUp(server.url, 'ingest_limits');
    const { secret } = await server.stores.streamKeys.create(auth.user.id, { name: 'OBS', title: 'limits', visibility: 'public' });
    const open = (address: string, key = secret) => server.ingest.broadcasts.open(key, address, 'rtmp');

    // Per address: wrong keys count, and then the right key is refused from there too.
    for (let i = 0; i < 3; i++) await expect(open('192.0.2.30', `sk_${String(i).repeat(43)}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(open('192.0.2.30')).rejects.toMatchObject({ code: 'RATE_LIMITED' });

    // Per key: two starts, from any address; the third is refused.
    const first = await open('192.0.2.31');
    await first.end();
    const second = await open('192.0.2.32');
    await second.end();
    await expect(open('192.0.2.33')).rejects.toMatchObject({ code: 'RATE_LIMITED', message: /stream key/ });
    expect(await server.stores.broadcasts.findLiveByOwner(auth.user.id)).toBeUndefined();
  });
});
