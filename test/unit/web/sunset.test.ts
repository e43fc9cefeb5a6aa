import { describe, expect, it } from 'vitest';
import { formatCountdown, readSunsetStatus } from '../../../web/src/sunset.ts';

describe('sunset banner helpers', () => {
  it('formats the countdown coarsely far away and finely close by', () => {
    expect(formatCountdown(2 * 86_400_000 + 3 * 3_600_000 + 59_000)).toBe('2 d 3 h');
    expect(formatCountdown(3 * 3_600_000 + 12 * 60_000 + 5_000)).toBe('3 h 12 min');
    expect(formatCountdown(4 * 60_000 + 5_000)).toBe('4 min 05 s');
    expect(formatCountdown(12_400)).toBe('12 s');
    expect(formatCountdown(-5)).toBe('0 s');
  });

  it('reads the /api/sunset envelope and rejects foreign shapes', () => {
    const schedule = { announceAt: 'a', readOnlyAt: 'b', exportOnlyAt: 'c', offAt: 'd', message: '' };
    expect(readSunsetStatus({ phase: 'none', schedule: null, now: 'x' })).toEqual({ phase: 'none', schedule: null, now: 'x' });
    expect(readSunsetStatus({ phase: 'announced', schedule, now: 'x' })).toEqual({ phase: 'announced', schedule, now: 'x' });
    expect(readSunsetStatus({ phase: 'closing', schedule: null, now: 'x' })).toBeNull();
    expect(readSunsetStatus({ phase: 'announced', schedule: { ...schedule, offAt: 3 }, now: 'x' })).toBeNull();
    expect(readSunsetStatus(null)).toBeNull();
  });
});
