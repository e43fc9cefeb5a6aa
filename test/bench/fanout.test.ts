import { describe, expect, it } from 'vitest';
import * as fanout from '../../bench/fanout/index.ts';
import { runBenchmark } from '../../bench/runBenchmark.ts';

/**
 * The fan-out benchmark in smoke mode (4 viewers, one 1.5 s window per path, then one Chromium
 * viewer on the /watch page for 1 s): it must keep producing numbers, and the Chromium viewer
 * must have negotiated the SRTP suite the plain viewers use. No timing or loss thresholds:
 * CI runs this on 2 busy cores.
 */
describe('bench: fan-out (smoke)', () => {
  it('measures both paths, with an edge router on the Spyglass path', { timeout: 90_000 }, async () => {
    const r = await runBenchmark('fanout', fanout, { smoke: true });
    expect(r.benchmark).toBe('fanout');
    expect(r.smoke).toBe(true);
    for (const path of [r.raw, r.spyglass]) {
      expect(path.steps).toHaveLength(1);
      const step = path.steps[0]!;
      expect(step.viewers).toBe(4);
      expect(step.viewersFlowing).toBe(4);
      expect(step.workerAnswered).toBe(true);
      expect(step.producerPps?.video).toBeGreaterThan(0);
      expect(step.producerPps?.audio).toBeGreaterThan(0);
      expect(step.expectedPackets).toBeGreaterThan(0);
      expect(step.receivedPackets).toBeGreaterThan(0);
      expect(step.deliveredPps).toBeGreaterThan(0);
      expect(Number.isFinite(step.loss)).toBe(true);
      expect(step.loss).toBeLessThanOrEqual(1);
      expect(step.loss).toBeGreaterThanOrEqual(0);
      expect(step.cpu.workers).toBeGreaterThanOrEqual(0);
      expect(step.memory.workersRssMiB).toBeGreaterThan(0);
      expect(step.usPerPacket).toBeGreaterThan(0);
      expect(step.sentPps).toBeGreaterThan(0);
      // The C sink read every datagram (4 viewers) and timestamped the audio.
      expect(step.sinkDrops).toBe(0);
      expect(step.relayDrops).toBeGreaterThanOrEqual(0);
      expect(step.valid).toBe(step.relayDrops === 0);
      expect(step.delaySpread?.maxUs).toBeGreaterThanOrEqual(0);
    }
    // maxViewersPerRouter is 2 in smoke mode: viewers 3 and 4 are served from a piped edge.
    expect(r.spyglass.steps[0]!.layout.edges).toBeGreaterThanOrEqual(1);
    expect(r.raw.steps[0]!.layout.routers).toBe(1);

    // A real viewer in Chromium decoded the broadcast from the Spyglass path's SFU.
    expect(r.chromium).toMatchObject({ plainViewers: 4, error: null, decoding: 1 });
    expect(r.chromium!.viewers).toHaveLength(1);
    expect(r.chromium!.viewers[0]!.framesDecoded).toBeGreaterThan(0);
    expect(r.chromium!.viewers[0]!.width).toBeGreaterThan(0);
    // The suite a real viewer negotiates with mediasoup is the one the plain viewers use.
    expect(r.config.srtpSuite).toBe('AEAD_AES_256_GCM');
    expect(r.chromium!.viewers[0]!.srtpCipher).toMatch(/AEAD_AES_256_GCM$/);

    expect(fanout.chart(r)).toMatch(/^<svg [^]*<\/svg>\n$/);
    expect(fanout.describe(r).join('\n')).toContain('1 of 1 decoded video');
    // Smoke mode has no calibration reference: its figures are never published.
    expect(r.calibration).toMatchObject({ viewers: 4, referenceUsPerPacket: null, publishable: false });
    expect(fanout.summary(r)).toEqual({});
    expect(fanout.summary({ ...r, calibration: { ...r.calibration, publishable: true } })).toEqual({
      fanout: { viewersPerCore: r.spyglass.viewersPerCore, ratioVsRawMediasoup: r.comparison.ratioVsRawMediasoup },
    });
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });
});
