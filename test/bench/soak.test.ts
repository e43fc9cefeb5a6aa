import { describe, expect, it } from 'vitest';
import * as soak from '../../bench/soak/index.ts';
import { runBenchmark } from '../../bench/runBenchmark.ts';

/**
 * The soak in smoke mode: 20 s of a recorded broadcast to 5 viewers sending RTCP feedback, on
 * a real `npm start` (signalling, workers, mediasoup workers, ffmpeg). It must keep producing
 * its samples and figures and end with a ready replay and drained queues. No memory or
 * timing thresholds: those are the 60-minute run's to report (npm run bench:soak).
 */
describe('bench: soak (smoke)', () => {
  it('samples every process, feeds back RTCP and drains the queues', { timeout: 120_000 }, async () => {
    const r = await runBenchmark('soak', soak, { smoke: true });
    expect(r.benchmark).toBe('soak');
    const roles = r.trends.map((t) => t.role);
    for (const role of ['signaling', 'workers', 'mediasoup-0', 'ffmpeg-0']) expect(roles).toContain(role);
    expect(r.samples.length).toBeGreaterThanOrEqual(5);
    for (const s of r.samples) {
      expect(s.processes.signaling?.rssMiB).toBeGreaterThan(0);
      expect(s.processes.signaling?.fds).toBeGreaterThan(0);
    }
    // Every viewer received media and sent the feedback a browser sends.
    expect(r.viewers.count).toBe(5);
    expect(r.viewers.joinFailures).toBe(0);
    expect(r.samples.at(-1)!.viewers.receiving).toBe(5);
    expect(r.viewers.rr).toBeGreaterThan(0);
    expect(r.viewers.remb).toBeGreaterThan(0);
    expect(r.viewers.pli).toBeGreaterThanOrEqual(5);
    expect(r.replay.state).toBe('ready');
    expect(r.queuesDrained).toBe(true);
    expect(r.queuesAtEnd.record?.completed).toBe(1);
    expect(r.queuesAtEnd.finalize?.completed).toBe(1);
    for (const t of r.trends) expect(t.samples).toBeGreaterThan(0);

    expect(soak.chart(r)).toMatch(/^<svg [^]*<\/svg>\n?$/);
    expect(soak.describe(r).length).toBeGreaterThan(3);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });
});

describe('bench: soak slope', () => {
  it('is the least-squares slope', () => {
    expect(soak.slope([[0, 1], [1, 3], [2, 5]])).toBeCloseTo(2);
    expect(soak.slope([[0, 1], [1, 1]])).toBeNull();
  });
});
