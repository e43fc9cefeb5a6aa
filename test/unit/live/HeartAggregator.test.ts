import { afterEach, describe, expect, it, vi } from 'vitest';
import { HeartAggregator } from '../../../signaling/live/HeartAggregator.ts';

describe('HeartAggregator', () => {
  afterEach(() => void vi.useRealTimers());

  it('sums hearts per key and flushes once per interval', () => {
    vi.useFakeTimers();
    const flushed: Array<[string, number]> = [];
    const agg = new HeartAggregator(250, (k, n) => flushed.push([k, n]));
    for (let i = 0; i < 7; i++) agg.add('a');
    agg.add('b', 3);
    vi.advanceTimersByTime(249);
    expect(flushed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(flushed).toEqual([['a', 7], ['b', 3]]);
    agg.add('a');
    vi.advanceTimersByTime(250);
    expect(flushed).toEqual([['a', 7], ['b', 3], ['a', 1]]);
  });

  it('discards a key and flushes the rest on close', () => {
    vi.useFakeTimers();
    const flushed: Array<[string, number]> = [];
    const agg = new HeartAggregator(250, (k, n) => flushed.push([k, n]));
    agg.add('gone', 2);
    agg.add('kept', 1);
    agg.discard('gone');
    agg.close();
    expect(flushed).toEqual([['kept', 1]]);
    vi.advanceTimersByTime(1000);
    expect(flushed).toHaveLength(1);
  });
});
