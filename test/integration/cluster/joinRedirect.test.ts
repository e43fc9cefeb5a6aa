import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeRegistry } from '../../../common/cluster/NodeRegistry.ts';
import { createLogger } from '../../../common/logger.ts';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import { consumeAll, goLiveFake } from '../../helpers/fakePeers.ts';
import { createTestDatabase, type TestDatabase } from '../../../testkit/postgres.ts';
import { connect, nextEvent, ok, rawRequest, request, signUp, startTestServer, testQueuePrefix, type ClientSocket, type TestServer } from '../../../testkit/server.ts';
import { freePort } from '../../../testkit/supervisor.ts';

/**
 * Join redirection (docs/protocol.md, "Join redirection"): two nodes on one PostgreSQL and one
 * Redis prefix, deployed as behind a balancer — one public URL (the pages' origin, nothing
 * listens there in this test) and a node URL each. Node B redirects at 1 consumer per worker
 * (`cluster.maxConsumersPerWorker`); A keeps the default. A broadcast lives on B and a viewer
 * there consumes its two tracks, so B is loaded and A, with no consumer, is not.
 */
describe('join redirection by load (two nodes, real Redis and PostgreSQL)', () => {
  const prefix = testQueuePrefix();
  let db: TestDatabase | undefined;
  let a: TestServer | undefined;
  let b: TestServer | undefined;
  let nodeUrlA = '';
  let nodeUrlB = '';
  let publicOrigin = '';
  let id = '' as BroadcastId;
  const sockets: ClientSocket[] = [];
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true });
  let ghost: { registry: NodeRegistry; redis: Redis } | undefined;

  const open = async (url: string, o: { origin?: string } = {}) => {
    const s = await connect(url, undefined, o);
    sockets.push(s);
    return s;
  };
  /** A fresh anonymous viewer's `broadcast:join` on `url`, answered as 'served' or the error code (and its redirect). */
  const joinOn = async (url: string, redirected?: boolean) => {
    const s = await open(url);
    const res = await request(s, 'broadcast:join', redirected === undefined ? { broadcastId: id } : { broadcastId: id, redirected });
    return res.ok ? { served: true as const, socket: s, data: res.data } : { served: false as const, socket: s, error: res.error };
  };
  /** Whether `server` holds a viewer for that socket (as the broadcast's origin, or in its relay of it). */
  const viewerOn = (server: TestServer, socket: ClientSocket) =>
    (server.live.onAir(id) ?? server.cluster!.relays.get(id))?.viewerOf(socket.id!) !== undefined;
  /** Ends node A's drain, and waits until A knows too (a node reads its flag at each heartbeat). */
  const undrainA = async () => {
    await redis.del(`${prefix}:drain:node-a`);
    await expect.poll(() => a!.cluster!.registry.draining, { timeout: 5000, interval: 50 }).toBe(false);
  };
  const outcome = async (url: string) => {
    const r = await joinOn(url);
    return r.served ? 'served' : `${r.error.code} ${r.error.redirect?.url ?? ''}`.trim();
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    await redis.connect();
    const [portA, portB, portPublic] = await Promise.all([freePort(), freePort(), freePort()]);
    nodeUrlA = `http://127.0.0.1:${portA}`;
    nodeUrlB = `http://127.0.0.1:${portB}`;
    publicOrigin = `http://127.0.0.1:${portPublic}`;
    const node = (nodeId: string, port: number, nodeUrl: string, maxConsumersPerWorker?: number) =>
      startTestServer({
        databaseUrl: db!.url,
        queuePrefix: prefix,
        socketAdapter: 'redis',
        recording: { enabled: false },
        http: { port, publicUrl: publicOrigin },
        cluster: { enabled: true, nodeId, nodeUrl, heartbeatMs: 200, ttlMs: 1000, ...(maxConsumersPerWorker === undefined ? {} : { maxConsumersPerWorker }) },
      });
    a = await node('node-a', portA, nodeUrlA);
    b = await node('node-b', portB, nodeUrlB, 1);

    const owner = await signUp(nodeUrlB, 'redirowner');
    const caster = await connect(nodeUrlB, owner.token);
    sockets.push(caster);
    id = (await goLiveFake(caster, 'Busy node')).id;
    // Below its threshold B serves a join that did not come by a redirect.
    const first = await joinOn(nodeUrlB);
    if (!first.served) throw new Error(`the first viewer on B was not served: ${first.error.code}`);
    expect(await consumeAll(first.socket, id, first.data.rtpCapabilities)).toHaveLength(2);
  }, 120_000);

  afterAll(async () => {
    for (const s of sockets.splice(0)) s.disconnect();
    await ghost?.registry.close();
    ghost?.redis.disconnect();
    redis.disconnect();
    await b?.stop().catch(() => undefined);
    // Its stop deletes every key under the shared prefix (drain flags and the ghost's entry too).
    await a?.stop().catch(() => undefined);
    await db?.drop();
  });

  it('a join to the loaded node is redirected to the node below the threshold, with its node URL', async () => {
    expect(b!.pool.workers.reduce((n, w) => n + w.consumerCount, 0)).toBeGreaterThanOrEqual(2);
    const r = await joinOn(nodeUrlB);
    expect(r.served).toBe(false);
    if (r.served) return;
    expect(r.error).toEqual({ code: 'REDIRECT', message: expect.stringContaining(nodeUrlA) as string, redirect: { url: nodeUrlA } });
    expect(viewerOn(b!, r.socket)).toBe(false);
  });

  it('the redirected viewer, a page of the public origin, connects to that node and is served there', async () => {
    const s = await open(nodeUrlA, { origin: publicOrigin });
    const joined = await ok(s, 'broadcast:join', { broadcastId: id, redirected: true });
    expect(joined.broadcast.id).toBe(id);
    expect(viewerOn(a!, s)).toBe(true);
    // The origin check stays: a page of another origin may not open a socket on the node (the
    // WebSocket upgrade is refused, which the client reports as a "websocket error").
    await expect(connect(nodeUrlA, undefined, { origin: 'http://evil.example' })).rejects.toThrow(/websocket error/);
  });

  it('a join that came by a redirect is served on the loaded node', async () => {
    const r = await joinOn(nodeUrlB, true);
    expect(r.served).toBe(true);
    expect(viewerOn(b!, r.socket)).toBe(true);
  });

  it('answers malformed joins, unknown and ended broadcasts as before, not with a redirect', async () => {
    const s = await open(nodeUrlB);
    for (const payload of [{ broadcastId: id, redirected: 'yes' }, { broadcastId: id, redirected: 1 }, { broadcastId: id, redirected: true, hops: 2 }, { redirected: true }]) {
      expect(await rawRequest(s, 'broadcast:join', payload), JSON.stringify(payload)).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });
    }
    expect(await request(s, 'broadcast:join', { broadcastId: 'b_doesNotExist1' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    // A broadcast that ended (on A) is BROADCAST_ENDED on the loaded B, as anywhere.
    const owner = await signUp(nodeUrlA, 'redirended');
    const caster = await connect(nodeUrlA, owner.token);
    sockets.push(caster);
    const ended = await goLiveFake(caster, 'Short');
    await ok(caster, 'broadcast:stop', { broadcastId: ended.id });
    expect(await request(s, 'broadcast:join', { broadcastId: ended.id })).toMatchObject({ ok: false, error: { code: 'BROADCAST_ENDED' } });
    // …while a live one is still redirected from there.
    expect(await outcome(nodeUrlB)).toBe(`REDIRECT ${nodeUrlA}`);
  });

  it('never redirects to a draining node', async () => {
    expect(await b!.cluster!.registry.drain('node-a')).toBe(true);
    try {
      expect(await outcome(nodeUrlB)).toBe('served');
    } finally {
      await undrainA();
    }
    expect(await outcome(nodeUrlB)).toBe(`REDIRECT ${nodeUrlA}`);
  });

  it('never redirects to a node whose heartbeat lapsed', async () => {
    // A third node that beats, then stops without leaving (its Redis connection cut, as by a
    // crash); A drains meanwhile so that the ghost is the only node B could send joins to.
    const ghostRedis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    const registry = new NodeRegistry({ redis: ghostRedis, prefix, heartbeatMs: 100, ttlMs: 500, logger: createLogger({ level: 'silent' }) });
    ghost = { registry, redis: ghostRedis };
    const ghostUrl = `http://127.0.0.1:${await freePort()}`;
    await registry.start(() => ({
      id: 'node-ghost',
      url: ghostUrl,
      announcedAddress: null,
      startedAt: new Date().toISOString(),
      load: { routers: 0, consumers: 0, workers: [{ index: 0, pid: 1 }] },
    }));
    expect(await b!.cluster!.registry.drain('node-a')).toBe(true);
    try {
      const alive = await joinOn(nodeUrlB);
      expect(alive.served ? 'served' : alive.error.redirect).toEqual({ url: ghostUrl });
      ghostRedis.disconnect();
      // Its entry lapses 0.5 s after its last beat; from then on B serves.
      await expect.poll(() => outcome(nodeUrlB), { timeout: 5000, interval: 100 }).toBe('served');
      expect((await b!.cluster!.registry.list()).map((n) => n.id)).not.toContain('node-ghost');
    } finally {
      await undrainA();
    }
  });

  it('a drained node redirects every join, and tells each of its viewers once to move to another node', async () => {
    const viewer = await open(nodeUrlA);
    await ok(viewer, 'broadcast:join', { broadcastId: id, redirected: true });
    const moved = nextEvent(viewer, 'broadcast:move', 5000);
    expect(await b!.cluster!.registry.drain('node-a')).toBe(true);
    try {
      // A is not loaded (its threshold is the default): it moves and redirects because it drains.
      expect(await moved).toEqual({ broadcastId: id, url: nodeUrlB });
      expect(await outcome(nodeUrlA)).toBe(`REDIRECT ${nodeUrlB}`);
      // A join that followed a redirect is served wherever it lands; a viewer that stays is not told again.
      expect((await joinOn(nodeUrlA, true)).served).toBe(true);
      await expect(nextEvent(viewer, 'broadcast:move', 1500)).rejects.toThrow(/no broadcast:move/);
    } finally {
      await undrainA();
    }
    expect(await outcome(nodeUrlA)).toBe('served');
  });

  it('when every node is loaded, the node reached serves the join', async () => {
    // The viewer on A consumes: A holds 2 consumers, at or past B's threshold too.
    const onA = await open(nodeUrlA);
    const joined = await ok(onA, 'broadcast:join', { broadcastId: id });
    expect(await consumeAll(onA, id, joined.rtpCapabilities)).toHaveLength(2);
    await expect.poll(async () => (await b!.cluster!.registry.list()).find((n) => n.id === 'node-a')?.load.consumers, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    expect(await outcome(nodeUrlB)).toBe('served');
  });
});
