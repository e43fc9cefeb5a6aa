import { describe, expect, it } from 'vitest';
import * as archive from '../../bench/archive/index.ts';
import { runBenchmark } from '../../bench/runBenchmark.ts';

/**
 * The archive benchmark in smoke mode (3 replays, ~6 MiB, 2 alternating runs of the real
 * buildArchive and of cp + sync): it must keep producing numbers. No throughput thresholds:
 * CI runs this on 2 busy cores.
 */
describe('bench: archive throughput vs cp (smoke)', () => {
  it('builds a valid archive and times it against cp', { timeout: 60_000 }, async () => {
    const r = await runBenchmark('archive', archive, { smoke: true });
    expect(r.benchmark).toBe('archive');
    expect(r.verified).toBe(true);
    expect(r.mediaBytes).toBeGreaterThan(6 * 1024 * 1024);
    expect(r.zipBytes).toBeGreaterThan(r.mediaBytes);
    expect(r.runs.filter((x) => x.kind === 'cp')).toHaveLength(r.config.runs);
    expect(r.runs.filter((x) => x.kind === 'archive')).toHaveLength(r.config.runs);
    for (const x of r.runs) {
      expect(x.ms).toBeGreaterThan(0);
      expect(x.mbPerS).toBeGreaterThan(0);
    }
    expect(r.ratioVsCp).toBeGreaterThan(0);
    expect(r.pairRatios).toHaveLength(r.config.runs);
    expect(r.archive.cpuSecondsPerGB).toBeGreaterThan(0);
    expect(r.archiveWithoutStoredHashes?.medianMbPerS).toBeGreaterThan(0);

    expect(archive.chart(r)).toMatch(/^<svg [^]*<\/svg>\n$/);
    expect(archive.summary(r).archive?.ratioVsCp).toBe(r.ratioVsCp);
    expect(archive.describe(r).length).toBeGreaterThan(0);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });
});
