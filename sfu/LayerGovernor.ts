import type { types as ms } from 'mediasoup';

/**
 * Chooses the spatial layer of one viewer's simulcast (or SVC) video consumer from the score
 * mediasoup gives that consumer (0–10, from the viewer's RTCP receiver reports: loss and
 * retransmissions on the way to this viewer), because viewers negotiate no send-side
 * bandwidth estimation (viewerCapabilities.ts says why). The loss-driven ladder a player's
 * adaptive bitrate uses, one step at a time:
 *
 * - a score below {@link GovernorPolicy.downBelow} for `downAfterMs` steps down one layer (at
 *   most one step per `downEveryMs`: the reports that follow a step still describe the layer
 *   above). The wait lets an isolated loss pass: the viewer's NACK comes in a compound RTCP
 *   packet with a receiver report, which mediasoup scores over the few packets sent since the
 *   last one (one lost of three: a score of 2 for that report), and its weighted history gives
 *   that report enough weight early in a stream to drop the score below 8 until the next
 *   report, ~1 s later — while the retransmission already repaired the loss. In the full
 *   benchmark run 2026-12-04T23-23-21Z a viewer on a loopback link spent ~20 s on the middle
 *   layer with 4 packets lost and repaired (4 NACKs, no freeze), most likely this way (no
 *   governor log in that run; 0.5 % of UDP dropped at random on loopback did not reproduce it,
 *   with or without the wait: docs/sfu.md);
 * - after {@link GovernorPolicy.holdMs} at a layer, one step up if the last score is good
 *   again (mediasoup emits a score only when it changes, so the last one still holds);
 * - a step up that is followed by loss within its hold doubles the hold (up to
 *   `maxHoldMs`), so a viewer whose link cannot carry the layer above stops probing it often;
 *   loss after a whole hold resets it.
 *
 * It starts at the top layer (playback starts at full quality; the first receiver reports come
 * within a second or two). The ladder is pure logic (the clock and the timers are injected);
 * {@link governLayers} ties it to a mediasoup consumer.
 */
export interface GovernorPolicy {
  downBelow: number;
  /** How long the score must stay below `downBelow` before a step down (0: at once). */
  downAfterMs: number;
  downEveryMs: number;
  holdMs: number;
  maxHoldMs: number;
}

export const DEFAULT_GOVERNOR_POLICY: GovernorPolicy = { downBelow: 8, downAfterMs: 2_500, downEveryMs: 2_000, holdMs: 10_000, maxHoldMs: 120_000 };

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
  /** The last score mediasoup reported (it reports changes only). */
  #score = 10;
  /** When the last step up happened (loss soon after it doubles the hold). */
  #upAt: number | null = null;
  #downAt = -Infinity;
  #timer: unknown = null;
  /** Pending while the score is below `downBelow` and has not been for `downAfterMs` yet. */
  #lowTimer: unknown = null;
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
    this.#score = score;
    if (score >= this.#policy.downBelow) {
      if (this.#lowTimer !== null) this.#timers.clearTimeout(this.#lowTimer);
      this.#lowTimer = null;
      return;
    }
    if (this.#policy.downAfterMs <= 0) {
      this.#loss();
      return;
    }
    this.#lowTimer ??= this.#timers.setTimeout(() => {
      this.#lowTimer = null;
      if (!this.#closed && this.#score < this.#policy.downBelow) this.#loss();
    }, this.#policy.downAfterMs);
  }

  /** The score stayed low: step down (spaced), and the wait before the next step up restarts. */
  #loss(): void {
    const now = this.#timers.now();
    // Loss within the hold after a step up: that layer is too much for now; later: a new situation.
    if (this.#upAt !== null) this.#hold = now - this.#upAt < this.#hold ? Math.min(this.#hold * 2, this.#policy.maxHoldMs) : this.#policy.holdMs;
    this.#upAt = null;
    if (this.#layer > 0 && now - this.#downAt >= this.#policy.downEveryMs) {
      this.#downAt = now;
      this.#set(this.#layer - 1);
    }
    // Loss restarts the wait before the next step up, at any layer.
    this.#arm();
  }

  /** Stops the timers. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    if (this.#lowTimer !== null) this.#timers.clearTimeout(this.#lowTimer);
    this.#timer = null;
    this.#lowTimer = null;
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
    if (this.#score < this.#policy.downBelow) {
      this.#arm();
      return;
    }
    // A whole hold without loss: the last step up held, so the next may come as soon.
    if (this.#upAt !== null) this.#hold = this.#policy.holdMs;
    this.#upAt = this.#timers.now();
    this.#set(this.#layer + 1);
    this.#arm();
  }
}

/**
 * Governs `consumer`'s spatial layer (it has `spatialLayers` > 1) from its 'score' events
 * until it closes. `onError` hears a failed `setPreferredLayers` of a consumer still open.
 */
export function governLayers(
  consumer: ms.Consumer,
  spatialLayers: number,
  onError: (error: unknown) => void,
  policy: GovernorPolicy = DEFAULT_GOVERNOR_POLICY,
): LayerGovernor {
  const governor = new LayerGovernor(
    spatialLayers,
    (spatialLayer) => {
      consumer.setPreferredLayers({ spatialLayer }).catch((error: unknown) => {
        if (!consumer.closed) onError(error);
      });
    },
    policy,
  );
  consumer.on('score', (s) => governor.onScore(s.score));
  consumer.observer.once('close', () => governor.close());
  return governor;
}
