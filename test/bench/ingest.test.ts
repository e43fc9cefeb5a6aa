import { describe, expect, it } from 'vitest';
import * as ingest from '../../bench/ingest/index.ts';
import { runBenchmark } from '../../bench/runBenchmark.ts';

/**
 * Ingest against the browser in smoke mode (real Spyglass with its RTMP listener, real
 * Chromium, ffmpeg as the RTMP encoder; 20 frames and 2 joins per source): every source must
 * deliver decodable stamped frames to a viewer on /watch and sane numbers. No timing
 * thresholds: CI runs this on 2 busy cores.
 */
describe('bench: ingest (smoke)', () => {
  it('decodes stamped frames sent from the go-live page, over WHIP and over RTMP', { timeout: 240_000 }, async () => {
    const r = await runBenchmark('ingest', ingest, { smoke: true });
    expect(r.benchmark).toBe('ingest');
    for (const source of ['browser', 'whip', 'rtmp'] as const) {
      const s = r.sources[source];
      expect(s.source).toBe(source);
      expect(s.broadcastId).toMatch(/^b_/);
      expect(s.glass.frames).toBe(r.config.frames);
      // A stamp is drawn before it is seen; a wrong decode (the CRC lets one in 256 through) would be far off.
      expect(s.glass.callbackMs.min).toBeGreaterThan(0);
      expect(s.glass.callbackMs.max).toBeLessThan(10_000);
      expect(s.glass.pipeline?.framesDecoded).toBeGreaterThan(0);
      expect(s.firstFrameMs.count).toBe(r.config.joins);
      expect(s.firstFrameMs.min).toBeGreaterThan(0);
    }
    // The three broadcasts are three broadcasts (one user each), not one watched three times.
    expect(new Set(Object.values(r.sources).map((s) => s.broadcastId)).size).toBe(3);
    // WebRTC saw the senders that are browser pages encode; ffmpeg's encode is outside it.
    expect(r.sources.browser.glass.pipeline?.encodeMs).not.toBeNull();
    expect(r.sources.rtmp.glass.pipeline?.encodeMs).toBeNull();
    expect(ingest.chart(r)).toMatch(/^<svg [^]*<\/svg>\n$/);
    expect(ingest.summary(r).ingest?.glassRtmpP50Ms).toBe(r.sources.rtmp.glass.callbackMs.p50);
    expect(ingest.describe(r).length).toBe(4);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });
});
