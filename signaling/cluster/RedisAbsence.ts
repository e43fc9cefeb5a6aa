import { SETTLE_TTLS } from '../../common/cluster/NodeRegistry.ts';

/**
 * One node's memory of its last Redis outage, shared by everything that judges other nodes'
 * claims and heartbeats (the edge relays, the pipe server, the orphan sweeper): whoever fails
 * to reach Redis marks it away, and for SETTLE_TTLS of the TTL after that, a missing claim or
 * node is not taken for dead — Redis came back without the keys that expired meanwhile, and
 * their owners write them again within that time.
 */
export class RedisAbsence {
  readonly #settleMs: number;
  /** When Redis was last found away (undefined: never). */
  #awayAt: number | undefined;

  /** ttlMs: the registry's and the directory's TTL. */
  constructor(ttlMs: number) {
    this.#settleMs = SETTLE_TTLS * ttlMs;
  }

  /** A request to Redis failed. */
  markAway(now = Date.now()): void {
    this.#awayAt = now;
  }

  /** True while a missing claim or node may only mean Redis came back without it. */
  settling(now = Date.now()): boolean {
    return this.#awayAt !== undefined && now - this.#awayAt < this.#settleMs;
  }
}
