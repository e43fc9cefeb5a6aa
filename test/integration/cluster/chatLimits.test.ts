import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import { createTestDatabase, type TestDatabase } from '../../../testkit/postgres.ts';
import { connect, ok, request, signUp, startTestNodes, type ClientSocket, type TestServer } from '../../../testkit/server.ts';

const CHAT_BURST = 3;
const CHAT_WINDOW_SECONDS = 60;
const HEARTS_PER_SECOND = 4;

/**
 * Chat and heart limits across nodes (docs/scale.md): two Spyglass nodes in one deployment
 * (one PostgreSQL, one Redis prefix, `cluster.enabled`, the Redis socket.io adapter). A
 * broadcast goes live on node A; one person is connected to both nodes and watches it on
 * each (directly on A, through B's relay). The allowance they spend through A is spent on B
 * too: the counters are in Redis, not in each node.
 */
describe('two nodes: chat and heart limits hold across them', () => {
  let db: TestDatabase | undefined;
  const servers: TestServer[] = [];
  const sockets: ClientSocket[] = [];
  let redis: Redis | undefined;
  let prefix = '';
  let broadcastId: BroadcastId;

  const open = async (server: TestServer, token: string) => {
    const socket = await connect(server.url, token);
    sockets.push(socket);
    return socket;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    servers.push(
      ...(await startTestNodes(db.url, ['node-a', 'node-b'], {
        live: { chatBurst: CHAT_BURST, chatWindowSeconds: CHAT_WINDOW_SECONDS, heartsPerSecond: HEARTS_PER_SECOND },
      })),
    );
    prefix = servers[0]!.config.queuePrefix;
    redis = new Redis(servers[0]!.config.redisUrl, { maxRetriesPerRequest: 1 });
    const owner = await signUp(servers[0]!.url, 'limitowner');
    const caster = await open(servers[0]!, owner.token);
    broadcastId = (await ok(caster, 'broadcast:start', { title: 'Limits across nodes', visibility: 'public', invitees: [] })).broadcast.id;
  }, 60_000);
  afterAll(async () => {
    for (const s of sockets.splice(0)) s.disconnect();
    redis?.disconnect();
    // Stopping a node deletes every Redis key under the deployment's prefix, rate-limit counters included.
    for (const s of servers.splice(0).reverse()) await s.stop().catch(() => undefined);
    await db?.drop();
  });

  /** A new signed-in person with one connection to each node, watching the broadcast on both. */
  async function onBothNodes(username: string): Promise<{ onA: ClientSocket; onB: ClientSocket }> {
    const [a, b] = servers as [TestServer, TestServer];
    const person = await signUp(a.url, username);
    const onA = await open(a, person.token);
    const onB = await open(b, person.token);
    await ok(onA, 'broadcast:join', { broadcastId });
    await ok(onB, 'broadcast:join', { broadcastId });
    return { onA, onB };
  }

  it('chat: the messages sent through node A count on node B', async () => {
    const { onA, onB } = await onBothNodes('limitchatter');
    for (let i = 0; i < CHAT_BURST; i++) await ok(onA, 'chat:send', { broadcastId, text: `through A ${i}` });
    const refused = await request(onB, 'chat:send', { broadcastId, text: 'through B' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });
    if (!refused.ok) expect(refused.error.message).toMatch(/^slow down: at most 3 messages per 60 s; try again in \d+ s$/);
    // Through A as well, and nothing past the allowance was stored.
    expect(await request(onA, 'chat:send', { broadcastId, text: 'through A again' })).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });
    const stored = await servers[0]!.stores.chat.recent(broadcastId, 50);
    expect(stored.filter((m) => m.user.username === 'limitchatter').map((m) => m.text)).toEqual(['through A 0', 'through A 1', 'through A 2']);

    // The counter is one key in Redis, under the deployment's prefix; another person has their own.
    expect(await redis!.keys(`${prefix}:rl:chat:${broadcastId}:*`)).toHaveLength(1);
    const other = await onBothNodes('limitcalm');
    await ok(other.onB, 'chat:send', { broadcastId, text: 'someone else through B' });
  });

  it('hearts: the hearts sent through node A count on node B', async () => {
    const { onA, onB } = await onBothNodes('limithearts');
    // The hearts' window is one second from the first heart, so the allowance and the refusal
    // must fall into one window: an attempt that took longer (a loaded machine) waits for the
    // next window and is made again.
    for (let attempt = 1; ; attempt++) {
      const started = Date.now();
      const throughA = await Promise.all(Array.from({ length: HEARTS_PER_SECOND }, () => request(onA, 'heart:send', { broadcastId })));
      const throughB = await request(onB, 'heart:send', { broadcastId });
      if (Date.now() - started > 800 && attempt < 3) {
        await sleep(1100);
        continue;
      }
      expect(throughA.every((r) => r.ok)).toBe(true);
      expect(throughB).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });
      if (!throughB.ok) expect(throughB.error.message).toMatch(/^slow down: at most 4 hearts per second; try again in 1 s$/);
      break;
    }
  });
});
