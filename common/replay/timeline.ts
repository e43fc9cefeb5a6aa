/**
 * A replay's timeline: which stretches of the broadcast are in the replay video, and where.
 *
 * A recording is made of runs (one ffmpeg process each: the first, and a new one after a
 * recorder crash or after the broadcaster's tracks changed). Each run starts at a known
 * broadcast offset (ms since the broadcast started, the clock chat and hearts are stored
 * on) and lasts as long as its media. The replay video plays the runs back to back, so
 * broadcast time maps to video time piecewise; moments in a gap between runs show at the
 * start of the next run.
 */
export interface TimelineSpan {
  /** Broadcast offset (ms) at which this span's media starts. */
  offsetMs: number;
  /** Replay video time (ms) at which this span starts. */
  mediaStartMs: number;
  /** Length of the span's media (ms). */
  durationMs: number;
}

/**
 * Lays runs back to back in video time, in broadcast order. Runs without media are dropped.
 * Overlapping runs (two recorders for a moment, e.g. a job taken over while the old ffmpeg
 * was still closing) both stay in the video; broadcast moments in the overlap map into the
 * earlier run.
 */
export function buildTimeline(runs: ReadonlyArray<{ offsetMs: number; durationMs: number }>): TimelineSpan[] {
  const sorted = runs
    .filter((r) => Number.isFinite(r.offsetMs) && Number.isFinite(r.durationMs) && r.durationMs > 0)
    .map((r) => ({ offsetMs: Math.max(0, Math.round(r.offsetMs)), durationMs: Math.round(r.durationMs) }))
    .filter((r) => r.durationMs > 0)
    .sort((a, b) => a.offsetMs - b.offsetMs);
  let mediaStartMs = 0;
  return sorted.map((r) => {
    const span = { offsetMs: r.offsetMs, mediaStartMs, durationMs: r.durationMs };
    mediaStartMs += r.durationMs;
    return span;
  });
}

/** Total video length of a timeline (ms). */
export function timelineDurationMs(timeline: readonly TimelineSpan[]): number {
  const last = timeline[timeline.length - 1];
  return last ? last.mediaStartMs + last.durationMs : 0;
}

/**
 * Broadcast offset → replay video time (ms): inside a span, its place in that span; in a gap
 * between spans, the start of the next span; before the first span, 0; after the last, the
 * end of the video.
 */
export function toMediaTime(timeline: readonly TimelineSpan[], offsetMs: number): number {
  for (const span of timeline) {
    if (offsetMs < span.offsetMs) return span.mediaStartMs;
    if (offsetMs < span.offsetMs + span.durationMs) return span.mediaStartMs + Math.round(offsetMs - span.offsetMs);
  }
  return timelineDurationMs(timeline);
}
