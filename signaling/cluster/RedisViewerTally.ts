import type { Redis } from 'ioredis';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { ViewerTally } from '../live/ports.ts';

/**
 * The viewer count of a broadcast over several nodes, in Redis: each node serving it writes
 * `<count>:<expiresAtMs>` under its id in the hash `<prefix>:viewers:<broadcastId>`, and
 * sums the entries that have not expired. A node that dies stops refreshing its entry, which
 * then stops counting after `entryTtlMs`. One round trip per report.
 */
export class RedisViewerTally implements ViewerTally {
  readonly shared = true;
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #nodeId: string;
  readonly #entryTtlMs: number;

  constructor(o: { redis: Redis; prefix: string; nodeId: string; entryTtlMs: number }) {
    this.#redis = o.redis;
    this.#prefix = o.prefix;
    this.#nodeId = o.nodeId;
    this.#entryTtlMs = o.entryTtlMs;
  }

  async report(broadcastId: BroadcastId, localCount: number): Promise<number> {
    const key = this.#key(broadcastId);
    const now = Date.now();
    const results = await this.#redis
      .multi()
      .hset(key, this.#nodeId, `${localCount}:${now + this.#entryTtlMs}`)
      .pexpire(key, this.#entryTtlMs * 4)
      .hvals(key)
      .exec();
    const values = (results?.[2]?.[1] ?? []) as string[];
    let total = 0;
    for (const v of values) {
      const m = /^(\d{1,9}):(\d{1,15})$/.exec(v);
      if (m && Number(m[2]) > now) total += Number(m[1]);
    }
    return total;
  }

  async withdraw(broadcastId: BroadcastId): Promise<void> {
    await this.#redis.hdel(this.#key(broadcastId), this.#nodeId);
  }

  #key(id: BroadcastId): string {
    return `${this.#prefix}:viewers:${id}`;
  }
}
