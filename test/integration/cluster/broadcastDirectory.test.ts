import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBroadcastDirectory, RedisBroadcastDirectory, type BroadcastDirectory } from '../../../common/cluster/BroadcastDirectory.ts';
import { dropQueues, testQueuePrefix } from '../../../testkit/server.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const TTL_MS = 400;
const newBroadcastId = () => `b_${randomBytes(8).toString('hex')}`;

describe('RedisBroadcastDirectory: two nodes, one Redis', () => {
  const prefix = testQueuePrefix();
  let redisA: Redis;
  let redisB: Redis;
  let a: BroadcastDirectory;
  let b: BroadcastDirectory;
  beforeAll(() => {
    redisA = new Redis(REDIS_URL);
    redisB = new Redis(REDIS_URL);
    a = new RedisBroadcastDirectory({ redis: redisA, prefix, ttlMs: TTL_MS });
    b = new RedisBroadcastDirectory({ redis: redisB, prefix, ttlMs: TTL_MS });
  });
  afterAll(async () => {
    redisA?.disconnect();
    redisB?.disconnect();
    await dropQueues(REDIS_URL, prefix);
  });

  it('two nodes racing to own one broadcast: exactly one wins, 100 times out of 100', async () => {
    for (let round = 0; round < 100; round++) {
      const id = newBroadcastId();
      const [ca, cb] = await Promise.all([a.claim(id, 'node-a'), b.claim(id, 'node-b')]);
      expect([ca, cb].filter((c) => c !== null)).toHaveLength(1);
      const winner = (ca ?? cb)!;
      expect(await a.lookup(id)).toEqual(winner);
    }
  });

  it("the loser can neither renew nor release the winner's claim; the winner can", async () => {
    const id = newBroadcastId();
    const won = (await a.claim(id, 'node-a'))!;
    expect(await b.claim(id, 'node-b')).toBeNull();
    const forged = { ...won, nodeId: 'node-b' };
    expect(await b.renew(forged)).toBe(false);
    expect(await b.release(forged)).toBe(false);
    expect(await b.release({ ...won, token: won.token + 1 })).toBe(false);
    expect(await b.lookup(id)).toEqual(won);
    expect(await a.renew(won)).toBe(true);
    expect(await a.release(won)).toBe(true);
    expect(await b.lookup(id)).toBeNull();
    const next = (await b.claim(id, 'node-b'))!;
    expect(next.token).toBeGreaterThan(won.token);
  });

  it("a claim that is not renewed lapses, and another node takes the broadcast; the old holder's renew then fails", async () => {
    const id = newBroadcastId();
    const old = (await a.claim(id, 'node-a'))!;
    await new Promise((resolve) => setTimeout(resolve, TTL_MS + 150));
    const taken = await b.claim(id, 'node-b');
    expect(taken?.nodeId).toBe('node-b');
    expect(await a.renew(old)).toBe(false);
    expect(await a.release(old)).toBe(false);
    expect((await a.lookup(id))?.nodeId).toBe('node-b');
  });

  it('refuses malformed ids before touching Redis', async () => {
    await expect(a.claim('not-a-broadcast', 'node-a')).rejects.toThrow(/broadcast id/);
    await expect(a.claim(newBroadcastId(), 'node a; DEL *')).rejects.toThrow(/node id/);
    await expect(a.lookup('b_../../x')).rejects.toThrow(/broadcast id/);
    // A value that is not ours under the key reads as no holder, not as a crash.
    const id = newBroadcastId();
    await redisA.set(`${prefix}:origin:${id}`, 'garbage');
    expect(await a.lookup(id)).toBeNull();
  });
});

describe('LocalBroadcastDirectory (one host)', () => {
  it('keeps the same rules: one holder, holder-only renew and release, lapse after the TTL', async () => {
    const d = new LocalBroadcastDirectory(TTL_MS);
    const id = newBroadcastId();
    const won = (await d.claim(id, 'here'))!;
    expect(await d.claim(id, 'other')).toBeNull();
    expect(await d.release({ ...won, nodeId: 'other' })).toBe(false);
    expect(await d.renew(won)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, TTL_MS + 100));
    expect(await d.lookup(id)).toBeNull();
    expect(await d.renew(won)).toBe(false);
    expect((await d.claim(id, 'other'))?.token).toBeGreaterThan(won.token);
  });
});
