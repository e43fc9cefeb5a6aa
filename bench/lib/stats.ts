/** Small statistics helpers for the benchmarks. */

/** The p-th percentile (0..100) of `values` by linear interpolation between closest ranks; null if empty. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (rank - lo);
}

export function median(values: readonly number[]): number | null {
  return percentile(values, 50);
}

/** p50/p90/p99/max/mean of a sample, rounded to `digits`; nulls when empty. */
export function distribution(values: readonly number[], digits = 1): Distribution {
  const r = (x: number | null) => (x === null ? null : Math.round(x * 10 ** digits) / 10 ** digits + 0);
  return {
    count: values.length,
    p50: r(percentile(values, 50)),
    p90: r(percentile(values, 90)),
    p99: r(percentile(values, 99)),
    max: r(values.length ? Math.max(...values) : null),
    mean: r(values.length ? values.reduce((a, b) => a + b, 0) / values.length : null),
  };
}

export interface Distribution {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

/** count, min, p50, p95, p99, max and mean of a sample, rounded to 0.1; nulls when empty. */
export interface Percentiles {
  count: number;
  min: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

export function percentiles(values: readonly number[]): Percentiles {
  // + 0: no -0 (it does not survive JSON).
  const r = (x: number | null) => (x === null ? null : Math.round(x * 10) / 10 + 0);
  return {
    count: values.length,
    min: r(values.length ? Math.min(...values) : null),
    p50: r(percentile(values, 50)),
    p95: r(percentile(values, 95)),
    p99: r(percentile(values, 99)),
    max: r(values.length ? Math.max(...values) : null),
    mean: r(values.length ? values.reduce((a, b) => a + b, 0) / values.length : null),
  };
}
