import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';

/**
 * One limit: `points` actions per `durationSeconds` (a fixed window that starts at the key's
 * first action); once spent, blocked for `blockSeconds` (default: the rest of the window).
 */
export interface LimitSpec {
  points: number;
  /** Whole seconds: Redis expires the counters in whole seconds. */
  durationSeconds: number;
  blockSeconds?: number;
}

/** A refused action: how long until the key may act again. */
export class RateLimitedError extends AppError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterMs: number) {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    super('RATE_LIMITED', `${message}; try again in ${seconds} s`);
    this.retryAfterSeconds = seconds;
  }
}

/** One named limit over keys (an address, a user id, …). */
export class Throttle {
  readonly name: string;
  readonly #limiter: RateLimiterAbstract;
  readonly #message: string;
  readonly #points: number;

  constructor(name: string, limiter: RateLimiterAbstract, message: string, points: number) {
    this.name = name;
    this.#limiter = limiter;
    this.#message = message;
    this.#points = points;
  }

  /** Spends `points` of `key`'s allowance; throws RateLimitedError when it is spent. */
  async take(key: string, points = 1): Promise<void> {
    try {
      await this.#limiter.consume(key, points);
    } catch (err) {
      if (err instanceof RateLimiterRes) throw new RateLimitedError(this.#message, err.msBeforeNext);
      throw err;
    }
  }

  /** Throws RateLimitedError when `key` has nothing left, without spending anything. */
  async check(key: string): Promise<void> {
    const res = await this.#limiter.get(key);
    if (res && res.remainingPoints <= 0 && res.msBeforeNext > 0) throw new RateLimitedError(this.#message, res.msBeforeNext);
  }

  /**
   * Throws RateLimitedError while `key` is blocked, i.e. once it spent more than its allowance
   * (the spend that went over started the block). For failure counters (the pattern of
   * rate-limiter-flexible's login protection): `check` before the attempt, `take` after a
   * failure, `reset` after a success.
   */
  async checkBlocked(key: string): Promise<void> {
    const res = await this.#limiter.get(key);
    if (res && res.consumedPoints > this.#points && res.msBeforeNext > 0) throw new RateLimitedError(this.#message, res.msBeforeNext);
  }

  /** Forgets `key` (e.g. a successful sign-in clears its failures). */
  async reset(key: string): Promise<void> {
    await this.#limiter.delete(key);
  }
}

export interface RateLimitsOptions {
  /** Where counters live, so limits hold across signalling nodes; in memory when absent (one process). */
  redis?: Redis | undefined;
  /** Key prefix in Redis (the deployment's queue prefix keeps test runs apart). */
  prefix: string;
  logger: Logger;
}

/**
 * Makes rate limits (rate-limiter-flexible). Counters live in Redis, so a limit holds across
 * every node; if Redis does not answer, an in-memory insurance limiter per process takes over
 * rather than letting everything through or refusing everyone.
 */
export class RateLimits {
  readonly #o: RateLimitsOptions;

  constructor(options: RateLimitsOptions) {
    this.#o = options;
  }

  /** A limit named `name` (unique per deployment); `message` says what was refused. */
  create(name: string, spec: LimitSpec, message: string): Throttle {
    // rate-limiter-flexible rounds a Redis window down to whole seconds: 0.5 s would never expire.
    if (!Number.isInteger(spec.durationSeconds) || spec.durationSeconds < 1) {
      throw new RangeError(`limit ${name}: the window must be a whole number of seconds, got ${spec.durationSeconds}`);
    }
    const base = { points: spec.points, duration: spec.durationSeconds, blockDuration: spec.blockSeconds ?? 0 };
    const keyPrefix = `${this.#o.prefix}:rl:${name}`;
    const memory = new RateLimiterMemory({ ...base, keyPrefix });
    const limiter = this.#o.redis
      ? new RateLimiterRedis({ ...base, keyPrefix, storeClient: this.#o.redis, insuranceLimiter: memory })
      : memory;
    return new Throttle(name, limiter, message, spec.points);
  }
}
