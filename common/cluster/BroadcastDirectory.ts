import type { Redis } from 'ioredis';
import { BroadcastIdSchema, type BroadcastId } from '../protocol/ids.ts';
import { NodeIdSchema } from './nodeIds.ts';

/** Ownership of one broadcast by one node: the fencing token grows with every claim. */
export interface OriginClaim {
  broadcastId: BroadcastId;
  nodeId: string;
  /** Greater for every later claim of any broadcast: a stale owner is told apart by it. */
  token: number;
}

/**
 * Which node is a broadcast's origin (where its broadcaster sends media). A node claims a
 * broadcast before it hosts it, renews the claim while it does, and releases it when the
 * broadcast ends; a claim that is not renewed lapses after `ttlMs`, so the broadcast of a
 * dead node can be claimed by another. Two nodes never hold one broadcast at once.
 */
export interface BroadcastDirectory {
  /** The claim, or null when another node holds the broadcast. */
  claim(broadcastId: string, nodeId: string): Promise<OriginClaim | null>;
  /** Extends the claim; false when it lapsed or another node holds the broadcast now. */
  renew(claim: OriginClaim): Promise<boolean>;
  /** Gives the broadcast up; false when the claim was not (any more) the holder's. */
  release(claim: OriginClaim): Promise<boolean>;
  /** The holder now, or null. */
  lookup(broadcastId: string): Promise<OriginClaim | null>;
}

/** Validates the ids of a request: a clear error before anything is touched. */
function ids(broadcastId: string, nodeId: string): { broadcastId: BroadcastId; nodeId: string } {
  return { broadcastId: BroadcastIdSchema.parse(broadcastId), nodeId: NodeIdSchema.parse(nodeId) };
}

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * The directory of a deployment of several nodes, in Redis: `<prefix>:origin:<broadcastId>`
 * holds `<token>:<nodeId>`, set only if absent (SET NX PX) and renewed or deleted only by the
 * holder of that exact value (compare-and-set in a Lua script, atomic in Redis). Tokens come
 * from one counter (`<prefix>:origin-token`, INCR).
 */
export class RedisBroadcastDirectory implements BroadcastDirectory {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #ttlMs: number;

  constructor(o: { redis: Redis; prefix: string; ttlMs: number }) {
    this.#redis = o.redis;
    this.#prefix = o.prefix;
    this.#ttlMs = o.ttlMs;
  }

  async claim(broadcastId: string, nodeId: string): Promise<OriginClaim | null> {
    const id = ids(broadcastId, nodeId);
    const token = await this.#redis.incr(`${this.#prefix}:origin-token`);
    const ok = await this.#redis.set(this.#key(id.broadcastId), `${token}:${id.nodeId}`, 'PX', this.#ttlMs, 'NX');
    return ok === 'OK' ? { ...id, token } : null;
  }

  async renew(claim: OriginClaim): Promise<boolean> {
    const id = ids(claim.broadcastId, claim.nodeId);
    return (await this.#redis.eval(RENEW, 1, this.#key(id.broadcastId), `${claim.token}:${id.nodeId}`, this.#ttlMs)) === 1;
  }

  async release(claim: OriginClaim): Promise<boolean> {
    const id = ids(claim.broadcastId, claim.nodeId);
    return (await this.#redis.eval(RELEASE, 1, this.#key(id.broadcastId), `${claim.token}:${id.nodeId}`)) === 1;
  }

  async lookup(broadcastId: string): Promise<OriginClaim | null> {
    const id = BroadcastIdSchema.parse(broadcastId);
    const value = await this.#redis.get(this.#key(id));
    const m = value === null ? null : /^(\d+):(.+)$/.exec(value);
    const node = m ? NodeIdSchema.safeParse(m[2]) : null;
    if (!m || !node?.success) return null;
    return { broadcastId: id, nodeId: node.data, token: Number(m[1]) };
  }

  #key(id: BroadcastId): string {
    return `${this.#prefix}:origin:${id}`;
  }
}

/** The one-host directory: this process is the only node, so a map with expiries is enough. */
export class LocalBroadcastDirectory implements BroadcastDirectory {
  readonly #held = new Map<BroadcastId, { claim: OriginClaim; expiresAt: number }>();
  readonly #ttlMs: number;
  #token = 0;

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  claim(broadcastId: string, nodeId: string): Promise<OriginClaim | null> {
    const id = ids(broadcastId, nodeId);
    if (this.#current(id.broadcastId)) return Promise.resolve(null);
    const claim = { ...id, token: ++this.#token };
    this.#held.set(id.broadcastId, { claim, expiresAt: Date.now() + this.#ttlMs });
    return Promise.resolve(claim);
  }

  renew(claim: OriginClaim): Promise<boolean> {
    const held = this.#holds(claim);
    if (held) held.expiresAt = Date.now() + this.#ttlMs;
    return Promise.resolve(held !== undefined);
  }

  release(claim: OriginClaim): Promise<boolean> {
    const held = this.#holds(claim);
    if (held) this.#held.delete(claim.broadcastId);
    return Promise.resolve(held !== undefined);
  }

  lookup(broadcastId: string): Promise<OriginClaim | null> {
    return Promise.resolve(this.#current(BroadcastIdSchema.parse(broadcastId))?.claim ?? null);
  }

  #current(id: BroadcastId) {
    const held = this.#held.get(id);
    if (held && held.expiresAt <= Date.now()) this.#held.delete(id);
    return held && held.expiresAt > Date.now() ? held : undefined;
  }

  #holds(claim: OriginClaim) {
    const id = ids(claim.broadcastId, claim.nodeId);
    const held = this.#current(id.broadcastId);
    return held && held.claim.token === claim.token && held.claim.nodeId === id.nodeId ? held : undefined;
  }
}
