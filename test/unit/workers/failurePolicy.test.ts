import { DelayedError, UnrecoverableError, WaitingError, type Job } from 'bullmq';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ResultJob } from '../../../common/jobs/results.ts';
import { PermanentJobError, classify, withFailurePolicy, type FailureReport } from '../../../workers/processors/failurePolicy.ts';

type Data = { broadcastId: string };
const job = (attemptsMade: number, attempts: number): Job<Data> => ({ id: 'j1', data: { broadcastId: 'b_1' }, attemptsMade, opts: { attempts } }) as unknown as Job<Data>;
const failureReport: FailureReport<Data> = (j, err, kind) => ({ type: 'replay', broadcastId: j.data.broadcastId, state: 'failed', reason: `${kind}: ${err.message}` }) as ResultJob;

function wrap(fail: () => unknown) {
  const reports: ResultJob[] = [];
  const reported = new WeakSet<object>();
  // eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- the processor under test returns nothing (Promise<void>)
  const run = withFailurePolicy<Data, void>(
    async () => {
      throw fail();
    },
    failureReport,
    { report: async (r) => void reports.push(r), logger: pino({ level: 'silent' }) },
    reported,
  );
  return { run, reports, reported };
}

describe('the workers failure policy', () => {
  it('classifies UnrecoverableError (ours, BullMQ’s, or by name) as permanent, anything else as transient', () => {
    expect(classify(new PermanentJobError('x'))).toBe('permanent');
    expect(classify(new UnrecoverableError('x'))).toBe('permanent');
    expect(classify(Object.assign(new Error('x'), { name: 'UnrecoverableError' }))).toBe('permanent');
    expect(classify(new Error('ENOSPC'))).toBe('transient');
  });

  it('reports a permanent failure at once, with its own message, and rethrows it', async () => {
    const err = new PermanentJobError('no media was recorded');
    const { run, reports, reported } = wrap(() => err);
    await expect(run(job(0, 5))).rejects.toBe(err);
    expect(reports).toEqual([{ type: 'replay', broadcastId: 'b_1', state: 'failed', reason: 'permanent: no media was recorded' }]);
    expect(reported.has(err)).toBe(true);
  });

  it('reports a transient failure only on the last attempt', async () => {
    const early = wrap(() => new Error('ffmpeg died'));
    await expect(early.run(job(3, 5))).rejects.toThrow('ffmpeg died');
    expect(early.reports).toEqual([]);
    const last = wrap(() => new Error('ffmpeg died'));
    await expect(last.run(job(4, 5))).rejects.toThrow('ffmpeg died');
    expect(last.reports.map((r) => (r as { reason: string }).reason)).toEqual(['transient: ffmpeg died']);
  });

  it('does not count a job moved back to wait or delayed as a failure', async () => {
    for (const move of [new WaitingError(), new DelayedError()]) {
      const { run, reports } = wrap(() => move);
      await expect(run(job(0, 1))).rejects.toBe(move);
      expect(reports).toEqual([]);
    }
  });
});
