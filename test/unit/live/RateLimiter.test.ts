import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../signaling/live/RateLimiter.ts';

describe('RateLimiter', () => {
  it('allows a burst, refuses the next, and refills over the window', () => {
    let now = 0;
    const rl = new RateLimiter(5, 10_000, () => now);
    for (let i = 0; i < 5; i++) expect(rl.take('a')).toBe(true);
    expect(rl.take('a')).toBe(false);
    now += 1_999;
    expect(rl.take('a')).toBe(false);
    now += 1; // 2 s = one token at 5 per 10 s
    expect(rl.take('a')).toBe(true);
    expect(rl.take('a')).toBe(false);
  });

  it('keeps keys apart', () => {
    const rl = new RateLimiter(1, 1000, () => 0);
    expect(rl.take('a')).toBe(true);
    expect(rl.take('a')).toBe(false);
    expect(rl.take('b')).toBe(true);
  });

  it('forgets keys by prefix and holds no memory for idle keys', () => {
    let now = 0;
    const rl = new RateLimiter(2, 1000, () => now);
    rl.take('b1:u1');
    rl.take('b2:u1');
    expect(rl.size).toBe(2);
    rl.forget('b1:');
    expect(rl.size).toBe(1);
    now += 10_000;
    rl.take('b2:u1');
    rl.take('fresh');
    expect(rl.size).toBe(2);
  });
});
