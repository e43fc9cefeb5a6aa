import { describe, expect, it } from 'vitest';
import { SETTLE_TTLS } from '../../../common/cluster/NodeRegistry.ts';
import { RedisAbsence } from '../../../signaling/cluster/RedisAbsence.ts';

describe('RedisAbsence', () => {
  const ttlMs = 1000;

  it('does not settle before Redis was ever away', () => {
    expect(new RedisAbsence(ttlMs).settling(5)).toBe(false);
  });

  it('settles for SETTLE_TTLS of the TTL after the last outage seen, whoever saw it', () => {
    const absence = new RedisAbsence(ttlMs);
    const t0 = 1_000_000;
    absence.markAway(t0);
    expect(absence.settling(t0)).toBe(true);
    expect(absence.settling(t0 + SETTLE_TTLS * ttlMs - 1)).toBe(true);
    expect(absence.settling(t0 + SETTLE_TTLS * ttlMs)).toBe(false);
    // A later failure (another judge's request) starts the settling again.
    absence.markAway(t0 + 5000);
    expect(absence.settling(t0 + 5000 + SETTLE_TTLS * ttlMs - 1)).toBe(true);
  });
});
