import { describe, expect, it } from 'vitest';
import * as join from '../../bench/join/index.ts';
import { runBenchmark } from '../../bench/runBenchmark.ts';

/**
 * The join storm in smoke mode (5 viewers over 1 s, then a burst of 5 more, one media worker):
 * it must keep producing numbers. No latency thresholds: CI runs this on 2 busy cores.
 */
describe('bench: join storm (smoke)', () => {
  it('joins every viewer and sees the broadcast flowing', { timeout: 90_000 }, async () => {
    const r = await runBenchmark('join', join, { smoke: true });
    expect(r.benchmark).toBe('join');
    expect(r.errors).toEqual([]);
    expect(r.joined).toBe(5);
    expect(r.failed).toBe(0);
    expect(r.burst.joined).toBe(5);
    expect(r.burst.failed).toBe(0);
    expect(r.serverViewers).toBe(10);
    expect(r.joinAckMs.count).toBe(5);
    expect(r.joinAckMs.p50).toBeGreaterThan(0);
    expect(r.joinAckMs.p99).toBeGreaterThanOrEqual(r.joinAckMs.p50!);
    expect(r.connectMs.p50).toBeGreaterThan(0);
    // The synthetic broadcaster's producers kept receiving packets while they were watched (the
    // rates before and during the ~1 s storm are left alone: a busy CI machine may delay ffmpeg).
    expect(r.ingest.packetsMonitored).toBeGreaterThan(0);
    expect(r.server.eventLoopDelayMs.max).toBeGreaterThan(0);

    // Then 3 viewers join as the web app does, each with its transport and 2 consumers in the ack,
    // and the server's heap is read after a full collection at each step (no size thresholds:
    // 3 viewers are within the noise of a collection).
    expect(r.memory.mediaErrors).toEqual([]);
    expect(r.memory.mediaJoined).toBe(3);
    for (const reading of Object.values(r.memory.readings)) expect(reading.heapUsed).toBeGreaterThan(0);

    expect(join.chart(r)).toMatch(/^<svg [^]*<\/svg>\n$/);
    expect(join.summary(r).join?.p99Ms).toBe(r.joinAckMs.p99);
    expect(join.summary(r).join?.heapPerWatchingViewerKiB).toBe(r.memory.watchingKiB.heap);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });
});
