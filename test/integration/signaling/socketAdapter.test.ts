import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../testkit/postgres.ts';
import { connect, nextEvent, ok, signUp, startTestServer, testQueuePrefix, type ClientSocket, type TestServer } from '../../../testkit/server.ts';

/**
 * Two Spyglass nodes on one PostgreSQL database and one Redis prefix, as a deployment of
 * several nodes: what one node does to a room reaches sockets on the other only through the
 * socket.io adapter.
 */
describe.each(['redis', 'memory'] as const)('two nodes with the %s socket.io adapter', (kind) => {
  let db: TestDatabase | undefined;
  const servers: TestServer[] = [];
  const sockets: ClientSocket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.disconnect();
    for (const s of servers.splice(0)) await s.stop().catch(() => undefined);
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function twoNodes(): Promise<[TestServer, TestServer]> {
    db ??= await createTestDatabase();
    const shared = { databaseUrl: db.url, queuePrefix: testQueuePrefix(), socketAdapter: kind, recording: { enabled: false } };
    servers.push(await startTestServer(shared));
    servers.push(await startTestServer(shared));
    return [servers[0]!, servers[1]!];
  }

  it(kind === 'redis' ? 'signing out on node A disconnects the session’s socket on node B' : 'control: node B’s socket stays connected (nothing crosses nodes)', async () => {
    const [a, b] = await twoNodes();
    const user = await signUp(a.url, `adapter${kind}`);
    const onB = await connect(b.url, user.token);
    sockets.push(onB);
    const disconnected = new Promise<string>((resolve) => onB.once('disconnect', (reason) => resolve(reason)));
    const res = await fetch(`${a.url}/api/auth/signout`, { method: 'POST', headers: { authorization: `Bearer ${user.token}` } });
    expect(res.status).toBe(204);
    const outcome = await Promise.race([disconnected, new Promise<string>((resolve) => setTimeout(() => resolve('still connected'), 1500))]);
    expect(outcome).toBe(kind === 'redis' ? 'io server disconnect' : 'still connected');
  });
});

/**
 * Notifications reach every page of a user whatever node it is connected to: the go-live on
 * node A is pushed to the user's room (`u:<id>`), which the Redis adapter carries to node B.
 */
describe('a go-live on node A notifies a follower connected to node B (Redis adapter)', () => {
  let db: TestDatabase | undefined;
  const servers: TestServer[] = [];
  const sockets: ClientSocket[] = [];
  afterAll(async () => {
    for (const s of sockets.splice(0)) s.disconnect();
    for (const s of servers.splice(0).reverse()) await s.stop().catch(() => undefined);
    await db?.drop();
  });

  it('the follower on node B gets notification:new', async () => {
    db = await createTestDatabase();
    const shared = { databaseUrl: db.url, queuePrefix: testQueuePrefix(), socketAdapter: 'redis' as const, recording: { enabled: false } };
    const a = await startTestServer(shared);
    servers.push(a);
    const b = await startTestServer(shared);
    servers.push(b);
    const star = await signUp(a.url, 'xnode_star');
    const fan = await signUp(b.url, 'xnode_fan');
    const follow = await fetch(`${b.url}/api/users/xnode_star/follow`, { method: 'PUT', headers: { authorization: `Bearer ${fan.token}` } });
    expect(follow.status).toBe(200);
    const fanOnB = await connect(b.url, fan.token);
    const starOnA = await connect(a.url, star.token);
    sockets.push(fanOnB, starOnA);
    const told = nextEvent(fanOnB, 'notification:new', 10_000);
    const started = await ok(starOnA, 'broadcast:start', { title: 'Across nodes', visibility: 'public', invitees: [] });
    const { notification } = await told;
    expect(notification).toMatchObject({ kind: 'live', broadcast: { id: started.broadcast.id, title: 'Across nodes' }, actor: { username: 'xnode_star' }, read: false });
    await ok(starOnA, 'broadcast:stop', { broadcastId: started.broadcast.id });
  }, 60_000);
});
