import { describe, expect, it } from 'vitest';
import * as latency from '../../bench/latency/index.ts';
import { runBenchmark } from '../../bench/runBenchmark.ts';

/**
 * Glass-to-glass latency in smoke mode (real Spyglass and real Chromium, 640×360 canvas
 * camera, 20 frames per path): both paths must deliver decodable stamped frames and produce
 * sane numbers. No latency thresholds: CI runs this on 2 busy cores.
 */
describe('bench: glass-to-glass latency (smoke)', () => {
  it('decodes stamped frames through Spyglass and through a direct peer connection', { timeout: 120_000 }, async () => {
    const r = await runBenchmark('latency', latency, { smoke: true });
    expect(r.benchmark).toBe('latency');
    for (const p of [r.spyglass, r.floor]) {
      expect(p.frames).toBe(r.config.frames);
      expect(p.callbackMs.count).toBe(r.config.frames);
      for (const v of [p.callbackMs.min, p.callbackMs.p50, p.callbackMs.p95, p.callbackMs.max, p.displayMs.p50]) {
        expect(Number.isFinite(v)).toBe(true);
      }
      // A stamp is drawn before it is seen: ages are positive, and a wrong decode (which the
      // CRC lets through once in 256) would be far off.
      expect(p.callbackMs.min).toBeGreaterThan(0);
      expect(p.callbackMs.max).toBeLessThan(10_000);
      expect(p.callbackMs.p95).toBeGreaterThanOrEqual(p.callbackMs.p50!);
      expect(p.fps).toBeGreaterThan(0);
      expect(Object.keys(p.sizes).length).toBeGreaterThan(0);
      expect(p.series).toHaveLength(r.config.frames);
      // WebRTC's own counters moved over the window: frames were decoded at the viewer.
      expect(p.pipeline?.framesDecoded).toBeGreaterThan(0);
    }
    expect(latency.chart(r)).toMatch(/^<svg [^]*<\/svg>\n$/);
    expect(latency.summary(r).latency).toEqual({ p50Ms: r.spyglass.callbackMs.p50, p95Ms: r.spyglass.callbackMs.p95, floorP95Ms: r.floor.callbackMs.p95 });
    expect(latency.describe(r).length).toBeGreaterThan(0);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });
});
