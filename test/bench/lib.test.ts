import { describe, expect, it } from 'vitest';
import { BENCHMARKS } from '../../bench/benchmarks.ts';
import { percentile, distribution } from '../../bench/lib/stats.ts';
import { chartDocument, niceTicks } from '../../bench/lib/svg.ts';
import { emptyLatestFigures } from '../../bench/types.ts';

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
    expect(Object.keys(emptyLatestFigures()).sort()).toEqual(['archive', 'fanout', 'join', 'latency', 'recording', 'ttff']);
  });
});
