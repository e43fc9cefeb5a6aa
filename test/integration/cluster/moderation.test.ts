import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import { createTestDatabase, type TestDatabase } from '../../../testkit/postgres.ts';
import { connect, nextEvent, ok, request, signUp, startTestNodes, type ClientSocket, type TestServer } from '../../../testkit/server.ts';

/**
 * Moderation across nodes (docs/moderation.md, docs/scale.md): a broadcast live on node A, its
 * viewers on node B (through B's relay). The broadcaster, on A, sees B's viewers in the list,
 * removes a message and blocks a viewer: both reach node B — the message leaves B's viewers'
 * chat, and B itself removes the blocked viewer's connection (its media and its room) — and
 * slow mode, set on A, holds for a viewer chatting through B.
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
    expect(await settings).toEqual({ broadcastId, slowModeSeconds: 30 });
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
});
