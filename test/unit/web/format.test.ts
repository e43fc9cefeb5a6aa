import { describe, expect, it } from 'vitest';
import {
  addHearts,
  formatBytes,
  formatChatLine,
  formatDateTime,
  formatDuration,
  formatError,
  formatLiveFor,
  formatViewers,
  heartsToDraw,
  parseInvitees,
  replayStateText,
} from '../../../web/src/format.ts';

describe('formatViewers', () => {
  it('says "N watching" with plain digits', () => {
    expect(formatViewers(0)).toBe('0 watching');
    expect(formatViewers(2)).toBe('2 watching');
    expect(formatViewers(12345)).toBe('12345 watching');
  });
  it('clamps nonsense to zero', () => {
    expect(formatViewers(-3)).toBe('0 watching');
    expect(formatViewers(Number.NaN)).toBe('0 watching');
    expect(formatViewers(2.7)).toBe('2 watching');
  });
});

describe('hearts', () => {
  it('adds bursts to the total and ignores nonsense', () => {
    expect(addHearts(0, 3)).toBe(3);
    expect(addHearts(3, 0)).toBe(3);
    expect(addHearts(3, -1)).toBe(3);
    expect(addHearts(3, Number.NaN)).toBe(3);
  });
  it('draws at most a few floating hearts per burst', () => {
    expect(heartsToDraw(0)).toBe(0);
    expect(heartsToDraw(3)).toBe(3);
    expect(heartsToDraw(500)).toBe(8);
    expect(heartsToDraw(500, 4)).toBe(4);
  });
});

describe('text', () => {
  it('formats chat lines as "username: text"', () => {
    expect(formatChatLine({ user: { id: 'u_0123456789' as never, username: 'alice' }, text: 'hi there' })).toBe('alice: hi there');
  });
  it('formats errors with their code', () => {
    expect(formatError('NOT_FOUND', 'broadcast not found')).toBe('broadcast not found (NOT_FOUND)');
  });
  it('formats how long a broadcast has been live', () => {
    const start = '2024-01-01T00:00:00.000Z';
    const t0 = Date.parse(start);
    expect(formatLiveFor(start, t0 + 10_000)).toBe('just started');
    expect(formatLiveFor(start, t0 + 5 * 60_000)).toBe('live for 5 min');
    expect(formatLiveFor(start, t0 + 120 * 60_000)).toBe('live for 2 h');
    expect(formatLiveFor(start, t0 + 80 * 60_000)).toBe('live for 1 h 20 min');
    expect(formatLiveFor('garbage', t0)).toBe('');
  });
});

describe('parseInvitees', () => {
  it('splits on commas and whitespace, strips @ and drops duplicates', () => {
    expect(parseInvitees(' alice, @bob  carol;Alice ')).toEqual({ ok: true, usernames: ['alice', 'bob', 'carol'] });
    expect(parseInvitees('')).toEqual({ ok: true, usernames: [] });
  });
  it('rejects invalid usernames and too many invitees', () => {
    expect(parseInvitees('ok_name, no!').ok).toBe(false);
    expect(parseInvitees('ab').ok).toBe(false);
    const many = Array.from({ length: 51 }, (_, i) => `user${i}`).join(',');
    expect(parseInvitees(many).ok).toBe(false);
  });
});

describe('replay formatting', () => {
  it('formats durations as m:ss, and h:mm:ss from an hour', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(7_000)).toBe('0:07');
    expect(formatDuration(9_600)).toBe('0:10');
    expect(formatDuration(754_000)).toBe('12:34');
    expect(formatDuration(3_600_000)).toBe('1:00:00');
    expect(formatDuration(3_725_000)).toBe('1:02:05');
    expect(formatDuration(null)).toBe('');
    expect(formatDuration(-1)).toBe('');
    expect(formatDuration(Number.NaN)).toBe('');
  });
  it('formats sizes in decimal units with one decimal', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1_500)).toBe('1.5 kB');
    expect(formatBytes(12_345_678)).toBe('12.3 MB');
    expect(formatBytes(999_999)).toBe('1.0 MB');
    expect(formatBytes(1_500_000_000)).toBe('1.5 GB');
    expect(formatBytes(-1)).toBe('');
  });
  it('names the states that are not ready', () => {
    expect(replayStateText('recording', null)).toBe('Recording…');
    expect(replayStateText('processing', null)).toBe('Processing…');
    expect(replayStateText('failed', 'ffmpeg exited with code 1')).toBe('Failed: ffmpeg exited with code 1');
    expect(replayStateText('failed', null)).toBe('Failed');
    expect(replayStateText('ready', 'disk full')).toBeNull();
  });
  it('formats a date, or nothing when it cannot be parsed', () => {
    expect(formatDateTime('2025-01-05T15:04:00.000Z', 'en-US')).toMatch(/2025/);
    expect(formatDateTime('garbage')).toBe('');
  });
});
