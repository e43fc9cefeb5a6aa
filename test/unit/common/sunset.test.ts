import { describe, expect, it } from 'vitest';
import { allowedIn, nextSwitchAt, normaliseSchedule, phaseAt, validateSchedule, type SunsetSchedule } from '../../../common/protocol/sunset.ts';

const T0 = Date.parse('2031-05-01T12:00:00.000Z');
const H = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const schedule: SunsetSchedule = {
  announceAt: iso(T0 + H),
  readOnlyAt: iso(T0 + 2 * H),
  exportOnlyAt: iso(T0 + 3 * H),
  offAt: iso(T0 + 4 * H),
  message: 'Thanks',
};

describe('phaseAt', () => {
  it('is none without a schedule', () => {
    expect(phaseAt(null, T0)).toBe('none');
    expect(phaseAt(undefined, T0 + 10 * H)).toBe('none');
  });

  it('switches exactly at each date', () => {
    expect(phaseAt(schedule, T0)).toBe('none');
    expect(phaseAt(schedule, T0 + H - 1)).toBe('none');
    expect(phaseAt(schedule, T0 + H)).toBe('announced');
    expect(phaseAt(schedule, T0 + 2 * H - 1)).toBe('announced');
    expect(phaseAt(schedule, T0 + 2 * H)).toBe('read-only');
    expect(phaseAt(schedule, T0 + 3 * H)).toBe('export-only');
    expect(phaseAt(schedule, T0 + 4 * H - 1)).toBe('export-only');
    expect(phaseAt(schedule, T0 + 4 * H)).toBe('off');
    expect(phaseAt(schedule, T0 + 400 * H)).toBe('off');
  });
});

describe('nextSwitchAt', () => {
  it('names the next phase and its date, then null once off', () => {
    expect(nextSwitchAt(null, T0)).toBeNull();
    expect(nextSwitchAt(schedule, T0)).toEqual({ phase: 'announced', at: schedule.announceAt });
    expect(nextSwitchAt(schedule, T0 + H)).toEqual({ phase: 'read-only', at: schedule.readOnlyAt });
    expect(nextSwitchAt(schedule, T0 + 3.5 * H)).toEqual({ phase: 'off', at: schedule.offAt });
    expect(nextSwitchAt(schedule, T0 + 4 * H)).toBeNull();
  });
});

describe('allowedIn', () => {
  it('closes sign-up at the announcement, live at read-only, replays only when off', () => {
    expect(allowedIn('none', 'signup')).toBe(true);
    expect(allowedIn('announced', 'signup')).toBe(false);
    expect(allowedIn('announced', 'broadcast')).toBe(true);
    expect(allowedIn('read-only', 'broadcast')).toBe(false);
    expect(allowedIn('read-only', 'chat')).toBe(false);
    expect(allowedIn('read-only', 'replay')).toBe(true);
    expect(allowedIn('export-only', 'watch')).toBe(false);
    expect(allowedIn('export-only', 'download')).toBe(true);
    expect(allowedIn('export-only', 'archive')).toBe(true);
    expect(allowedIn('off', 'download')).toBe(false);
  });
});

describe('validateSchedule', () => {
  it('accepts four ordered future dates and a message', () => {
    expect(validateSchedule(schedule, T0)).toEqual([]);
    expect(validateSchedule({ ...schedule, message: undefined }, T0)).toEqual([]);
    // Offsets are accepted and normalised to UTC.
    const withOffset = { ...schedule, announceAt: '2031-05-01T15:00:00+02:00' };
    expect(validateSchedule(withOffset, T0)).toEqual([]);
    expect(normaliseSchedule(withOffset, T0).announceAt).toBe('2031-05-01T13:00:00.000Z');
  });

  it('requires all four dates', () => {
    const { offAt: _off, ...rest } = schedule;
    expect(validateSchedule(rest, T0)).toEqual(['offAt: required']);
    expect(validateSchedule(null, T0)).toHaveLength(1);
    expect(validateSchedule([], T0)).toHaveLength(1);
  });

  it('refuses malformed dates', () => {
    for (const bad of ['tomorrow', '2031-05-01', '2031-05-01T12:00:00', 12345, '2031-13-45T99:00:00Z']) {
      const errors = validateSchedule({ ...schedule, announceAt: bad }, T0);
      expect(errors, String(bad)).toEqual([expect.stringMatching(/^announceAt: must be an ISO-8601 date and time with a time zone/)]);
    }
  });

  it('refuses dates in the past or now', () => {
    const errors = validateSchedule(schedule, T0 + H);
    expect(errors).toEqual([expect.stringMatching(/^announceAt: must be in the future/)]);
    expect(validateSchedule(schedule, T0 + 5 * H)).toHaveLength(4);
  });

  it('refuses dates out of order, and equal dates', () => {
    expect(validateSchedule({ ...schedule, readOnlyAt: schedule.exportOnlyAt }, T0)).toEqual(['exportOnlyAt: must be after readOnlyAt']);
    expect(validateSchedule({ ...schedule, announceAt: schedule.offAt, offAt: schedule.announceAt }, T0)).toEqual([
      'readOnlyAt: must be after announceAt',
      'offAt: must be after exportOnlyAt',
    ]);
  });

  it('refuses unknown fields and bad messages', () => {
    expect(validateSchedule({ ...schedule, phase: 'off' }, T0)).toEqual(['phase: unknown field']);
    expect(validateSchedule({ ...schedule, message: 3 }, T0)).toEqual(['message: must be a string']);
    expect(validateSchedule({ ...schedule, message: 'x'.repeat(1001) }, T0)).toEqual(['message: at most 1000 characters']);
  });
});
