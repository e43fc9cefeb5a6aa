import type { ReplayOutput } from '../common/jobs/results.ts';

/**
 * A finalize job's output as the stores take it (`replays.applyOutput`), for tests that need a
 * ready replay without making one: 2 s, 320×240, one run, a WebM, HLS and a 4-byte MP4.
 */
export function replayOutput(over: Partial<ReplayOutput> = {}): ReplayOutput {
  return {
    durationMs: 2000,
    width: 320,
    height: 240,
    timeline: [{ offsetMs: 0, mediaStartMs: 0, durationMs: 2000 }],
    poster: 'poster.jpg',
    webm: 'video.webm',
    videoMp4: null,
    hls: 'hls/index.m3u8',
    mp4: { name: 'replay.mp4', sizeBytes: 4, sha256: 'ab'.repeat(32) },
    ...over,
  };
}
