import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ack } from '../../common/protocol/errors.ts';
import { RequestSchemas, type RequestInput, type RequestName } from '../../common/protocol/events.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { RtpCapabilities } from '../../common/protocol/media.ts';
import { audioRtpParameters, clientDtlsParameters } from '../fixtures/rtp.ts';
import { connect, ok, request, signUp, startTestServer, type ClientSocket, type TestServer } from '../../testkit/server.ts';

/** Every request that names a broadcast, in the order the matrix sends them. */
const EVENTS = [
  'broadcast:join',
  'transport:create',
  'transport:connect',
  'consume',
  'consumer:resume',
  'chat:send',
  'heart:send',
  'stats:first-frame',
  'produce',
  'broadcast:resume',
  'broadcast:stop',
  'broadcast:leave',
  'viewers:list',
  'chat:slow-mode',
  'chat:followers-only',
] as const satisfies readonly RequestName[];

/** Requests that name no broadcast (a message, a user): test/security/moderation.test.ts tries them. */
const NOT_NAMING_A_BROADCAST = ['broadcast:start', 'chat:remove', 'user:block', 'user:unblock'] as const satisfies readonly RequestName[];

const UNKNOWN = 'b_doesnotexist0000000' as BroadcastId;

/** The answer with what differs between broadcasts (ids, summaries) reduced to `ok`. */
const shape = (res: Ack<unknown>) => (res.ok ? { ok: true } : res);

/**
 * A caller who may not see a broadcast gets exactly the answer (code and message) it gets for
 * an id that does not exist, on every socket.io request and HTTP route. Before, `chat:send`
 * and `heart:send` answered NOT_JOINED and `broadcast:resume`/`produce` FORBIDDEN for a live
 * private id, but BROADCAST_ENDED for an unknown one.
 */
describe('a private broadcast is indistinguishable from a missing one', () => {
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  let rtpCapabilities: RtpCapabilities;
  const ids = {} as Record<'privateLive' | 'privateEnded' | 'publicLive' | 'publicEnded', BroadcastId>;
  const callers = {} as Record<'anonymous' | 'stranger' | 'invitee' | 'owner', { socket: ClientSocket; token?: string }>;

  const open = async (token?: string) => {
    const s = await connect(server.url, token);
    sockets.push(s);
    return s;
  };

  function payload<E extends (typeof EVENTS)[number]>(event: E, broadcastId: BroadcastId): RequestInput<E> {
    const p: Record<(typeof EVENTS)[number], unknown> = {
      'broadcast:join': { broadcastId },
      'transport:create': { broadcastId },
      'transport:connect': { broadcastId, transportId: randomUUID(), dtlsParameters: clientDtlsParameters },
      consume: { broadcastId, transportId: randomUUID(), rtpCapabilities },
      'consumer:resume': { broadcastId, consumerId: randomUUID() },
      'chat:send': { broadcastId, text: 'hello' },
      'heart:send': { broadcastId },
      'stats:first-frame': { broadcastId, ms: 300 },
      produce: { broadcastId, transportId: randomUUID(), kind: 'audio', rtpParameters: audioRtpParameters },
      'broadcast:resume': { broadcastId },
      'broadcast:stop': { broadcastId },
      'broadcast:leave': { broadcastId },
      'viewers:list': { broadcastId },
      'chat:slow-mode': { broadcastId, seconds: 10 },
      'chat:followers-only': { broadcastId, enabled: true },
    };
    return p[event] as RequestInput<E>;
  }

  /** Sends every event for one broadcast id, in order, and returns the answers by event. */
  async function answers(socket: ClientSocket, broadcastId: BroadcastId) {
    const out: Record<string, unknown> = {};
    for (const event of EVENTS) out[event] = shape(await request(socket, event, payload(event, broadcastId)));
    return out;
  }

  beforeAll(async () => {
    server = await startTestServer({ recording: { enabled: false } });
    const owner = await signUp(server.url, 'owner');
    const invitee = await signUp(server.url, 'invitee');
    const stranger = await signUp(server.url, 'stranger');
    const publisher = await signUp(server.url, 'publisher');
    callers.anonymous = { socket: await open() };
    callers.stranger = { socket: await open(stranger.token), token: stranger.token };
    callers.invitee = { socket: await open(invitee.token), token: invitee.token };
    callers.owner = { socket: await open(owner.token), token: owner.token };
    const pub = await open(publisher.token);

    const start = async (s: ClientSocket, visibility: 'public' | 'private') =>
      (await ok(s, 'broadcast:start', { title: `a ${visibility} one`, visibility, invitees: visibility === 'private' ? ['invitee'] : [] })).broadcast.id;
    ids.privateEnded = await start(callers.owner.socket, 'private');
    await ok(callers.owner.socket, 'broadcast:stop', { broadcastId: ids.privateEnded });
    ids.privateLive = await start(callers.owner.socket, 'private');
    ids.publicEnded = await start(pub, 'public');
    await ok(pub, 'broadcast:stop', { broadcastId: ids.publicEnded });
    ids.publicLive = await start(pub, 'public');
    // Real capabilities, so `consume` passes the schema; joined and left again at once.
    rtpCapabilities = (await ok(pub, 'broadcast:join', { broadcastId: ids.publicLive })).rtpCapabilities;
    await ok(pub, 'broadcast:leave', { broadcastId: ids.publicLive });
  });

  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await server?.stop();
  });

  it('covers every request that names a broadcast', () => {
    expect([...EVENTS, ...NOT_NAMING_A_BROADCAST].sort()).toEqual(Object.keys(RequestSchemas).sort());
  });

  it.each(['anonymous', 'stranger'] as const)('%s: every event answers a private id (live or ended) exactly as an unknown id', async (who) => {
    const { socket } = callers[who];
    const unknown = await answers(socket, UNKNOWN);
    expect(await answers(socket, ids.privateLive)).toEqual(unknown);
    expect(await answers(socket, ids.privateEnded)).toEqual(unknown);
    // And the unknown answer itself is the one rule: NOT_FOUND, unless the request needs a
    // signed-in caller (that refusal does not depend on the id) or is a no-op (leave).
    for (const event of EVENTS) {
      if (event === 'broadcast:leave') expect(unknown[event]).toEqual({ ok: true });
      else if (who === 'anonymous' && ['chat:send', 'produce', 'broadcast:resume', 'broadcast:stop', 'viewers:list', 'chat:slow-mode', 'chat:followers-only'].includes(event)) {
        expect(unknown[event]).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
      } else expect(unknown[event]).toEqual({ ok: false, error: { code: 'NOT_FOUND', message: 'broadcast not found' } });
    }
  });

  it('an invitee sees the private broadcast as a stranger sees a public one (live and ended)', async () => {
    const stranger = await answers(callers.stranger.socket, ids.publicLive);
    expect(stranger['broadcast:join']).toEqual({ ok: true });
    expect(stranger['chat:send']).toEqual({ ok: true });
    expect(await answers(callers.invitee.socket, ids.privateLive)).toEqual(stranger);
    const strangerEnded = await answers(callers.stranger.socket, ids.publicEnded);
    expect(strangerEnded['chat:send']).toEqual({ ok: false, error: { code: 'BROADCAST_ENDED', message: 'this broadcast is not live' } });
    expect(await answers(callers.invitee.socket, ids.privateEnded)).toEqual(strangerEnded);
    // And the unknown id still answers NOT_FOUND to them.
    expect(await request(callers.invitee.socket, 'chat:send', { broadcastId: UNKNOWN, text: 'hi' })).toEqual({
      ok: false,
      error: { code: 'NOT_FOUND', message: 'broadcast not found' },
    });
  });

  it('the owner is answered about their own private broadcast', async () => {
    const { socket } = callers.owner;
    expect(shape(await request(socket, 'broadcast:join', { broadcastId: ids.privateLive }))).toEqual({ ok: true });
    expect(shape(await request(socket, 'chat:send', { broadcastId: ids.privateLive, text: 'mine' }))).toEqual({ ok: true });
    expect(shape(await request(socket, 'heart:send', { broadcastId: ids.privateLive }))).toEqual({ ok: true });
    expect(await request(socket, 'broadcast:resume', { broadcastId: ids.privateEnded })).toEqual({
      ok: false,
      error: { code: 'BROADCAST_ENDED', message: 'this broadcast is not live' },
    });
  });

  it.each(['anonymous', 'stranger'] as const)('%s: every HTTP route answers a private id exactly as an unknown id', async (who) => {
    const token = callers[who].token;
    const get = async (p: string) => {
      const res = await fetch(`${server.url}${p}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      return { status: res.status, body: await res.text() };
    };
    const routes = ['/api/broadcasts/:id', '/api/replays/:id', '/api/replays/:id/poster.jpg', '/api/replays/:id/replay.mp4', '/api/replays/:id/video.webm', '/api/replays/:id/hls/index.m3u8', '/api/replays/:id/download'];
    for (const route of routes) {
      const unknown = await get(route.replace(':id', UNKNOWN));
      expect(unknown.status).toBe(404);
      expect(await get(route.replace(':id', ids.privateLive))).toEqual(unknown);
      expect(await get(route.replace(':id', ids.privateEnded))).toEqual(unknown);
    }
    const list = (await (await fetch(`${server.url}/api/broadcasts`, { headers: token ? { authorization: `Bearer ${token}` } : {} })).json()) as { broadcasts: Array<{ id: string }> };
    expect(list.broadcasts.map((b) => b.id)).toEqual([ids.publicLive]);
  });
});
