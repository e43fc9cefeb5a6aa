import { describe, expect, it } from 'vitest';
import * as ttff from '../../bench/ttff/index.ts';
import { runBenchmark } from '../../bench/runBenchmark.ts';

/**
 * Time to first frame in smoke mode (real Spyglass, the raw-mediasoup server, real Chromium;
 * 3 joins per path after one warm-up join each): every join must end in a presented frame and
 * sane numbers. No timing thresholds: CI runs this on 2 busy cores.
 */
describe('bench: time to first frame (smoke)', () => {
  it('joins Spyglass and raw mediasoup alternately and times the first frame', { timeout: 120_000 }, async () => {
    const r = await runBenchmark('ttff', ttff, { smoke: true });
    expect(r.benchmark).toBe('ttff');
    expect(r.samples).toHaveLength(2 * r.config.joins);
    for (const p of [r.spyglass, r.raw]) {
      expect(p.joins).toBe(r.config.joins);
      expect(p.firstFrameMs.count).toBe(r.config.joins);
      expect(Number.isFinite(p.firstFrameMs.p50)).toBe(true);
      expect(Number.isFinite(p.firstFrameMs.p95)).toBe(true);
      expect(p.firstFrameMs.min).toBeGreaterThan(0);
      expect(p.firstFrameMs.p95).toBeGreaterThanOrEqual(p.firstFrameMs.p50!);
    }
    for (const s of r.samples) {
      // Each join went through every step, in order, and presented a real frame.
      // Spyglass joins on the app's connection, open since the home page listed the broadcast:
      // no WebSocket during the join. The raw viewer opens one per join.
      if (s.path === 'spyglass') expect([s.wsNewMs, s.wsOpenMs]).toEqual([null, null]);
      const chain = [...(s.path === 'raw' ? [s.wsNewMs, s.wsOpenMs] : []), s.pcRemoteMs, s.pcLocalMs, s.pcConnectedMs, s.firstFrameMs];
      for (const t of chain) expect(t).not.toBeNull();
      for (let i = 1; i < chain.length; i++) expect(chain[i]!).toBeGreaterThanOrEqual(chain[i - 1]!);
      expect(s.width).toBeGreaterThan(0);
      expect(s.height).toBeGreaterThan(0);
    }
    expect(ttff.chart(r)).toMatch(/^<svg [^]*<\/svg>\n$/);
    expect(ttff.summary(r).ttff?.p95Ms).toBe(r.spyglass.firstFrameMs.p95);
    expect(ttff.describe(r).length).toBeGreaterThan(0);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });
});
