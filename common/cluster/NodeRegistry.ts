import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Logger } from '../logger.ts';
import { NodeIdSchema } from './nodeIds.ts';

/** What a node says of itself in every heartbeat. */
export const NodeInfoSchema = z.strictObject({
  id: NodeIdSchema,
  /** Where clients reach its HTTP and socket.io. */
  url: z.string().min(1).max(2048),
  /** The media address it announces to clients (null: its listen address). */
  announcedAddress: z.string().max(255).nullable(),
  startedAt: z.iso.datetime(),
  load: z.strictObject({
    routers: z.number().int().min(0),
    consumers: z.number().int().min(0),
    workers: z
      .array(
        z.strictObject({
          index: z.number().int().min(0),
          pid: z.number().int().min(0),
          /** Share of one core used over the last heartbeat interval (WorkerCpu); absent until measured. */
          cpu: z.number().min(0).max(64).optional(),
        }),
      )
      .max(1024),
  }),
});
export type NodeInfo = z.infer<typeof NodeInfoSchema>;

/** A node as listed: its last heartbeat, and whether an admin is draining it. */
export interface LiveNode extends NodeInfo {
  draining: boolean;
  /** When its entry lapses unless it beats again. */
  expiresAt: Date;
}

export interface NodeRegistryOptions {
  redis: Redis;
  /** The deployment's namespace in Redis (config.queuePrefix). */
  prefix: string;
  /** How often a node beats. Default 1000 ms. */
  heartbeatMs?: number;
  /** A node whose last beat is older than this is taken for dead. Default 5000 ms (5 missed beats). */
  ttlMs?: number;
  logger: Logger;
}

/**
 * After Redis was away, for how many TTLs a missing claim or node is not taken for dead: Redis
 * restarted without the keys that expired meanwhile, and every node writes them again once its
 * client reconnected (ioredis backs off up to 2 s) and its next heartbeat or renewal ran.
 */
export const SETTLE_TTLS = 2;

/**
 * The nodes of a deployment, in Redis: each node writes its info (`<prefix>:node:<id>`, with a
 * TTL) and its expiry (score in the sorted set `<prefix>:nodes`) at every heartbeat; a node
 * whose entry lapsed is dead for everyone at once, with no coordinator. Draining is a flag
 * an admin sets (`<prefix>:drain:<id>`), which the node and the others read. Entries read
 * back are validated: a malformed one is skipped and logged.
 */
export class NodeRegistry {
  readonly #o: Required<Omit<NodeRegistryOptions, 'logger'>> & { logger: Logger };
  #timer: NodeJS.Timeout | undefined;
  #self: (() => NodeInfo) | undefined;
  #draining = false;
  #closing: Promise<void> | undefined;

  constructor(o: NodeRegistryOptions) {
    this.#o = { heartbeatMs: 1000, ttlMs: 5000, ...o };
  }

  get ttlMs(): number {
    return this.#o.ttlMs;
  }

  /** Whether an admin drains this node, as of its last heartbeat. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Registers this node and beats every `heartbeatMs` with what `self()` says then. */
  async start(self: () => NodeInfo): Promise<void> {
    NodeInfoSchema.parse(self());
    this.#self = self;
    await this.#beat();
    this.#timer = setInterval(() => {
      this.#beat().catch((err: unknown) => this.#o.logger.warn({ err }, 'node heartbeat failed (Redis); others take this node for dead if it lasts'));
    }, this.#o.heartbeatMs);
    this.#timer.unref();
  }

  /** The nodes alive now (their last beat within the TTL), sorted by id. */
  async list(now = Date.now()): Promise<LiveNode[]> {
    const { redis, prefix } = this.#o;
    await redis.zremrangebyscore(`${prefix}:nodes`, '-inf', now);
    const ids = await redis.zrangebyscore(`${prefix}:nodes`, now, '+inf', 'WITHSCORES');
    const nodes: LiveNode[] = [];
    for (let i = 0; i < ids.length; i += 2) {
      // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- i < ids.length
      const id = ids[i]!;
      const expiresAt = new Date(Number(ids[i + 1]));
      if (!NodeIdSchema.safeParse(id).success) {
        this.#o.logger.warn({ id: id.slice(0, 80) }, 'skipped a malformed node id in the registry');
        continue;
      }
      const [raw, drain] = await Promise.all([redis.get(`${prefix}:node:${id}`), redis.exists(`${prefix}:drain:${id}`)]);
      const parsed = raw === null ? undefined : NodeInfoSchema.safeParse(safeJson(raw));
      if (!parsed?.success) {
        if (raw !== null) this.#o.logger.warn({ id }, 'skipped a malformed node entry in the registry');
        continue;
      }
      nodes.push({ ...parsed.data, draining: drain === 1, expiresAt });
    }
    return nodes.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Marks a live node as draining (it takes no new work). False when no such node is alive. */
  async drain(id: string): Promise<boolean> {
    const nodeId = NodeIdSchema.parse(id);
    if (!(await this.list()).some((n) => n.id === nodeId)) return false;
    // Kept a day: a drained node that is not restarted by then may take work again.
    await this.#o.redis.set(`${this.#o.prefix}:drain:${nodeId}`, '1', 'EX', 86_400);
    return true;
  }

  /** Ends a drain: the node takes new work again. False when it was not draining. */
  async undrain(id: string): Promise<boolean> {
    return (await this.#o.redis.del(`${this.#o.prefix}:drain:${NodeIdSchema.parse(id)}`)) === 1;
  }

  /** Whether an admin drains node `id`. */
  async isDraining(id: string): Promise<boolean> {
    return (await this.#o.redis.exists(`${this.#o.prefix}:drain:${NodeIdSchema.parse(id)}`)) === 1;
  }

  /** Stops beating and removes this node's entry (others see it gone at once). Idempotent. */
  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      if (this.#timer) clearInterval(this.#timer);
      const self = this.#self?.();
      if (!self) return;
      const { redis, prefix } = this.#o;
      await Promise.all([redis.zrem(`${prefix}:nodes`, self.id), redis.del(`${prefix}:node:${self.id}`)]).catch((err: unknown) =>
        this.#o.logger.warn({ err }, 'could not remove this node from the registry; it lapses by itself'),
      );
    })());
  }

  async #beat(): Promise<void> {
    if (this.#closing || !this.#self) return;
    const info = NodeInfoSchema.parse(this.#self());
    const { redis, prefix, ttlMs } = this.#o;
    const results = await redis
      .multi()
      .set(`${prefix}:node:${info.id}`, JSON.stringify(info), 'PX', ttlMs)
      .zadd(`${prefix}:nodes`, Date.now() + ttlMs, info.id)
      .exists(`${prefix}:drain:${info.id}`)
      .exec();
    this.#draining = results?.[2]?.[1] === 1;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
