/**
 * Chooses the spatial layer of one viewer's simulcast (or SVC) video consumer from the score
 * mediasoup gives that consumer (0–10, from the viewer's RTCP receiver reports: loss and
 * retransmissions on the way to this viewer), because viewers negotiate no send-side
 * bandwidth estimation (viewerCapabilities.ts says why). The loss-driven ladder a player's
 * adaptive bitrate uses, one step at a time:
 *
 * - a score below {@link GovernorPolicy.downBelow} steps down one layer at once (loss shows);
 * - after {@link GovernorPolicy.holdMs} at the current layer with no bad score, one step up;
 * - a step up that is followed by a step down within its hold doubles the hold (up to
 *   `maxHoldMs`), so a viewer whose link cannot carry the layer above stops probing it often;
 *   a hold that ends without loss resets it.
 *
 * It starts at the top layer (playback starts at full quality; the first receiver reports come
 * within a second or two). Pure logic: the clock and the timers are injected.
 */
export interface GovernorPolicy {
  downBelow: number;
  holdMs: number;
  maxHoldMs: number;
}

export const DEFAULT_GOVERNOR_POLICY: GovernorPolicy = { downBelow: 7, holdMs: 10_000, maxHoldMs: 120_000 };

export interface GovernorTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: GovernorTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class LayerGovernor {
  readonly #top: number;
  readonly #apply: (spatialLayer: number) => void;
  readonly #policy: GovernorPolicy;
  readonly #timers: GovernorTimers;
  #layer: number;
  #hold: number;
  /** When the last step up happened (a step down soon after it doubles the hold). */
  #upAt: number | null = null;
  #timer: unknown = null;
  #closed = false;

  /**
   * @param layers the consumer's spatial layers (> 1)
   * @param apply sets the consumer's preferred spatial layer (errors are the caller's)
   */
  constructor(layers: number, apply: (spatialLayer: number) => void, policy: GovernorPolicy = DEFAULT_GOVERNOR_POLICY, timers: GovernorTimers = realTimers) {
    this.#top = layers - 1;
    this.#layer = this.#top;
    this.#apply = apply;
    this.#policy = policy;
    this.#timers = timers;
    this.#hold = policy.holdMs;
  }

  get layer(): number {
    return this.#layer;
  }

  get holdMs(): number {
    return this.#hold;
  }

  /** The consumer's new score (mediasoup's consumer 'score' event, `score`). */
  onScore(score: number): void {
    if (this.#closed) return;
    if (score < this.#policy.downBelow) {
      // Loss within the hold after a step up: that layer is too much for now; later: a new situation.
      if (this.#upAt !== null) this.#hold = this.#timers.now() - this.#upAt < this.#hold ? Math.min(this.#hold * 2, this.#policy.maxHoldMs) : this.#policy.holdMs;
      this.#upAt = null;
      if (this.#layer > 0) this.#set(this.#layer - 1);
      // Loss restarts the wait before the next step up, at any layer.
      this.#arm();
    }
  }

  /** Stops the timer. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
  }

  #set(layer: number): void {
    this.#layer = layer;
    this.#apply(layer);
  }

  #arm(): void {
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = this.#layer < this.#top ? this.#timers.setTimeout(() => this.#holdEnded(), this.#hold) : null;
  }

  #holdEnded(): void {
    this.#timer = null;
    if (this.#closed) return;
    // A whole hold without loss: the last step up held, so the next may come as soon.
    if (this.#upAt !== null) this.#hold = this.#policy.holdMs;
    this.#upAt = this.#timers.now();
    this.#set(this.#layer + 1);
    this.#arm();
  }
}
