import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../common/logger.ts';
import { RateLimitedError, RateLimits, type Throttle } from '../../../signaling/throttle/RateLimits.ts';
import { dropQueues, testQueuePrefix } from '../../../testkit/server.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * The limits that chat, hearts, going live and signing in share (real Redis): a RateLimits per
 * signalling node, as signaling/server.ts builds it; nodes of one deployment share a prefix.
 */
describe('RateLimits (real Redis)', () => {
  const logger = createLogger({ level: 'silent' });
  const prefixes: string[] = [];
  const clients: Redis[] = [];
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    for (const p of prefixes) await dropQueues(REDIS_URL, p);
  });

  /** A Redis connection with the options server.ts gives the rate limits': commands fail at once while it is down. */
  function connection(url: string): Redis {
    const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    clients.push(redis);
    return redis;
  }
  /** A node's RateLimits on Redis, once connected (before, it would count in memory). */
  async function node(prefix: string): Promise<RateLimits> {
    const redis = connection(REDIS_URL);
    await new Promise((resolve) => redis.once('ready', resolve));
    return new RateLimits({ redis, prefix, logger });
  }
  function deployment(): string {
    const prefix = testQueuePrefix();
    prefixes.push(prefix);
    return prefix;
  }

  it('counts a key once across the nodes of a deployment, and apart from another deployment', async () => {
    const prefix = deployment();
    const [a, b, elsewhere] = await Promise.all([node(prefix), node(prefix), node(deployment())]);
    const spec = { points: 2, durationSeconds: 60 };
    const [onA, onB, onElsewhere] = [a, b, elsewhere].map((limits) => limits.create('chat', spec, 'slow down')) as [Throttle, Throttle, Throttle];
    await onA.take('b1:u1');
    await onB.take('b1:u1');
    await expect(onA.take('b1:u1')).rejects.toMatchObject({ code: 'RATE_LIMITED', message: expect.stringMatching(/^slow down; try again in (60|59) s$/) });
    await expect(onB.take('b1:u1')).rejects.toBeInstanceOf(RateLimitedError);
    // Another key, and the same key in another deployment on the same Redis, are untouched.
    await onB.take('b1:u2');
    await onElsewhere.take('b1:u1');
    await onElsewhere.take('b1:u1');
  });

  it('gives a fresh allowance once the window has lapsed', async () => {
    const limits = await node(deployment());
    const hearts = limits.create('hearts', { points: 1, durationSeconds: 1 }, 'slow down');
    await hearts.take('k');
    await expect(hearts.take('k')).rejects.toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 1 });
    await sleep(1100);
    await hearts.take('k');
  });

  it('refuses a window that is not a whole number of seconds (Redis would never expire it)', async () => {
    const limits = await node(deployment());
    expect(() => limits.create('chat', { points: 5, durationSeconds: 0.5 }, 'slow down')).toThrow(RangeError);
    expect(() => limits.create('chat', { points: 5, durationSeconds: 0 }, 'slow down')).toThrow(/whole number of seconds/);
  });

  it('counts in the process while Redis does not answer', async () => {
    // Nothing listens on port 1: every command fails at once (no offline queue).
    const limits = new RateLimits({ redis: connection('redis://127.0.0.1:1'), prefix: deployment(), logger });
    const chat = limits.create('chat', { points: 1, durationSeconds: 60 }, 'slow down');
    await chat.take('k');
    await expect(chat.take('k')).rejects.toBeInstanceOf(RateLimitedError);
  });
});
