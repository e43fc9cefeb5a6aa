/**
 * A token bucket per key: `burst` actions at once, refilled continuously at `burst / windowMs`.
 * Pure logic with an injected clock, so it is unit-tested without timers.
 */
export class RateLimiter {
  readonly #burst: number;
  readonly #refillPerMs: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  /**
   * @param burst actions allowed at once.
   * @param windowMs time to refill a full bucket.
   * @param now clock in ms; default `Date.now`.
   */
  constructor(burst: number, windowMs: number, now: () => number = Date.now) {
    this.#burst = burst;
    this.#refillPerMs = burst / windowMs;
    this.#now = now;
  }

  /** Takes one token for `key`; false when the bucket is empty. */
  take(key: string): boolean {
    const now = this.#now();
    const b = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    b.tokens = Math.min(this.#burst, b.tokens + (now - b.at) * this.#refillPerMs);
    b.at = now;
    if (b.tokens < 1) {
      this.#buckets.set(key, b);
      return false;
    }
    b.tokens -= 1;
    // A full bucket is the default state: forget it, so idle keys cost no memory.
    if (b.tokens >= this.#burst - 1 + 1e-9) this.#buckets.delete(key);
    else this.#buckets.set(key, b);
    return true;
  }

  /** Drops every bucket whose key starts with `prefix` (e.g. when a broadcast ends). */
  forget(prefix: string): void {
    for (const key of this.#buckets.keys()) if (key.startsWith(prefix)) this.#buckets.delete(key);
  }

  get size(): number {
    return this.#buckets.size;
  }
}
