import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchiveInput } from '../../common/jobs/archiveInput.ts';
import type { Ack } from '../../common/protocol/errors.ts';
import type { RequestInput, RequestName } from '../../common/protocol/events.ts';
import type { BroadcastId, ChatMessageId, UserId } from '../../common/protocol/ids.ts';
import { archiveKey, ARCHIVE_INPUT_FILE } from '../../common/storage/storageKeys.ts';
import { clientDtlsParameters } from '../fixtures/rtp.ts';
import { connect, grantAdmin, nextEvent, ok, rawRequest, request, signUp, startTestServer, type ClientSocket, type TestServer } from '../../testkit/server.ts';

type Account = Awaited<ReturnType<typeof signUp>>;

const UNKNOWN_BROADCAST = 'b_doesnotexist0000000' as BroadcastId;
const UNKNOWN_MESSAGE = 'm_doesnotexist0000000' as ChatMessageId;
const UNKNOWN_USER = 'u_doesnotexist0000000' as UserId;

/** An answer with what differs between broadcasts (ids, summaries) reduced to `ok`. */
const shape = (res: Ack<unknown>) => (res.ok ? { ok: true } : res);
const fails = (code: string, message?: string) => ({ ok: false, error: message === undefined ? expect.objectContaining({ code }) : { code, message } });

/**
 * The broadcaster's moderation (docs/moderation.md), tried as every role over socket.io and
 * HTTP: anonymous, a viewer, another signed-in user, the broadcaster, a blocked user and an
 * admin; with bad input (unknown message or user, someone else's broadcast, blocking oneself,
 * bad slow-mode and followers-only values). A blocked user finds the broadcaster's broadcasts and replays exactly
 * as one finds a broadcast that does not exist.
 */
describe('moderation: removing messages, blocking, the viewer list, slow mode and followers-only chat', () => {
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  const users = {} as Record<'host' | 'fan' | 'other' | 'troll' | 'admin' | 'rival', Account>;
  const s = {} as Record<'anon' | 'host' | 'fan' | 'other' | 'troll' | 'admin' | 'rival', ClientSocket>;
  let live: BroadcastId;

  const open = async (token?: string, headers: { origin?: string } = {}) => {
    const socket = await connect(server.url, token, headers);
    sockets.push(socket);
    return socket;
  };
  const http = async (method: string, p: string, who?: Account, body?: unknown, origin?: string) => {
    const headers: Record<string, string> = {};
    if (who) headers['authorization'] = `Bearer ${who.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (origin) headers['origin'] = origin;
    const res = await fetch(`${server.url}${p}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  };

  beforeAll(async () => {
    // Recording on (no workers process here): every broadcast has a replay row, and archive inputs are written.
    server = await startTestServer();
    for (const name of ['host', 'fan', 'other', 'troll', 'admin', 'rival'] as const) users[name] = await signUp(server.url, name);
    await grantAdmin(server, 'admin');
    s.anon = await open();
    for (const name of ['host', 'fan', 'other', 'troll', 'admin', 'rival'] as const) s[name] = await open(users[name].token);
    live = (await ok(s.host, 'broadcast:start', { title: 'Moderated', visibility: 'public', invitees: [] })).broadcast.id;
    for (const who of [s.fan, s.troll, s.anon]) await ok(who, 'broadcast:join', { broadcastId: live });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.disconnect();
    await server?.stop();
  });

  describe('chat:remove', () => {
    it('only the broadcaster and admins remove a message; everyone watching is told at once', async () => {
      const first = (await ok(s.fan, 'chat:send', { broadcastId: live, text: 'first, and rude' })).message;
      const second = (await ok(s.troll, 'chat:send', { broadcastId: live, text: 'second, and ruder' })).message;
      const kept = (await ok(s.fan, 'chat:send', { broadcastId: live, text: 'kept' })).message;

      expect(await request(s.anon, 'chat:remove', { messageId: first.id })).toEqual(fails('UNAUTHENTICATED'));
      // The author, another user, another broadcaster: they may see the message, but not remove it.
      for (const who of [s.fan, s.other, s.rival]) {
        expect(await request(who, 'chat:remove', { messageId: first.id })).toEqual(fails('FORBIDDEN', 'only the broadcaster or an admin can remove a message'));
      }
      expect(await request(s.host, 'chat:remove', { messageId: UNKNOWN_MESSAGE })).toEqual(fails('NOT_FOUND', 'message not found'));
      expect(await request(s.host, 'chat:remove', { messageId: 'not-a-message' })).toEqual(fails('VALIDATION_FAILED'));
      expect(await rawRequest(s.host, 'chat:remove', { messageId: first.id, broadcastId: live })).toEqual(fails('VALIDATION_FAILED'));
      expect(await server.stores.moderation.message(first.id)).toMatchObject({ removal: null });

      // The broadcaster removes it: every connection in the broadcast hears of it.
      const told = [s.fan, s.troll, s.anon].map((who) => nextEvent(who, 'chat:removed', 5000, (e) => e.messageId === first.id));
      expect(await request(s.host, 'chat:remove', { messageId: first.id })).toEqual({ ok: true, data: { broadcastId: live, messageId: first.id } });
      for (const event of await Promise.all(told)) expect(event).toEqual({ broadcastId: live, messageId: first.id });
      // Again: the same answer (idempotent), the first mark kept.
      expect(await request(s.host, 'chat:remove', { messageId: first.id })).toEqual({ ok: true, data: { broadcastId: live, messageId: first.id } });
      expect((await server.stores.moderation.message(first.id))?.removal).toEqual({ by: users.host.user.id, as: 'broadcaster', at: expect.any(String) });
      // Removed, it is as unknown to anyone else.
      expect(await request(s.fan, 'chat:remove', { messageId: first.id })).toEqual(fails('NOT_FOUND', 'message not found'));

      // An admin removes a message in someone else's broadcast; the audit log says so.
      expect(await request(s.admin, 'chat:remove', { messageId: second.id })).toEqual({ ok: true, data: { broadcastId: live, messageId: second.id } });
      expect((await server.stores.moderation.message(second.id))?.removal).toMatchObject({ by: users.admin.user.id, as: 'admin' });
      const audit = await server.stores.audit.list({ actionPrefix: 'chat.remove' });
      expect(audit.map((e) => [e.actorId, e.details])).toEqual([[users.admin.user.id, { messageId: second.id, broadcastId: live, authorId: users.troll.user.id }]]);

      // Whoever joins now gets the chat without them.
      const joined = await ok(s.other, 'broadcast:join', { broadcastId: live });
      expect(joined.recentChat.map((m) => m.id)).toEqual([kept.id]);
      await ok(s.other, 'broadcast:leave', { broadcastId: live });
    });

    it('a message in a broadcast the caller may not see answers as an unknown one', async () => {
      const { broadcast } = await ok(s.rival, 'broadcast:start', { title: 'Invite only', visibility: 'private', invitees: [] });
      const secret = (await ok(s.rival, 'chat:send', { broadcastId: broadcast.id, text: 'secret' })).message;
      const unknown = await request(s.other, 'chat:remove', { messageId: UNKNOWN_MESSAGE });
      expect(await request(s.other, 'chat:remove', { messageId: secret.id })).toEqual(unknown);
      expect(await request(s.host, 'chat:remove', { messageId: secret.id })).toEqual(unknown);
      // The admin may act on it (a report of a private broadcast).
      expect(shape(await request(s.admin, 'chat:remove', { messageId: secret.id }))).toEqual({ ok: true });
      await ok(s.rival, 'broadcast:stop', { broadcastId: broadcast.id });
    });
  });

  describe('chat:slow-mode', () => {
    it('only the broadcaster and admins switch it, with whole seconds from 0 to 300', async () => {
      expect(await request(s.anon, 'chat:slow-mode', { broadcastId: live, seconds: 10 })).toEqual(fails('UNAUTHENTICATED'));
      for (const who of [s.fan, s.other, s.rival]) {
        expect(await request(who, 'chat:slow-mode', { broadcastId: live, seconds: 10 })).toEqual(fails('FORBIDDEN', 'only the broadcaster or an admin can change the chat settings'));
      }
      expect(await request(s.host, 'chat:slow-mode', { broadcastId: UNKNOWN_BROADCAST, seconds: 10 })).toEqual(fails('NOT_FOUND', 'broadcast not found'));
      for (const seconds of [-1, 2.5, 301, '10', null]) {
        const res = await rawRequest(s.host, 'chat:slow-mode', { broadcastId: live, seconds });
        expect(res, String(seconds)).toEqual(fails('VALIDATION_FAILED'));
      }
      expect(await rawRequest(s.host, 'chat:slow-mode', { broadcastId: live })).toEqual(fails('VALIDATION_FAILED'));
      expect(await server.stores.moderation.slowMode(live)).toBe(0);
    });

    it('holds every viewer to one message per N seconds, but not the broadcaster or admins', async () => {
      const told = nextEvent(s.fan, 'chat:settings');
      expect(await request(s.host, 'chat:slow-mode', { broadcastId: live, seconds: 10 })).toEqual({ ok: true, data: { broadcastId: live, slowModeSeconds: 10, followersOnly: false } });
      expect(await told).toEqual({ broadcastId: live, slowModeSeconds: 10, followersOnly: false });
      expect((await ok(s.other, 'broadcast:join', { broadcastId: live })).slowModeSeconds).toBe(10);

      await ok(s.other, 'chat:send', { broadcastId: live, text: 'one' });
      const refused = await request(s.other, 'chat:send', { broadcastId: live, text: 'two' });
      expect(refused).toEqual(fails('RATE_LIMITED'));
      expect(!refused.ok && refused.error.message).toMatch(/^slow mode: one message every 10 s; try again in \d+ s$/);
      // Per person: another viewer still has their message.
      await ok(s.fan, 'chat:send', { broadcastId: live, text: 'mine' });
      // The broadcaster and an admin are not held to it.
      await ok(s.admin, 'broadcast:join', { broadcastId: live });
      for (const who of [s.host, s.host, s.admin, s.admin]) await ok(who, 'chat:send', { broadcastId: live, text: 'unhurried' });

      // Off again (by an admin): the viewer chats at once.
      expect(await request(s.admin, 'chat:slow-mode', { broadcastId: live, seconds: 0 })).toEqual({ ok: true, data: { broadcastId: live, slowModeSeconds: 0, followersOnly: false } });
      await ok(s.other, 'chat:send', { broadcastId: live, text: 'three' });
      for (const who of [s.other, s.admin]) await ok(who, 'broadcast:leave', { broadcastId: live });
    });
  });

  describe('chat:followers-only', () => {
    it('only the broadcaster and admins switch it, with true or false', async () => {
      expect(await request(s.anon, 'chat:followers-only', { broadcastId: live, enabled: true })).toEqual(fails('UNAUTHENTICATED'));
      for (const who of [s.fan, s.other, s.rival, s.troll]) {
        expect(await request(who, 'chat:followers-only', { broadcastId: live, enabled: true })).toEqual(fails('FORBIDDEN', 'only the broadcaster or an admin can change the chat settings'));
      }
      // A suspended viewer is refused as any viewer is.
      await server.stores.suspensions.suspend(users.other.user.id, 'spam', users.admin.user.id);
      expect(await request(s.other, 'chat:followers-only', { broadcastId: live, enabled: true })).toEqual(fails('FORBIDDEN', 'only the broadcaster or an admin can change the chat settings'));
      await server.stores.suspensions.unsuspend(users.other.user.id);
      expect(await request(s.host, 'chat:followers-only', { broadcastId: UNKNOWN_BROADCAST, enabled: true })).toEqual(fails('NOT_FOUND', 'broadcast not found'));
      for (const enabled of ['yes', 1, null, 'true']) {
        expect(await rawRequest(s.host, 'chat:followers-only', { broadcastId: live, enabled }), String(enabled)).toEqual(fails('VALIDATION_FAILED'));
      }
      expect(await rawRequest(s.host, 'chat:followers-only', { broadcastId: live })).toEqual(fails('VALIDATION_FAILED'));
      expect(await rawRequest(s.host, 'chat:followers-only', { broadcastId: live, enabled: true, seconds: 3 })).toEqual(fails('VALIDATION_FAILED'));
      expect(await server.stores.moderation.chatSettings(live)).toEqual({ slowModeSeconds: 0, followersOnly: false });
    });

    it('lets only the broadcaster’s followers chat; the broadcaster and admins always may', async () => {
      const follow = (who: Account, method: 'PUT' | 'DELETE') => http(method, '/api/users/host/follow', who);
      expect((await follow(users.fan, 'PUT')).status).toBe(200);
      for (const who of [s.rival, s.admin]) await ok(who, 'broadcast:join', { broadcastId: live });

      const told = nextEvent(s.troll, 'chat:settings');
      expect(await request(s.host, 'chat:followers-only', { broadcastId: live, enabled: true })).toEqual({ ok: true, data: { broadcastId: live, slowModeSeconds: 0, followersOnly: true } });
      expect(await told).toEqual({ broadcastId: live, slowModeSeconds: 0, followersOnly: true });
      expect((await ok(s.other, 'broadcast:join', { broadcastId: live })).followersOnly).toBe(true);
      await ok(s.other, 'broadcast:leave', { broadcastId: live });

      const refused = fails('FOLLOWERS_ONLY', 'this chat is for followers only: follow the broadcaster to chat');
      for (const who of [s.rival, s.troll]) expect(await request(who, 'chat:send', { broadcastId: live, text: 'let me talk' })).toEqual(refused);
      expect(await request(s.anon, 'chat:send', { broadcastId: live, text: 'anyone?' })).toEqual(fails('UNAUTHENTICATED'));
      await ok(s.fan, 'chat:send', { broadcastId: live, text: 'a follower' });
      await ok(s.host, 'chat:send', { broadcastId: live, text: 'the broadcaster' });
      await ok(s.admin, 'chat:send', { broadcastId: live, text: 'an admin, who follows no one' });
      // A suspended follower is still refused for the suspension.
      await server.stores.suspensions.suspend(users.fan.user.id, 'spam', users.admin.user.id);
      expect(await request(s.fan, 'chat:send', { broadcastId: live, text: 'suspended' })).toEqual(fails('SUSPENDED'));
      await server.stores.suspensions.unsuspend(users.fan.user.id);

      // Following opens the chat at once; unfollowing closes it again.
      expect((await follow(users.rival, 'PUT')).status).toBe(200);
      await ok(s.rival, 'chat:send', { broadcastId: live, text: 'following now' });
      expect((await follow(users.rival, 'DELETE')).status).toBe(200);
      expect(await request(s.rival, 'chat:send', { broadcastId: live, text: 'and now not' })).toEqual(refused);

      // Off again (by an admin): everyone signed in chats.
      expect(await request(s.admin, 'chat:followers-only', { broadcastId: live, enabled: false })).toEqual({ ok: true, data: { broadcastId: live, slowModeSeconds: 0, followersOnly: false } });
      await ok(s.troll, 'chat:send', { broadcastId: live, text: 'open again' });
      expect((await follow(users.fan, 'DELETE')).status).toBe(200);
      for (const who of [s.rival, s.admin]) await ok(who, 'broadcast:leave', { broadcastId: live });
    });
  });

  describe('viewers:list', () => {
    it('shows the broadcaster and admins who watches, over every connection, and no one else', async () => {
      const { broadcast } = await ok(s.rival, 'broadcast:start', { title: 'Who is here', visibility: 'public', invitees: [] });
      const id = broadcast.id;
      // Two connections of one person count once; so do two anonymous ones from one address; the owner's own tab is not a viewer.
      const fan2 = await open(users.fan.token);
      const anon2 = await open();
      const rival2 = await open(users.rival.token);
      for (const who of [s.fan, fan2, s.troll, s.anon, anon2, rival2]) await ok(who, 'broadcast:join', { broadcastId: id });

      const expected = {
        ok: true,
        data: {
          broadcastId: id,
          viewers: [
            { id: users.fan.user.id, username: 'fan' },
            { id: users.troll.user.id, username: 'troll' },
          ],
          anonymous: 1,
        },
      };
      expect(await request(s.rival, 'viewers:list', { broadcastId: id })).toEqual(expected);
      expect(await request(s.admin, 'viewers:list', { broadcastId: id })).toEqual(expected);

      expect(await request(s.anon, 'viewers:list', { broadcastId: id })).toEqual(fails('UNAUTHENTICATED'));
      // A viewer, another user, another broadcaster (the host, for someone else's broadcast).
      for (const who of [s.fan, s.other, s.host]) {
        expect(await request(who, 'viewers:list', { broadcastId: id })).toEqual(fails('FORBIDDEN', 'only the broadcaster or an admin can see who is watching'));
      }
      expect(await request(s.rival, 'viewers:list', { broadcastId: UNKNOWN_BROADCAST })).toEqual(fails('NOT_FOUND', 'broadcast not found'));

      // Leaving takes them off the list.
      await ok(s.troll, 'broadcast:leave', { broadcastId: id });
      const after = await ok(s.rival, 'viewers:list', { broadcastId: id });
      expect(after.viewers.map((v) => v.username)).toEqual(['fan']);

      await ok(s.rival, 'broadcast:stop', { broadcastId: id });
      expect(await request(s.rival, 'viewers:list', { broadcastId: id })).toEqual(fails('BROADCAST_ENDED', 'this broadcast has ended'));
    });

    it('a private broadcast the caller may not see answers as an unknown one', async () => {
      const { broadcast } = await ok(s.rival, 'broadcast:start', { title: 'Private list', visibility: 'private', invitees: ['fan'] });
      const unknown = await request(s.other, 'viewers:list', { broadcastId: UNKNOWN_BROADCAST });
      expect(await request(s.other, 'viewers:list', { broadcastId: broadcast.id })).toEqual(unknown);
      // The invitee sees it: refused as a viewer.
      expect(await request(s.fan, 'viewers:list', { broadcastId: broadcast.id })).toEqual(fails('FORBIDDEN'));
      await ok(s.rival, 'broadcast:stop', { broadcastId: broadcast.id });
    });
  });

  describe('blocking', () => {
    /** Every request that names a broadcast, with a payload that passes its schema. */
    const NAMING: Array<{ event: RequestName; payload: (id: BroadcastId) => unknown }> = [
      { event: 'broadcast:join', payload: (id) => ({ broadcastId: id }) },
      { event: 'transport:create', payload: (id) => ({ broadcastId: id }) },
      { event: 'transport:connect', payload: (id) => ({ broadcastId: id, transportId: randomUUID(), dtlsParameters: clientDtlsParameters }) },
      { event: 'consumer:resume', payload: (id) => ({ broadcastId: id, consumerId: randomUUID() }) },
      { event: 'chat:send', payload: (id) => ({ broadcastId: id, text: 'let me in' }) },
      { event: 'heart:send', payload: (id) => ({ broadcastId: id }) },
      { event: 'stats:first-frame', payload: (id) => ({ broadcastId: id, ms: 100 }) },
      { event: 'viewers:list', payload: (id) => ({ broadcastId: id }) },
      { event: 'chat:slow-mode', payload: (id) => ({ broadcastId: id, seconds: 5 }) },
      { event: 'chat:followers-only', payload: (id) => ({ broadcastId: id, enabled: true }) },
      { event: 'broadcast:leave', payload: (id) => ({ broadcastId: id }) },
    ];
    async function answers(socket: ClientSocket, id: BroadcastId) {
      const out: Record<string, unknown> = {};
      for (const { event, payload } of NAMING) out[event] = shape(await request(socket, event, payload(id) as RequestInput<typeof event>));
      return out;
    }

    it('refuses bad blocks: signed out, oneself, an unknown or malformed user', async () => {
      expect(await request(s.anon, 'user:block', { userId: users.troll.user.id })).toEqual(fails('UNAUTHENTICATED'));
      expect(await request(s.host, 'user:block', { userId: users.host.user.id })).toEqual(fails('VALIDATION_FAILED', 'you cannot block yourself'));
      expect(await request(s.host, 'user:block', { userId: UNKNOWN_USER })).toEqual(fails('NOT_FOUND', 'user not found'));
      expect(await request(s.host, 'user:block', { userId: 'troll' })).toEqual(fails('VALIDATION_FAILED'));
      expect(await request(s.host, 'user:unblock', { userId: users.troll.user.id })).toEqual(fails('NOT_FOUND', 'this user is not on your block list'));
      expect(await request(s.anon, 'user:unblock', { userId: users.troll.user.id })).toEqual(fails('UNAUTHENTICATED'));
      expect(await server.stores.moderation.listBlocked(users.host.user.id)).toEqual([]);
    });

    it('removes a blocked viewer at once; from then on every door answers as for a broadcast that does not exist', async () => {
      await ok(s.troll, 'broadcast:join', { broadcastId: live });
      const before = await ok(s.host, 'viewers:list', { broadcastId: live });
      expect(before.viewers.map((v) => v.username)).toContain('troll');

      const removed = nextEvent(s.troll, 'broadcast:removed');
      expect(await request(s.host, 'user:block', { userId: users.troll.user.id })).toEqual({ ok: true, data: { user: { id: users.troll.user.id, username: 'troll' } } });
      expect(await removed).toEqual({ broadcastId: live });
      const list = await ok(s.host, 'viewers:list', { broadcastId: live });
      expect(list.viewers.map((v) => v.username)).not.toContain('troll');

      // Socket.io, on its open connection and on a new one: exactly the unknown id's answers.
      const unknown = await answers(s.troll, UNKNOWN_BROADCAST);
      expect(await answers(s.troll, live)).toEqual(unknown);
      const fresh = await open(users.troll.token);
      expect(await answers(fresh, live)).toEqual(unknown);
      // Others are not affected.
      expect(shape(await request(s.other, 'broadcast:join', { broadcastId: live }))).toEqual({ ok: true });
      expect(shape(await request(s.other, 'chat:send', { broadcastId: live, text: 'still here' }))).toEqual({ ok: true });
      await ok(s.other, 'broadcast:leave', { broadcastId: live });

      // HTTP: the broadcast answers as an unknown one, and is not listed.
      const missing = await http('GET', `/api/broadcasts/${UNKNOWN_BROADCAST}`, users.troll);
      expect(missing.status).toBe(404);
      expect(await http('GET', `/api/broadcasts/${live}`, users.troll)).toEqual(missing);
      const listed = async (who?: Account) => ((await http('GET', '/api/broadcasts', who)).body as { broadcasts: Array<{ id: string }> }).broadcasts.map((b) => b.id);
      expect(await listed(users.troll)).not.toContain(live);
      expect(await listed(users.other)).toContain(live);
      expect(await listed()).toContain(live);
    });

    it('holds for the broadcaster’s replays and later broadcasts, not for anyone else', async () => {
      await ok(s.host, 'broadcast:stop', { broadcastId: live });
      // Its replay, ready (no workers process here: as the finalize job reports it).
      expect(
        await server.stores.replays.applyOutput(live, 'ready', {
          durationMs: 2000,
          width: 320,
          height: 240,
          timeline: [{ offsetMs: 0, mediaStartMs: 0, durationMs: 2000 }],
          poster: 'poster.jpg',
          webm: null,
          videoMp4: null,
          hls: null,
          mp4: { name: 'replay.mp4', sizeBytes: 4, sha256: 'ab'.repeat(32) },
        }),
      ).toBe(true);
      const routes = [`/api/replays/:id`, `/api/replays/:id/poster.jpg`, `/api/replays/:id/replay.mp4`, `/api/replays/:id/download`];
      for (const route of routes) {
        const unknown = await http('GET', route.replace(':id', UNKNOWN_BROADCAST), users.troll);
        expect(unknown.status).toBe(404);
        expect(await http('GET', route.replace(':id', live), users.troll)).toEqual(unknown);
      }
      expect((await http('GET', `/api/replays/${live}`, users.other)).status).toBe(200);
      const replays = async (who: Account) => ((await http('GET', '/api/replays', who)).body as { replays: Array<{ id: string }> }).replays.map((r) => r.id);
      expect(await replays(users.troll)).not.toContain(live);
      expect(await replays(users.other)).toContain(live);

      const next = (await ok(s.host, 'broadcast:start', { title: 'Next day', visibility: 'public', invitees: [] })).broadcast.id;
      expect(await request(s.troll, 'broadcast:join', { broadcastId: next })).toEqual(fails('NOT_FOUND', 'broadcast not found'));
      expect(shape(await request(s.fan, 'broadcast:join', { broadcastId: next }))).toEqual({ ok: true });
      // Blocked by the host only: the rival's broadcasts are open to them.
      const rivals = (await ok(s.rival, 'broadcast:start', { title: 'Open house', visibility: 'public', invitees: [] })).broadcast.id;
      expect(shape(await request(s.troll, 'broadcast:join', { broadcastId: rivals }))).toEqual({ ok: true });
      await ok(s.rival, 'broadcast:stop', { broadcastId: rivals });
      live = next;
    });

    it('the block list over HTTP: one’s own only; block by name, unblock by id', async () => {
      expect(await http('GET', '/api/blocks')).toEqual({ status: 401, body: { error: expect.objectContaining({ code: 'UNAUTHENTICATED' }) } });
      const mine = await http('GET', '/api/blocks', users.host);
      expect(mine.status).toBe(200);
      expect(mine.body).toEqual({ blocked: [{ user: { id: users.troll.user.id, username: 'troll' }, blockedAt: expect.any(String) }] });
      // Nobody reads another's list: theirs is their own (empty).
      expect(await http('GET', '/api/blocks', users.admin)).toEqual({ status: 200, body: { blocked: [] } });

      expect(await http('POST', '/api/blocks', undefined, { username: 'troll' })).toMatchObject({ status: 401 });
      expect(await http('POST', '/api/blocks', users.host, { username: 'host' })).toEqual({ status: 400, body: { error: { code: 'VALIDATION_FAILED', message: 'you cannot block yourself' } } });
      expect(await http('POST', '/api/blocks', users.host, { username: 'nobody_here' })).toEqual({ status: 404, body: { error: { code: 'NOT_FOUND', message: 'user not found' } } });
      expect(await http('POST', '/api/blocks', users.host, {})).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
      expect(await http('POST', '/api/blocks', users.host, { username: 'fan', extra: 1 })).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
      // A page of another origin may not block on the user's behalf.
      expect(await http('POST', '/api/blocks', users.host, { username: 'fan' }, 'https://evil.example')).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
      expect(await http('DELETE', `/api/blocks/${users.troll.user.id}`, users.host, undefined, 'https://evil.example')).toMatchObject({ status: 403 });
      expect(await server.stores.moderation.isBlocked(users.host.user.id, users.fan.user.id)).toBe(false);

      // Someone else's unblock does nothing to the host's list.
      expect(await http('DELETE', `/api/blocks/${users.troll.user.id}`, users.admin)).toMatchObject({ status: 404 });
      expect(await http('DELETE', `/api/blocks/not-an-id`, users.host)).toMatchObject({ status: 404 });
      expect(await http('DELETE', `/api/blocks/${users.troll.user.id}`, undefined)).toMatchObject({ status: 401 });
      expect(await http('DELETE', `/api/blocks/${users.troll.user.id}`, users.host)).toEqual({ status: 204, body: undefined });
      expect(await http('DELETE', `/api/blocks/${users.troll.user.id}`, users.host)).toEqual({
        status: 404,
        body: { error: { code: 'NOT_FOUND', message: 'this user is not on your block list' } },
      });
      // Back in.
      expect(shape(await request(s.troll, 'broadcast:join', { broadcastId: live }))).toEqual({ ok: true });

      // Blocking over HTTP acts on the open connection too.
      const removed = nextEvent(s.troll, 'broadcast:removed');
      expect(await http('POST', '/api/blocks', users.host, { username: 'TROLL' })).toEqual({ status: 201, body: { user: { id: users.troll.user.id, username: 'troll' } } });
      expect(await removed).toEqual({ broadcastId: live });
      expect(await request(s.troll, 'chat:send', { broadcastId: live, text: 'again' })).toEqual(fails('NOT_FOUND', 'broadcast not found'));
      // And unblocking over socket.io.
      expect(await request(s.host, 'user:unblock', { userId: users.troll.user.id })).toEqual({ ok: true, data: {} });
      expect(await server.stores.moderation.isBlocked(users.host.user.id, users.troll.user.id)).toBe(false);
    });
  });

  describe('archives and replays', () => {
    it('removed messages leave the replay and every archive but their author’s, where they are marked', async () => {
      const { broadcast } = await ok(s.rival, 'broadcast:start', { title: 'Archived chat', visibility: 'public', invitees: [] });
      const id = broadcast.id;
      await ok(s.other, 'broadcast:join', { broadcastId: id });
      const gone = (await ok(s.other, 'chat:send', { broadcastId: id, text: 'regrettable' })).message;
      const stays = (await ok(s.other, 'chat:send', { broadcastId: id, text: 'fine' })).message;
      await ok(s.rival, 'chat:remove', { messageId: gone.id });
      await ok(s.rival, 'broadcast:stop', { broadcastId: id });

      const replay = (await http('GET', `/api/replays/${id}`, users.fan)).body as { chat: Array<{ id: string }> };
      expect(replay.chat.map((m) => m.id)).toEqual([stays.id]);

      const input = async (who: Account): Promise<ArchiveInput> => {
        const res = await http('POST', '/api/archives', who);
        expect(res.status).toBe(202);
        const { archive } = res.body as { archive: { id: string } };
        return JSON.parse(readFileSync(path.join(server.dataDir, archiveKey(archive.id, ARCHIVE_INPUT_FILE)), 'utf8')) as ArchiveInput;
      };
      // The broadcaster's archive: the chat of their broadcast without it.
      const owners = await input(users.rival);
      expect(owners.broadcasts.find((b) => b.id === id)?.chat.map((m) => [m.text, m.removed])).toEqual([['fine', undefined]]);
      // The author's: their own words, marked as removed by the broadcaster.
      const authors = await input(users.other);
      expect(authors.chatElsewhere.filter((m) => m.broadcastId === id).map((m) => [m.text, m.removed])).toEqual([
        ['regrettable', { by: 'broadcaster', at: expect.any(String) }],
        ['fine', undefined],
      ]);
    });
  });
});
