import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import { audioRtpParameters, videoSimulcastRtpParameters } from '../../fixtures/rtp.ts';
import { connect, nextEvent, ok, request, signUp, startTestServer, type ClientSocket, type TestServer } from '../../../testkit/server.ts';

/** A DTLS fingerprint shape mediasoup accepts (no handshake happens in these tests). */
const dtlsParameters = {
  role: 'client' as const,
  fingerprints: [{ algorithm: 'sha-256' as const, value: Array.from({ length: 32 }, () => 'AB').join(':') }],
};

describe('live broadcasting over socket.io (real server, real mediasoup)', () => {
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  const open = async (token?: string) => {
    const s = await connect(server.url, token);
    sockets.push(s);
    return s;
  };

  beforeAll(async () => {
    server = await startTestServer({ live: { chatBurst: 5, chatWindowSeconds: 10, heartsPerSecond: 10, heartFlushMs: 50 } });
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await server?.stop();
  });

  /** Signs up, connects, starts a broadcast and produces audio + simulcast video into it. */
  async function goLive(username: string, opts: { visibility?: 'public' | 'private'; invitees?: string[] } = {}) {
    const auth = await signUp(server.url, username);
    const socket = await open(auth.token);
    const { broadcast } = await ok(socket, 'broadcast:start', {
      title: `${username} live`,
      visibility: opts.visibility ?? 'public',
      invitees: opts.invitees ?? [],
    });
    const transport = await ok(socket, 'transport:create', { broadcastId: broadcast.id });
    await ok(socket, 'transport:connect', { broadcastId: broadcast.id, transportId: transport.id, dtlsParameters });
    const audio = await ok(socket, 'produce', { broadcastId: broadcast.id, transportId: transport.id, kind: 'audio', rtpParameters: audioRtpParameters });
    const video = await ok(socket, 'produce', { broadcastId: broadcast.id, transportId: transport.id, kind: 'video', rtpParameters: videoSimulcastRtpParameters });
    return { auth, socket, broadcast, transport, producerIds: [audio.producerId, video.producerId] };
  }

  /** Joins as a viewer and consumes everything the broadcast has. */
  async function watch(socket: ClientSocket, broadcastId: BroadcastId) {
    const joined = await ok(socket, 'broadcast:join', { broadcastId });
    const transport = await ok(socket, 'transport:create', { broadcastId });
    await ok(socket, 'transport:connect', { broadcastId, transportId: transport.id, dtlsParameters });
    const { consumers } = await ok(socket, 'consume', { broadcastId, transportId: transport.id, rtpCapabilities: joined.rtpCapabilities });
    for (const c of consumers) await ok(socket, 'consumer:resume', { broadcastId, consumerId: c.id });
    return { joined, transport, consumers };
  }

  it('fans one broadcast out to two viewers with chat, hearts, counts and the end', async () => {
    const live = await goLive('alice');
    const id = live.broadcast.id;
    expect(live.broadcast).toMatchObject({ status: 'live', visibility: 'public', owner: { username: 'alice' } });

    const bobAuth = await signUp(server.url, 'bob');
    const bob = await open(bobAuth.token);
    const anon = await open();
    const counts = nextEvent(live.socket, 'viewers:count', 5000, (e) => e.count === 2);

    const bobView = await watch(bob, id);
    const anonView = await watch(anon, id);
    expect(bobView.consumers.map((c) => c.kind).sort()).toEqual(['audio', 'video']);
    expect(anonView.consumers.map((c) => c.producerId).sort()).toEqual([...live.producerIds].sort());
    expect((await counts).count).toBe(2);

    // Listed on the home page with its live viewer count.
    const list = (await (await fetch(`${server.url}/api/broadcasts`)).json()) as { broadcasts: Array<{ id: string; viewerCount: number }> };
    expect(list.broadcasts.find((b) => b.id === id)?.viewerCount).toBe(2);

    // Chat from a signed-in viewer reaches everyone, with a broadcast-relative offset.
    const seenByAnon = nextEvent(anon, 'chat:message');
    const seenByAlice = nextEvent(live.socket, 'chat:message');
    const sent = await ok(bob, 'chat:send', { broadcastId: id, text: '  hello from bob  ' });
    expect(sent.message).toMatchObject({ text: 'hello from bob', user: { username: 'bob' } });
    expect(sent.message.offsetMs).toBeGreaterThanOrEqual(0);
    expect((await seenByAnon).id).toBe(sent.message.id);
    expect((await seenByAlice).text).toBe('hello from bob');

    // Hearts are aggregated: three taps arrive as one count.
    const hearts = nextEvent(live.socket, 'hearts');
    for (let i = 0; i < 3; i++) await ok(anon, 'heart:send', { broadcastId: id });
    expect((await hearts).count).toBe(3);

    // A late joiner gets the recent chat.
    const carolAuth = await signUp(server.url, 'carol');
    const carol = await open(carolAuth.token);
    const carolJoin = await ok(carol, 'broadcast:join', { broadcastId: id });
    expect(carolJoin.recentChat.map((m) => m.text)).toEqual(['hello from bob']);
    await ok(carol, 'broadcast:leave', { broadcastId: id });

    const endedBob = nextEvent(bob, 'broadcast:ended');
    const endedAnon = nextEvent(anon, 'broadcast:ended');
    const stopped = await ok(live.socket, 'broadcast:stop', { broadcastId: id });
    expect(stopped.broadcast.status).toBe('ended');
    expect(await endedBob).toEqual({ broadcastId: id, reason: 'stopped' });
    expect((await endedAnon).reason).toBe('stopped');

    const after = await request(bob, 'broadcast:join', { broadcastId: id });
    expect(after).toMatchObject({ ok: false, error: { code: 'BROADCAST_ENDED' } });
  });

  it('answers a join with its receive transport when asked, and serves leave and join again on one connection', async () => {
    const live = await goLive('tessa');
    const id = live.broadcast.id;
    const socket = await open();
    // Without `transport`: no transport in the answer.
    expect('transport' in (await ok(socket, 'broadcast:join', { broadcastId: id }))).toBe(false);
    await ok(socket, 'broadcast:leave', { broadcastId: id });

    const consumeAll = async (joined: Awaited<ReturnType<typeof ok<'broadcast:join'>>>) => {
      const transport = joined.transport!;
      expect(transport.iceCandidates.length).toBeGreaterThan(0);
      await ok(socket, 'transport:connect', { broadcastId: id, transportId: transport.id, dtlsParameters });
      const { consumers } = await ok(socket, 'consume', { broadcastId: id, transportId: transport.id, rtpCapabilities: joined.rtpCapabilities });
      expect(consumers.map((c) => c.producerId).sort()).toEqual([...live.producerIds].sort());
      // Resumed together, as the web client does.
      await Promise.all(consumers.map((c) => ok(socket, 'consumer:resume', { broadcastId: id, consumerId: c.id })));
      return { transportId: transport.id, rtpCapabilities: joined.rtpCapabilities };
    };
    const first = await consumeAll(await ok(socket, 'broadcast:join', { broadcastId: id, transport: true }));

    // Leaving on a connection that stays open (the web client's shared one): its transport is gone.
    await ok(socket, 'broadcast:leave', { broadcastId: id });
    expect(await request(socket, 'consume', { broadcastId: id, ...first })).toMatchObject({ ok: false, error: { code: 'NOT_JOINED' } });
    // Joining again on the same connection: a new transport, every producer again.
    const second = await consumeAll(await ok(socket, 'broadcast:join', { broadcastId: id, transport: true }));
    expect(second.transportId).not.toBe(first.transportId);

    // With the device's capabilities the join consumes too: the consumers come with the answer.
    await ok(socket, 'broadcast:leave', { broadcastId: id });
    const all = await ok(socket, 'broadcast:join', { broadcastId: id, transport: true, rtpCapabilities: second.rtpCapabilities });
    expect(all.consumers?.map((c) => c.producerId).sort()).toEqual([...live.producerIds].sort());
    await ok(socket, 'transport:connect', { broadcastId: id, transportId: all.transport!.id, dtlsParameters });
    await Promise.all(all.consumers!.map((c) => ok(socket, 'consumer:resume', { broadcastId: id, consumerId: c.id })));
    // Nothing left to consume on that transport.
    expect(await ok(socket, 'consume', { broadcastId: id, transportId: all.transport!.id, rtpCapabilities: second.rtpCapabilities })).toEqual({ consumers: [] });
    // Capabilities that decode none of it (a Device of another router's codecs): the transport
    // without consumers; `consume` with the right ones still works on it.
    await ok(socket, 'broadcast:leave', { broadcastId: id });
    const pcmuOnly = { codecs: [{ kind: 'audio' as const, mimeType: 'audio/PCMU', clockRate: 8000, channels: 1, preferredPayloadType: 0 }], headerExtensions: [] };
    const none = await ok(socket, 'broadcast:join', { broadcastId: id, transport: true, rtpCapabilities: pcmuOnly });
    expect(none.transport?.id).toEqual(expect.any(String));
    expect('consumers' in none).toBe(false);
    const late = await ok(socket, 'consume', { broadcastId: id, transportId: none.transport!.id, rtpCapabilities: second.rtpCapabilities });
    expect(late.consumers).toHaveLength(2);
    // Capabilities without a transport to consume on: refused.
    expect(await request(socket, 'broadcast:join', { broadcastId: id, rtpCapabilities: second.rtpCapabilities })).toMatchObject({
      ok: false,
      error: { code: 'VALIDATION_FAILED' },
    });
  });

  it('authorises every action', async () => {
    const live = await goLive('dave');
    const id = live.broadcast.id;
    const anon = await open();
    const eveAuth = await signUp(server.url, 'eve');
    const eve = await open(eveAuth.token);

    // Going live signed out.
    expect(await request(anon, 'broadcast:start', { title: 'x', visibility: 'public', invitees: [] })).toMatchObject({
      ok: false,
      error: { code: 'UNAUTHENTICATED' },
    });
    // A viewer trying to produce into the broadcast it watches.
    const view = await watch(eve, id);
    const produced = await request(eve, 'produce', { broadcastId: id, transportId: view.transport.id, kind: 'video', rtpParameters: videoSimulcastRtpParameters });
    expect(produced).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    // Producing into someone else's broadcast through one's own transport.
    const eveLive = await goLive('eve2');
    const intoDave = await request(eveLive.socket, 'produce', { broadcastId: id, transportId: eveLive.transport.id, kind: 'audio', rtpParameters: audioRtpParameters });
    expect(intoDave).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    // Stopping or taking over someone else's broadcast; stopping one that does not exist.
    expect(await request(eve, 'broadcast:stop', { broadcastId: id })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await request(eve, 'broadcast:resume', { broadcastId: id })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await request(eve, 'broadcast:stop', { broadcastId: 'b_doesnotexist000' })).toMatchObject({
      ok: false,
      error: { code: 'NOT_FOUND' },
    });
    // Anonymous chat.
    await watch(anon, id);
    expect(await request(anon, 'chat:send', { broadcastId: id, text: 'hi' })).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    // Chat without joining.
    const frankAuth = await signUp(server.url, 'frank');
    const frank = await open(frankAuth.token);
    expect(await request(frank, 'chat:send', { broadcastId: id, text: 'hi' })).toMatchObject({ ok: false, error: { code: 'NOT_JOINED' } });
    // Consuming without joining.
    expect(
      await request(frank, 'consume', { broadcastId: id, transportId: view.transport.id, rtpCapabilities: view.joined.rtpCapabilities }),
    ).toMatchObject({ ok: false, error: { code: 'NOT_JOINED' } });
    // Going live twice.
    expect(await request(live.socket, 'broadcast:start', { title: 'again', visibility: 'public', invitees: [] })).toMatchObject({
      ok: false,
      error: { code: 'ALREADY_LIVE' },
    });
    // Nothing the others tried changed Dave's broadcast.
    expect(server.live.liveSummary(id)?.status).toBe('live');
    const late = await open();
    expect((await watch(late, id)).consumers.map((c) => c.producerId).sort()).toEqual([...live.producerIds].sort());
    await ok(live.socket, 'broadcast:stop', { broadcastId: id });
    await ok(eveLive.socket, 'broadcast:stop', { broadcastId: eveLive.broadcast.id });
  });

  it('lets only the owner and invitees into a private broadcast, with no hint to others', async () => {
    await signUp(server.url, 'invitee1');
    const live = await goLive('grace', { visibility: 'private', invitees: ['Invitee1'] });
    const id = live.broadcast.id;
    const strangerAuth = await signUp(server.url, 'stranger');
    const stranger = await open(strangerAuth.token);
    const anon = await open();
    const missing = await request(stranger, 'broadcast:join', { broadcastId: 'b_doesnotexist000' });
    const uninvited = await request(stranger, 'broadcast:join', { broadcastId: id });
    expect(uninvited).toEqual(missing);
    expect(uninvited).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(await request(anon, 'broadcast:join', { broadcastId: id })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect((await fetch(`${server.url}/api/broadcasts/${id}`, { headers: { authorization: `Bearer ${strangerAuth.token}` } })).status).toBe(404);
    const publicList = (await (await fetch(`${server.url}/api/broadcasts`)).json()) as { broadcasts: Array<{ id: string }> };
    expect(publicList.broadcasts.map((b) => b.id)).not.toContain(id);

    const inviteeSignIn = await fetch(`${server.url}/api/auth/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'invitee1', password: 'correct horse battery' }),
    });
    const { token } = (await inviteeSignIn.json()) as { token: string };
    const invitee = await open(token);
    const view = await watch(invitee, id);
    expect(view.consumers).toHaveLength(2);
    // Unknown invitees are refused when going live.
    const h = await signUp(server.url, 'heidi');
    const heidi = await open(h.token);
    expect(await request(heidi, 'broadcast:start', { title: 't', visibility: 'private', invitees: ['nobody_here'] })).toMatchObject({
      ok: false,
      error: { code: 'VALIDATION_FAILED', message: expect.stringContaining('nobody_here') },
    });
    await ok(live.socket, 'broadcast:stop', { broadcastId: id });
  });

  it('rate-limits chat and hearts per user while others keep being served', async () => {
    const live = await goLive('ivan');
    const id = live.broadcast.id;
    const floodAuth = await signUp(server.url, 'flooder');
    const flooder = await open(floodAuth.token);
    const calmAuth = await signUp(server.url, 'calm');
    const calm = await open(calmAuth.token);
    await ok(flooder, 'broadcast:join', { broadcastId: id });
    await ok(calm, 'broadcast:join', { broadcastId: id });

    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => request(flooder, 'chat:send', { broadcastId: id, text: `spam ${i}` })));
    expect(results.filter((r) => r.ok)).toHaveLength(5);
    const refused = results.filter((r) => !r.ok);
    expect(refused).toHaveLength(15);
    expect(refused[0]).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED', message: expect.stringMatching(/^slow down: at most 5 messages per 10 s; try again in \d+ s$/) } });

    // A fixed window of one second from the first heart: 30 hearts sent at once get 10 through.
    const hearts = await Promise.all(Array.from({ length: 30 }, () => request(flooder, 'heart:send', { broadcastId: id })));
    expect(hearts.filter((r) => r.ok).length).toBeLessThanOrEqual(10);
    expect(hearts.find((r) => !r.ok)).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED', message: 'slow down: at most 10 hearts per second; try again in 1 s' } });

    // Someone else still chats and is heard.
    const heard = nextEvent(live.socket, 'chat:message', 5000, (m) => m.user.username === 'calm');
    await ok(calm, 'chat:send', { broadcastId: id, text: 'still here' });
    expect((await heard).text).toBe('still here');
    await ok(live.socket, 'broadcast:stop', { broadcastId: id });
  });

  it('waits for a broadcaster who drops and resumes on a new connection', async () => {
    const live = await goLive('judy');
    const id = live.broadcast.id;
    const viewer = await open();
    await watch(viewer, id);
    const reconnecting = nextEvent(viewer, 'broadcast:status', 5000, (e) => e.status === 'reconnecting');
    live.socket.disconnect();
    await reconnecting;
    const listed = (await (await fetch(`${server.url}/api/broadcasts/${id}`)).json()) as { broadcast: { status: string } };
    expect(listed.broadcast.status).toBe('reconnecting');

    const back = await open(live.auth.token);
    const liveAgain = nextEvent(viewer, 'broadcast:status', 5000, (e) => e.status === 'live');
    const producerNew = nextEvent(viewer, 'producer:new', 5000);
    const resumed = await ok(back, 'broadcast:resume', { broadcastId: id });
    expect(resumed.broadcast.status).toBe('live');
    await liveAgain;
    const t = await ok(back, 'transport:create', { broadcastId: id });
    await ok(back, 'transport:connect', { broadcastId: id, transportId: t.id, dtlsParameters });
    await ok(back, 'produce', { broadcastId: id, transportId: t.id, kind: 'video', rtpParameters: videoSimulcastRtpParameters });
    expect((await producerNew).kind).toBe('video');
    await ok(back, 'broadcast:stop', { broadcastId: id });
  });
});

describe('grace period expiry', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ live: { graceSeconds: 0.3 } });
  });
  afterAll(async () => server?.stop());

  it('ends the broadcast when the broadcaster does not come back in time', async () => {
    const auth = await signUp(server.url, 'mallory');
    const socket = await connect(server.url, auth.token);
    const { broadcast } = await ok(socket, 'broadcast:start', { title: 'brief', visibility: 'public', invitees: [] });
    const viewer = await connect(server.url);
    await ok(viewer, 'broadcast:join', { broadcastId: broadcast.id });
    const ended = nextEvent(viewer, 'broadcast:ended', 5000);
    socket.disconnect();
    expect(await ended).toEqual({ broadcastId: broadcast.id, reason: 'broadcaster-left' });
    const res = (await (await fetch(`${server.url}/api/broadcasts/${broadcast.id}`)).json()) as { broadcast: { status: string; endedAt: string } };
    expect(res.broadcast.status).toBe('ended');
    expect(res.broadcast.endedAt).toBeTruthy();
    viewer.disconnect();
  });
});
