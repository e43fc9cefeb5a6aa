import { describe, expect, it } from 'vitest';
import { BENCHMARKS } from '../../bench/benchmarks.ts';
import { percentile, distribution } from '../../bench/lib/stats.ts';
import { mergeLatest, type Latest } from '../../bench/lib/results.ts';
import { chartDocument, niceTicks } from '../../bench/lib/svg.ts';
import { runBenchmark } from '../../bench/runBenchmark.ts';
import { emptyLatestFigures, type BenchResult } from '../../bench/types.ts';

describe('bench helpers', () => {
  it('computes percentiles by interpolation', () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([5], 99)).toBe(5);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([10, 1, 100], 100)).toBe(100);
    expect(distribution([1, 2, 3])).toMatchObject({ count: 3, p50: 2, max: 3, mean: 2 });
  });

  it('draws a self-contained SVG with escaped text', () => {
    const svg = chartDocument('a < b', 'sub', [
      { title: 't', xLabel: 'x', yLabel: 'y', xLog2: true, series: [{ name: 's', points: [[50, 1], [100, 2], [200, Number.NaN]] }] },
    ]);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('a &lt; b');
    expect(svg).not.toContain('NaN');
    expect(niceTicks(0, 7, 5)).toEqual([0, 2, 4, 6, 8]);
  });

  it('lists every benchmark with the module contract, and latest.json has every key', () => {
    for (const m of Object.values(BENCHMARKS)) {
      for (const f of ['run', 'chart', 'summary', 'describe'] as const) expect(typeof m[f]).toBe('function');
    }
    expect(Object.keys(emptyLatestFigures()).sort()).toEqual(['archive', 'cascade', 'fanout', 'ingest', 'join', 'latency', 'recording', 'ttff']);
  });

  it('wraps every result in one envelope: name, smoke, start, duration, machine, then the benchmark’s own config and figures', async () => {
    interface ToyResult extends BenchResult<'toy', { size: number }> {
      value: number;
    }
    const seen: Array<{ smoke: boolean }> = [];
    const toy = {
      run: async (opts: { smoke: boolean }) => {
        seen.push({ smoke: opts.smoke });
        return { config: { size: opts.smoke ? 1 : 10 }, value: 42 };
      },
      chart: () => '<svg/>',
      summary: () => ({}),
      describe: (r: ToyResult) => [`value ${r.value}`],
    };
    const before = Date.now();
    const r = await runBenchmark<ToyResult>('toy', toy, { smoke: true });
    expect(seen).toEqual([{ smoke: true }]);
    expect(Object.keys(r)).toEqual(['benchmark', 'smoke', 'startedAt', 'durationMs', 'machine', 'config', 'value']);
    expect(r).toMatchObject({ benchmark: 'toy', smoke: true, config: { size: 1 }, value: 42 });
    expect(Date.parse(r.startedAt)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
    expect(r.machine.cores).toBeGreaterThan(0);
    // The runner passes the machine it read before the first benchmark pinned anything.
    const machine = { ...r.machine, cores: 64 };
    expect((await runBenchmark<ToyResult>('toy', toy, { smoke: false }, machine)).machine).toBe(machine);
  });

  it('merges the keys of a partial run into latest.json and says so', () => {
    const machine = { cores: 2, cpuModel: 'x', memoryGiB: 1, os: 'l', node: 'v20', mediasoup: null, ffmpeg: null, busyBeforeRun: 0.02 };
    const previous: Latest = {
      at: '2026-01-01T00:00:00.000Z',
      runId: 'full',
      machine,
      ...emptyLatestFigures(),
      archive: { ratioVsCp: 0.5 },
      files: { archive: { json: 'a.json', svg: 'a.svg' } },
    };
    const cascade = { ...emptyLatestFigures().cascade, pipeVsViewerCpu: 0.9 };
    const at = new Date('2026-02-01T00:00:00Z');
    const merged = mergeLatest(previous, at, 'partial', machine, { cascade }, { cascade: { json: 'c.json', svg: 'c.svg' } });
    expect(merged).toMatchObject({ at: previous.at, runId: 'full', archive: { ratioVsCp: 0.5 }, cascade: { pipeVsViewerCpu: 0.9 } });
    expect(merged.files).toEqual({ archive: { json: 'a.json', svg: 'a.svg' }, cascade: { json: 'c.json', svg: 'c.svg' } });
    expect(merged.merged).toEqual({ cascade: { at: at.toISOString(), runId: 'partial', machine } });
    // Nothing to merge without figures and files; no latest.json yet: nulls, headed by this run.
    expect(mergeLatest(previous, at, 'p', machine, {}, {}).merged).toEqual({});
    expect(mergeLatest(null, at, 'p', machine, { cascade }, { cascade: { json: 'c', svg: 's' } })).toMatchObject({ runId: 'p', fanout: { viewersPerCore: null } });
  });
});
