import type { ReplayChatMessage, ReplayHearts, ReplaySources } from '../../common/protocol/replays.ts';

/**
 * The pure logic of the replay player: which chat messages and hearts belong on screen at
 * a video time, and which media source to play. No DOM, no timers; unit-tested.
 *
 * Times are replay video time in milliseconds (`atMs` of the API = `video.currentTime * 1000`).
 */

/** Anything placed on the replay timeline. */
interface Timed {
  readonly atMs: number;
}

/**
 * How many items of `items` (sorted by `atMs`) have `atMs <= tMs`: the index of the first
 * item after `tMs` (upper bound, binary search). Items with the same `atMs` are all in or
 * all out.
 */
export function countUpTo(items: readonly Timed[], tMs: number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    // noUncheckedIndexedAccess: mid < items.length here.
    if ((items[mid] as Timed).atMs <= tMs) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The chat messages shown at video time `tMs`: those with `atMs <= tMs`, in order. `chat` is sorted by `atMs`. */
export function chatUpTo<T extends Timed>(chat: readonly T[], tMs: number): T[] {
  return chat.slice(0, countUpTo(chat, tMs));
}

/** What changed since the previous `ReplayCursor.advanceTo`. */
export interface CursorStep {
  /**
   * True when the UI must rebuild: a seek backwards or a jump forwards by more than
   * `maxStepMs` (or the first step). Then `add` holds every message up to the new time
   * and `hearts` is 0 (nothing to animate; show `heartsTotal`).
   */
  reset: boolean;
  /** Messages to append (after clearing the log when `reset`), in timeline order. */
  add: ReplayChatMessage[];
  /** Hearts whose time passed during this step (to animate); 0 on a reset. */
  hearts: number;
  /** All hearts with `atMs <= tMs`: what the counter shows. */
  heartsTotal: number;
}

export interface ReplayCursorOptions {
  /** A forward move larger than this is treated as a seek (reset instead of animating). Default 2000 ms. */
  maxStepMs?: number;
}

const byTime = (a: Timed, b: Timed): number => a.atMs - b.atMs;

/** A sorted copy when `items` is not sorted by `atMs` (stable: ties keep their order). */
function sorted<T extends Timed>(items: readonly T[]): readonly T[] {
  for (let i = 1; i < items.length; i++) {
    if ((items[i] as T).atMs < (items[i - 1] as T).atMs) return [...items].sort(byTime);
  }
  return items;
}

/**
 * Follows the video clock and tells the UI what to add. Playing forward in small steps
 * yields the messages and hearts that passed since the last step; seeking backwards or
 * jumping forwards yields a reset with the full state at the new time. Whatever the
 * sequence of calls, after `advanceTo(t)` the messages shown (everything added since the
 * last reset) are exactly `chatUpTo(chat, t)`: no duplicates, nothing missing.
 */
export class ReplayCursor {
  readonly #chat: readonly ReplayChatMessage[];
  readonly #hearts: readonly ReplayHearts[];
  /** `#heartsPrefix[i]` = sum of the counts of the first `i` heart bursts. */
  readonly #heartsPrefix: number[];
  readonly #maxStepMs: number;
  #chatIndex = 0;
  #heartsIndex = 0;
  #positionMs: number | null = null;

  constructor(chat: readonly ReplayChatMessage[], hearts: readonly ReplayHearts[], options: ReplayCursorOptions = {}) {
    this.#chat = sorted(chat);
    this.#hearts = sorted(hearts);
    this.#heartsPrefix = [0];
    let sum = 0;
    for (const h of this.#hearts) {
      sum += Number.isFinite(h.count) && h.count > 0 ? Math.floor(h.count) : 0;
      this.#heartsPrefix.push(sum);
    }
    this.#maxStepMs = options.maxStepMs ?? 2000;
  }

  /** The time of the last `advanceTo`, or null before the first. */
  get positionMs(): number | null {
    return this.#positionMs;
  }

  /** Moves to video time `tMs` (NaN or negative counts as 0). */
  advanceTo(tMs: number): CursorStep {
    const t = Number.isFinite(tMs) && tMs > 0 ? tMs : 0;
    const chatIndex = countUpTo(this.#chat, t);
    const heartsIndex = countUpTo(this.#hearts, t);
    const heartsTotal = this.#heartsPrefix[heartsIndex] ?? 0;
    const previous = this.#positionMs;
    const reset = previous === null || t < previous || t - previous > this.#maxStepMs;
    const step: CursorStep = reset
      ? { reset: true, add: this.#chat.slice(0, chatIndex), hearts: 0, heartsTotal }
      : {
          reset: false,
          add: this.#chat.slice(this.#chatIndex, chatIndex),
          hearts: heartsTotal - (this.#heartsPrefix[this.#heartsIndex] ?? 0),
          heartsTotal,
        };
    this.#chatIndex = chatIndex;
    this.#heartsIndex = heartsIndex;
    this.#positionMs = t;
    return step;
  }
}

// ------------------------------------------------------------------ sources --

/** How the replay video is played: HLS natively (Safari), HLS through hls.js, or a file. */
export type SourceKind = 'hls-native' | 'hls.js' | 'mp4' | 'video-mp4' | 'webm';

export interface SourceChoice {
  kind: SourceKind;
  url: string;
}

/** What the browser can do, as far as the source choice is concerned. */
export interface PlaybackSupport {
  /** `video.canPlayType('application/vnd.apple.mpegurl') !== ''`. */
  nativeHls: boolean;
  /**
   * `Hls.isSupported()`; `undefined` when hls.js is not loaded yet (it is loaded only when
   * an HLS source exists and native HLS is missing), in which case hls.js is offered.
   */
  hlsJs: boolean | undefined;
  /** `video.canPlayType` of H.264/AAC MP4 is not '' (some Chromium builds have no H.264). */
  mp4: boolean;
  /** `video.canPlayType` of H.264/Opus MP4 (an H.264 replay's preview) is not ''. */
  mp4Opus: boolean;
  /** `video.canPlayType` of VP8/Opus WebM is not ''. */
  webm: boolean;
}

/**
 * The sources to try, best first: HLS (native, else hls.js), then the MP4, then the preview
 * (an H.264 replay's MP4 with Opus, or a VP8 replay's WebM).
 * Sources that do not exist yet (null) or that this browser cannot play are left out.
 */
export function sourceCandidates(sources: ReplaySources, support: PlaybackSupport): SourceChoice[] {
  const out: SourceChoice[] = [];
  if (sources.hls !== null) {
    if (support.nativeHls) out.push({ kind: 'hls-native', url: sources.hls });
    else if (support.hlsJs !== false) out.push({ kind: 'hls.js', url: sources.hls });
  }
  if (sources.mp4 !== null && support.mp4) out.push({ kind: 'mp4', url: sources.mp4 });
  if (sources.videoMp4 !== null && support.mp4Opus) out.push({ kind: 'video-mp4', url: sources.videoMp4 });
  if (sources.webm !== null && support.webm) out.push({ kind: 'webm', url: sources.webm });
  return out;
}

/** Lower is better: HLS seeks best, the MP4 is complete, a preview (WebM or MP4 with Opus) is the quick first version. */
export function sourceRank(kind: SourceKind): number {
  return kind === 'hls-native' || kind === 'hls.js' ? 0 : kind === 'mp4' ? 1 : 2;
}

/**
 * Whether to replace the `current` source with `best` (the first candidate): when nothing
 * plays yet, or when `best` is better and the viewer has not started playing (a playing
 * video is never yanked away).
 */
export function shouldSwitchSource(current: SourceChoice | null, best: SourceChoice | undefined, started: boolean): boolean {
  if (best === undefined) return false;
  if (current === null) return true;
  if (current.kind === best.kind && current.url === best.url) return false;
  return !started && sourceRank(best.kind) < sourceRank(current.kind);
}
