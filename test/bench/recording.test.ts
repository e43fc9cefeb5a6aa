import { describe, expect, it } from 'vitest';
import * as recording from '../../bench/recording/index.ts';
import { runBenchmark } from '../../bench/runBenchmark.ts';

/**
 * The recording benchmark in smoke mode: a real Spyglass and workers process record a ~3 s
 * broadcast from the synthetic broadcaster (320×180, a keyframe every 0.5 s), and the frames
 * sent are matched against the replay's. Only sanity is checked — no timing thresholds, and
 * no loss threshold either: CI runs this on 2 busy cores, where the kernel may drop packets.
 */
describe('bench: recording fidelity (smoke)', () => {
  it('records a short broadcast and accounts for every frame sent', { timeout: 90_000 }, async () => {
    const r = await runBenchmark('recording', recording, { smoke: true });
    expect(r.benchmark).toBe('recording');
    expect(r.broadcasts).toHaveLength(1);
    const b = r.broadcasts[0]!;
    expect(b.codec).toBe('vp8');
    // ~3 s at 30 fps.
    expect(b.framesSent).toBeGreaterThan(45);
    expect(b.framesSent).toBeLessThan(200);
    expect(b.startup.framesBeforeFirstRecorded).toBeGreaterThanOrEqual(0);
    expect(b.startup.framesBeforeFirstRecorded).toBeLessThan(b.framesSent);
    expect(b.steady.framesSent).toBe(b.framesSent - b.startup.framesBeforeFirstRecorded);
    // Every frame of the steady state is either in the WebM or counted as lost.
    expect(b.steady.framesLost).toBeGreaterThanOrEqual(0);
    expect(b.webm.packets + b.steady.framesLost - b.steady.unmatchedRecorded).toBe(b.steady.framesSent);
    expect(b.webm.packets).toBeGreaterThan(0);
    expect(b.webm.decodedFrames).toBe(b.webm.packets);
    expect(b.webm.keyframes).toBeGreaterThan(0);
    expect(b.mp4.decodedFrames).toBeGreaterThan(0);
    expect(b.audio.packetsSent).toBeGreaterThan(0);
    expect(b.audio.webmPackets).toBeGreaterThan(0);
    expect(b.previewReadyMs).toBeGreaterThan(0);
    expect(b.replayReadyMs).toBeGreaterThanOrEqual(b.previewReadyMs);
    expect(r.framesLost).toBe(b.steady.framesLost);
    // Finalize alone over a synthetic 6 s recording, with and without the segment index: same length.
    expect(r.finalizeScaling).toHaveLength(1);
    const f = r.finalizeScaling[0]!;
    expect(f.segments).toBeGreaterThan(1);
    expect(f.indexedPreviewMs).toHaveLength(1);
    expect(f.probedPreviewMs).toHaveLength(1);
    expect(f.indexedPreviewMs[0]!).toBeGreaterThan(0);
    expect(f.probedPreviewMs[0]!).toBeGreaterThan(0);
    expect(f.indexedDurationMs).toBeGreaterThan(5000);
    expect(Math.abs(f.indexedDurationMs - f.probedDurationMs)).toBeLessThan(100);
    // H.264 finalize alone over a synthetic 6 s recording: the recorded AAC copied in one mode, the audio encoded in the other.
    expect(r.h264FinalizeScaling).toHaveLength(1);
    const h = r.h264FinalizeScaling[0]!;
    expect(h.segments).toBeGreaterThan(1);
    expect(h.aacSegments).toBeGreaterThan(1);
    expect(h.audio).toEqual({ aacCopied: 'copy', encoded: 'encode' });
    for (const ms of [...h.aacCopiedMp4Ms, ...h.encodedMp4Ms]) expect(ms).toBeGreaterThan(0);
    expect(h.aacCopiedReadyMs[0]!).toBeGreaterThanOrEqual(h.aacCopiedMp4Ms[0]!);
    expect(h.encodedReadyMs[0]!).toBeGreaterThanOrEqual(h.encodedMp4Ms[0]!);
    // The preview (video.mp4) in each run (the copied mode first), made before that run's MP4.
    expect(h.previewMs).toHaveLength(2);
    expect(h.previewMs[0]!).toBeGreaterThan(0);
    expect(h.previewMs[0]!).toBeLessThanOrEqual(h.aacCopiedMp4Ms[0]!);
    expect(h.previewMs[1]!).toBeLessThanOrEqual(h.encodedMp4Ms[0]!);

    expect(recording.chart(r)).toMatch(/^<svg [^]*<\/svg>\n$/);
    expect(r.h264ReadyMs).toBeNull();
    expect(recording.summary(r).recording).toEqual({
      framesLost: r.framesLost,
      previewReadyMs: r.previewReadyMs,
      replayReadyMs: r.replayReadyMs,
      h264ReadyMs: null,
      longestFinalizePreview: { seconds: 6, vp8Ms: f.indexedPreviewMs[0], h264Ms: Math.max(...h.previewMs) },
    });
    expect(recording.describe(r).length).toBeGreaterThan(1);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });

  it('lines sent frames up with recorded ones: start-up, losses in the middle and at the end', () => {
    const sizes = [500, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106];
    const sent = sizes.map((size, i) => ({ size, sentAt: 1000 + i * 33 }));
    // The recording starts at the 3rd frame, misses the 8th and the last two.
    const recorded = sizes.filter((_, i) => i >= 2 && i !== 7 && i < sizes.length - 2).map((size) => ({ size }));
    expect(recording.matchFrames(sent, recorded, 1000)).toEqual({ offset: 2, lost: 3, lostAtEnd: 2, unmatched: 0 });
  });
});
