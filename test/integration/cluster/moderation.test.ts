import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import { createTestDatabase, type TestDatabase } from '../../../testkit/postgres.ts';
import { connect, grantAdmin, nextEvent, ok, request, signUp, startTestNodes, type ClientSocket, type TestServer } from '../../../testkit/server.ts';

/**
 * Moderation across nodes (docs/moderation.md, docs/scale.md): a broadcast live on node A, its
 * viewers on node B (through B's relay). The broadcaster, on A, sees B's viewers in the list,
 * removes a message and blocks a viewer: both reach node B — the message leaves B's viewers'
 * chat, and B itself removes the blocked viewer's connection (its media and its room) — and
 * slow mode and followers-only chat, set on A, hold for viewers chatting through B. An admin
 * answered by node B ends a broadcast on air on node A, or suspends its broadcaster: node A
 * closes it at once and every client, on both nodes, is told why.
 */
describe('two nodes: moderation reaches the viewers of every node', () => {
  let db: TestDatabase | undefined;
  const servers: TestServer[] = [];
  const sockets: ClientSocket[] = [];
  let broadcastId: BroadcastId;
  let caster: ClientSocket;

  const open = async (server: TestServer, token?: string) => {
    const socket = await connect(server.url, token);
    sockets.push(socket);
    return socket;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    servers.push(...(await startTestNodes(db.url, ['node-a', 'node-b'])));
    const owner = await signUp(servers[0]!.url, 'modowner');
    caster = await open(servers[0]!, owner.token);
    broadcastId = (await ok(caster, 'broadcast:start', { title: 'Moderated across nodes', visibility: 'public', invitees: [] })).broadcast.id;
  }, 60_000);
  afterAll(async () => {
    for (const s of sockets.splice(0)) s.disconnect();
    for (const s of servers.splice(0).reverse()) await s.stop().catch(() => undefined);
    await db?.drop();
  });

  it('lists, removes, slows and blocks viewers served by another node', async () => {
    const b = servers[1]!;
    const pest = await signUp(b.url, 'modpest');
    const calm = await signUp(b.url, 'modcalm');
    const pestOnB = await open(b, pest.token);
    const calmOnB = await open(b, calm.token);
    const anonOnB = await open(b);
    for (const s of [pestOnB, calmOnB, anonOnB]) await ok(s, 'broadcast:join', { broadcastId });
    expect(b.live.viewersHere().filter((v) => v.broadcastId === broadcastId)).toHaveLength(3);

    // The list, asked on A, has B's viewers.
    const list = await ok(caster, 'viewers:list', { broadcastId });
    expect(list.viewers.map((v) => v.username)).toEqual(['modcalm', 'modpest']);
    expect(list.anonymous).toBe(1);

    // A message sent through B, removed on A: B's viewers hear of it.
    const message = (await ok(pestOnB, 'chat:send', { broadcastId, text: 'spam' })).message;
    const told = nextEvent(calmOnB, 'chat:removed', 5000, (e) => e.messageId === message.id);
    await ok(caster, 'chat:remove', { messageId: message.id });
    expect(await told).toEqual({ broadcastId, messageId: message.id });

    // Slow mode set on A holds on B.
    const settings = nextEvent(anonOnB, 'chat:settings');
    await ok(caster, 'chat:slow-mode', { broadcastId, seconds: 30 });
    expect(await settings).toEqual({ broadcastId, slowModeSeconds: 30, followersOnly: false });
    await ok(calmOnB, 'chat:send', { broadcastId, text: 'once' });
    expect(await request(calmOnB, 'chat:send', { broadcastId, text: 'twice' })).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });

    // Blocked on A: node B removes the connection it serves.
    const removed = nextEvent(pestOnB, 'broadcast:removed');
    await ok(caster, 'user:block', { userId: pest.user.id });
    expect(await removed).toEqual({ broadcastId });
    await expect.poll(() => b.live.viewersHere().filter((v) => v.broadcastId === broadcastId).length, { timeout: 5000 }).toBe(2);
    expect(await request(pestOnB, 'chat:send', { broadcastId, text: 'let me back' })).toEqual({ ok: false, error: { code: 'NOT_FOUND', message: 'broadcast not found' } });
    expect(await request(pestOnB, 'broadcast:join', { broadcastId })).toEqual({ ok: false, error: { code: 'NOT_FOUND', message: 'broadcast not found' } });
    await expect.poll(async () => (await ok(caster, 'viewers:list', { broadcastId })).viewers.map((v) => v.username), { timeout: 5000 }).toEqual(['modcalm']);
  }, 60_000);

  it('followers-only chat, switched on A, holds for viewers chatting through B', async () => {
    const b = servers[1]!;
    await ok(caster, 'chat:slow-mode', { broadcastId, seconds: 0 });
    const fan = await signUp(b.url, 'modfan');
    const stranger = await signUp(b.url, 'modstranger');
    const fanOnB = await open(b, fan.token);
    const strangerOnB = await open(b, stranger.token);
    for (const s of [fanOnB, strangerOnB]) await ok(s, 'broadcast:join', { broadcastId });
    const follow = await fetch(`${b.url}/api/users/modowner/follow`, { method: 'PUT', headers: { authorization: `Bearer ${fan.token}` } });
    expect(follow.status).toBe(200);

    const settings = nextEvent(strangerOnB, 'chat:settings');
    expect(await ok(caster, 'chat:followers-only', { broadcastId, enabled: true })).toEqual({ broadcastId, slowModeSeconds: 0, followersOnly: true });
    expect(await settings).toEqual({ broadcastId, slowModeSeconds: 0, followersOnly: true });
    expect(await request(strangerOnB, 'chat:send', { broadcastId, text: 'hello?' })).toEqual({
      ok: false,
      error: { code: 'FOLLOWERS_ONLY', message: 'this chat is for followers only: follow the broadcaster to chat' },
    });
    await ok(fanOnB, 'chat:send', { broadcastId, text: 'a follower speaks' });
    await ok(caster, 'chat:send', { broadcastId, text: 'the broadcaster always may' });

    await ok(caster, 'chat:followers-only', { broadcastId, enabled: false });
    await ok(strangerOnB, 'chat:send', { broadcastId, text: 'open again' });
  }, 60_000);

  it('an admin on node B ends a broadcast on air on node A, and suspends a broadcaster on air on A: A closes each at once', async () => {
    const [a, b] = [servers[0]!, servers[1]!];
    const admin = await signUp(b.url, 'modadmin');
    await grantAdmin(b, 'modadmin');
    const asAdmin = (method: string, path: string, body: unknown) =>
      fetch(`${b.url}${path}`, { method, headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

    // A reported broadcast on A, ended from a report by an admin answered by B.
    const loud = await signUp(a.url, 'modloud');
    const loudOnA = await open(a, loud.token);
    const reported = (await ok(loudOnA, 'broadcast:start', { title: 'Reported on A', visibility: 'public', invitees: [] })).broadcast.id;
    const reporter = await signUp(b.url, 'modreporter');
    const reporterOnB = await open(b, reporter.token);
    await ok(reporterOnB, 'broadcast:join', { broadcastId: reported });
    const filed = await fetch(`${b.url}/api/reports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${reporter.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'broadcast', id: reported, reason: 'spam' }),
    });
    expect(filed.status).toBe(201);
    const reportId = ((await filed.json()) as { report: { id: string } }).report.id;
    const casterTold = nextEvent(loudOnA, 'broadcast:ended', 5000, (e) => e.broadcastId === reported);
    const viewerTold = nextEvent(reporterOnB, 'broadcast:ended', 5000, (e) => e.broadcastId === reported);
    const ended = await asAdmin('POST', `/api/admin/reports/${reportId}`, { action: 'end' });
    expect(ended.status).toBe(200);
    expect(await casterTold).toEqual({ broadcastId: reported, reason: 'ended-by-admin' });
    expect(await viewerTold).toEqual({ broadcastId: reported, reason: 'ended-by-admin' });
    expect(a.live.onAir(reported)).toBeUndefined();
    expect((await a.stores.broadcasts.get(reported))?.endReason).toBe('ended-by-admin');
    // Ended for good: the broadcaster's next request about it says so, on A.
    expect(await request(loudOnA, 'chat:send', { broadcastId: reported, text: 'still here?' })).toMatchObject({ ok: false });

    // A suspension from B ends the broadcaster's broadcast on A at once; they cannot go live again.
    const rogue = await signUp(a.url, 'modrogue');
    const rogueOnA = await open(a, rogue.token);
    const rogueLive = (await ok(rogueOnA, 'broadcast:start', { title: 'Suspended on A', visibility: 'public', invitees: [] })).broadcast.id;
    const watcherOnB = await open(b);
    await ok(watcherOnB, 'broadcast:join', { broadcastId: rogueLive });
    const rogueTold = nextEvent(rogueOnA, 'broadcast:ended', 5000, (e) => e.broadcastId === rogueLive);
    const watcherTold = nextEvent(watcherOnB, 'broadcast:ended', 5000, (e) => e.broadcastId === rogueLive);
    const suspended = await asAdmin('PUT', `/api/admin/users/${rogue.user.id}/suspension`, { reason: 'testing cross-node suspension' });
    expect(suspended.status).toBe(200);
    expect(await rogueTold).toEqual({ broadcastId: rogueLive, reason: 'account-suspended' });
    expect(await watcherTold).toEqual({ broadcastId: rogueLive, reason: 'account-suspended' });
    expect(a.live.onAir(rogueLive)).toBeUndefined();
    expect((await a.stores.broadcasts.get(rogueLive))?.endReason).toBe('account-suspended');
    expect(await request(rogueOnA, 'broadcast:start', { title: 'Again', visibility: 'public', invitees: [] })).toMatchObject({ ok: false, error: { code: 'SUSPENDED' } });
  }, 60_000);
});
