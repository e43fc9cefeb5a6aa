/**
 * Sums hearts per broadcast and flushes them once per interval, so a thousand viewers
 * tapping at once cost one message per viewer per interval rather than one per tap.
 */
export class HeartAggregator<K extends string = string> {
  readonly #pending = new Map<K, number>();
  readonly #flush: (key: K, count: number) => void;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;

  /**
   * @param intervalMs flush period.
   * @param flush called once per key with the hearts summed since the last flush.
   */
  constructor(intervalMs: number, flush: (key: K, count: number) => void) {
    this.#intervalMs = intervalMs;
    this.#flush = flush;
  }

  add(key: K, count = 1): void {
    this.#pending.set(key, (this.#pending.get(key) ?? 0) + count);
    this.#timer ??= setTimeout(() => this.flushNow(), this.#intervalMs);
  }

  /** Flushes everything pending now (also used at shutdown). */
  flushNow(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = [...this.#pending];
    this.#pending.clear();
    for (const [key, count] of batch) this.#flush(key, count);
  }

  /** Drops what is pending for `key` without flushing it. */
  discard(key: K): void {
    this.#pending.delete(key);
  }

  close(): void {
    this.flushNow();
  }
}
