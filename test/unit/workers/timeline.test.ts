import { describe, expect, it } from 'vitest';
import { buildTimeline, timelineDurationMs, toMediaTime, type TimelineSpan } from '../../../common/replay/timeline.ts';

describe('buildTimeline', () => {
  it('lays runs back to back in broadcast order', () => {
    expect(
      buildTimeline([
        { offsetMs: 9000, durationMs: 3000 },
        { offsetMs: 1000, durationMs: 4000 },
        { offsetMs: 20_000, durationMs: 500 },
      ]),
    ).toEqual([
      { offsetMs: 1000, mediaStartMs: 0, durationMs: 4000 },
      { offsetMs: 9000, mediaStartMs: 4000, durationMs: 3000 },
      { offsetMs: 20_000, mediaStartMs: 7000, durationMs: 500 },
    ]);
  });

  it('drops runs without media and rounds to whole milliseconds', () => {
    expect(
      buildTimeline([
        { offsetMs: 0, durationMs: 0 },
        { offsetMs: 100.4, durationMs: 999.6 },
        { offsetMs: 5000, durationMs: -20 },
        { offsetMs: 6000, durationMs: Number.NaN },
        { offsetMs: 7000.6, durationMs: 1000.2 },
      ]),
    ).toEqual([
      { offsetMs: 100, mediaStartMs: 0, durationMs: 1000 },
      { offsetMs: 7001, mediaStartMs: 1000, durationMs: 1000 },
    ]);
  });

  it('keeps the media of overlapping runs (both are in the video)', () => {
    const t = buildTimeline([
      { offsetMs: 0, durationMs: 10_000 },
      { offsetMs: 8000, durationMs: 5000 },
    ]);
    expect(t).toEqual([
      { offsetMs: 0, mediaStartMs: 0, durationMs: 10_000 },
      { offsetMs: 8000, mediaStartMs: 10_000, durationMs: 5000 },
    ]);
    expect(timelineDurationMs(t)).toBe(15_000);
  });

  it('is empty without runs', () => {
    expect(buildTimeline([])).toEqual([]);
    expect(timelineDurationMs([])).toBe(0);
  });
});

describe('toMediaTime', () => {
  // Runs at 1000–5000 and 9000–12000 in broadcast time; 0–4000 and 4000–7000 in the video.
  const timeline: TimelineSpan[] = [
    { offsetMs: 1000, mediaStartMs: 0, durationMs: 4000 },
    { offsetMs: 9000, mediaStartMs: 4000, durationMs: 3000 },
  ];

  it('maps a moment inside a span to its place in that span', () => {
    expect(toMediaTime(timeline, 1000)).toBe(0);
    expect(toMediaTime(timeline, 3500)).toBe(2500);
    expect(toMediaTime(timeline, 9000)).toBe(4000);
    expect(toMediaTime(timeline, 11_999)).toBe(6999);
  });

  it('maps a moment in a gap to the start of the next span', () => {
    expect(toMediaTime(timeline, 5000)).toBe(4000);
    expect(toMediaTime(timeline, 7000)).toBe(4000);
  });

  it('maps before the first span to 0 and after the last to the end', () => {
    expect(toMediaTime(timeline, 0)).toBe(0);
    expect(toMediaTime(timeline, -50)).toBe(0);
    expect(toMediaTime(timeline, 12_000)).toBe(7000);
    expect(toMediaTime(timeline, 1e9)).toBe(7000);
  });

  it('maps everything to 0 on an empty timeline', () => {
    expect(toMediaTime([], 5000)).toBe(0);
  });

  it('maps an overlap into the earlier run and never goes backwards', () => {
    const t = buildTimeline([
      { offsetMs: 0, durationMs: 10_000 },
      { offsetMs: 8000, durationMs: 5000 },
    ]);
    expect(toMediaTime(t, 9000)).toBe(9000);
    expect(toMediaTime(t, 10_000)).toBe(12_000);
    let previous = -1;
    for (let offset = -1000; offset <= 15_000; offset += 250) {
      const media = toMediaTime(t, offset);
      expect(media).toBeGreaterThanOrEqual(previous);
      previous = media;
    }
  });
});
