/**
 * Watches the time between an encoder's keyframes (FLV timestamps, ms). A viewer joining, and
 * one recovering from loss, waits for the next keyframe (an RTMP encoder cannot be asked for
 * one): above `limitMs` (4 s) they wait too long. The gap is known as soon as it is exceeded —
 * `frame` at a timestamp more than `limitMs` after the last keyframe — not only when the late
 * keyframe finally comes.
 */
export class KeyframeWatch {
  readonly #limitMs: number;
  #lastKeyframeMs: number | undefined;
  #longestMs = 0;

  constructor(limitMs: number) {
    this.#limitMs = limitMs;
  }

  /**
   * A video frame at `timestampMs`. Returns the gap in ms the first time one exceeds the limit
   * (the caller warns once), else undefined.
   */
  frame(timestampMs: number, keyframe: boolean): number | undefined {
    const last = this.#lastKeyframeMs;
    if (keyframe) this.#lastKeyframeMs = timestampMs;
    if (last === undefined) return undefined;
    const gap = timestampMs - last;
    if (gap <= this.#limitMs || this.#longestMs > this.#limitMs) {
      this.#longestMs = Math.max(this.#longestMs, gap);
      return undefined;
    }
    this.#longestMs = gap;
    return gap;
  }
}
