import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeRegistry, type NodeInfo } from '../../../common/cluster/NodeRegistry.ts';
import { dropQueues, testQueuePrefix } from '../../../testkit/server.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const info = (id: string, consumers = 0): NodeInfo => ({
  id,
  url: `http://${id}.example:8080`,
  announcedAddress: '10.0.0.1',
  startedAt: new Date().toISOString(),
  load: { routers: 1, consumers, workers: [{ index: 0, pid: 4242 }] },
});

describe('NodeRegistry (real Redis)', () => {
  const prefix = testQueuePrefix();
  const clients: Redis[] = [];
  const registries: NodeRegistry[] = [];
  const logged: Array<{ msg: string }> = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line) as { msg: string }) });
  const registry = (o: { heartbeatMs?: number; ttlMs?: number } = {}) => {
    const redis = new Redis(REDIS_URL);
    clients.push(redis);
    const r = new NodeRegistry({ redis, prefix, logger, heartbeatMs: 100, ttlMs: 500, ...o });
    registries.push(r);
    return { r, redis };
  };
  afterAll(async () => {
    for (const r of registries) await r.close();
    for (const c of clients) c.disconnect();
    await dropQueues(REDIS_URL, prefix);
  });

  it('lists the nodes that beat, with their load; a node that closes is gone at once', async () => {
    const a = registry();
    const b = registry();
    let load = 3;
    await a.r.start(() => info('node-a', load));
    await b.r.start(() => info('node-b'));
    expect((await a.r.list()).map((n) => n.id)).toEqual(['node-a', 'node-b']);
    load = 7;
    await expect.poll(async () => (await b.r.list()).find((n) => n.id === 'node-a')?.load.consumers).toBe(7);
    await b.r.close();
    await b.r.close();
    expect((await a.r.list()).map((n) => n.id)).toEqual(['node-a']);
  });

  it('takes a node that stops beating for dead once its TTL lapses', async () => {
    const watcher = registry();
    const dying = registry();
    await dying.r.start(() => info('node-dying'));
    expect((await watcher.r.list()).some((n) => n.id === 'node-dying')).toBe(true);
    // Its Redis connection is cut, as by a crash or a partition: no more beats, no clean close.
    dying.redis.disconnect();
    await expect.poll(async () => (await watcher.r.list()).some((n) => n.id === 'node-dying'), { timeout: 3000 }).toBe(false);
  });

  it('drains a live node, and refuses to drain a node that is not alive', async () => {
    const a = registry();
    await a.r.start(() => info('node-drain'));
    expect(await a.r.drain('node-nobody')).toBe(false);
    expect(await a.r.drain('node-drain')).toBe(true);
    expect((await a.r.list()).find((n) => n.id === 'node-drain')?.draining).toBe(true);
    expect(await a.r.isDraining('node-drain')).toBe(true);
    await expect(a.r.drain('bad id; FLUSHALL')).rejects.toThrow(/node id/);
  });

  it('skips a malformed entry and says so, instead of failing the list', async () => {
    const a = registry();
    await a.r.start(() => info('node-good'));
    await a.redis.zadd(`${prefix}:nodes`, Date.now() + 60_000, 'node-bad');
    await a.redis.set(`${prefix}:node:node-bad`, '{"id":"node-bad","url":42}', 'PX', 60_000);
    const ids = (await a.r.list()).map((n) => n.id);
    expect(ids).toContain('node-good');
    expect(ids).not.toContain('node-bad');
    expect(logged.some((l) => l.msg === 'skipped a malformed node entry in the registry')).toBe(true);
  });

  it('refuses to start with info that does not validate', async () => {
    const a = registry();
    await expect(a.r.start(() => ({ ...info('node-x'), url: '' }))).rejects.toThrow();
  });
});
