import { describe, expect, it } from 'vitest';
import { BusyError, ConcurrencyLimit } from '../../../signaling/throttle/ConcurrencyLimit.ts';

describe('ConcurrencyLimit', () => {
  it('runs at most `concurrency` tasks, queues up to `maxQueue`, refuses the rest at once', async () => {
    const limit = new ConcurrencyLimit({ concurrency: 2, maxQueue: 3, busyMessage: 'busy' });
    let running = 0;
    let peak = 0;
    const gates: Array<() => void> = [];
    const task = () =>
      limit.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((r) => gates.push(r));
        running--;
        return 'done';
      });
    const results = Array.from({ length: 8 }, () => task().then((v) => v, (e: unknown) => e));
    await Promise.resolve();
    expect(limit.running).toBe(2);
    expect(limit.queued).toBe(3);
    // Release tasks one at a time until all five accepted ones finished.
    while (gates.length > 0 || limit.running > 0) {
      gates.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    const settled = await Promise.all(results);
    expect(settled.filter((r) => r === 'done')).toHaveLength(5);
    expect(settled.filter((r) => r instanceof BusyError)).toHaveLength(3);
    expect(peak).toBe(2);
    expect(limit.running).toBe(0);
    expect(limit.queued).toBe(0);
  });

  it('frees the slot when a task throws', async () => {
    const limit = new ConcurrencyLimit({ concurrency: 1, maxQueue: 0, busyMessage: 'busy' });
    await expect(limit.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(limit.run(() => Promise.resolve(1))).resolves.toBe(1);
  });
});
