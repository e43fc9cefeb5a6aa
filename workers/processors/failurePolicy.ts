import { DelayedError, UnrecoverableError, WaitingError, type Job, type Worker } from 'bullmq';
import type { Logger } from '../../common/logger.ts';
import type { ResultJob } from '../../common/jobs/results.ts';

/**
 * The one failure policy of the workers process, for every queue:
 * - `permanent`: retrying cannot help (bad job data, no media, disk full). The job fails now
 *   and its owner is told the error's message, which is written for people.
 * - `transient`: anything else. BullMQ retries with the queue's backoff; when the last attempt
 *   fails, the owner is told, with the processor's own wording.
 * The report goes out inside the processor, before BullMQ records the failure, so a process
 * that dies in between retries the job instead of losing the report. Failures that never pass
 * through a processor (a job stalled past its limit) are reported from the `failed` event.
 */
export type FailureKind = 'permanent' | 'transient';

/** What a processor throws when retrying cannot help; `message` is what its owner reads. */
export class PermanentJobError extends UnrecoverableError {
  override readonly name = 'UnrecoverableError';
}

export function classify(err: unknown): FailureKind {
  // BullMQ itself throws UnrecoverableError (e.g. stalled past the limit); it names its class.
  return err instanceof UnrecoverableError || (err instanceof Error && err.name === 'UnrecoverableError') ? 'permanent' : 'transient';
}

/** BullMQ's control flow (a job moved back to wait or delayed): not failures. */
function isMove(err: unknown): boolean {
  return err instanceof WaitingError || err instanceof DelayedError;
}

/** The result a processor sends its owner when a job fails for good, or null when there is none to tell. */
export type FailureReport<D> = (job: Job<D>, err: Error, kind: FailureKind) => ResultJob | null;

export interface FailurePolicyDeps {
  report: (r: ResultJob) => Promise<void>;
  logger: Logger;
}

/**
 * Wraps a processor with the policy: a failure that is final (permanent, or the last attempt)
 * is reported to the job's owner once, then rethrown for BullMQ.
 */
export function withFailurePolicy<D, R>(
  process: (job: Job<D>, token?: string) => Promise<R>,
  failureReport: FailureReport<D>,
  deps: FailurePolicyDeps,
  reported: WeakSet<object>,
): (job: Job<D>, token?: string) => Promise<R> {
  return async (job, token) => {
    try {
      return await process(job, token);
    } catch (err) {
      if (isMove(err) || !(err instanceof Error)) throw err;
      const kind = classify(err);
      const last = kind === 'permanent' || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (last) {
        await sendReport(job, err, kind, failureReport, deps);
        reported.add(err);
      }
      throw err;
    }
  };
}

/** Logs every failed attempt of `worker`'s jobs, and reports final failures the processor did not see. */
export function watchFailures<D>(worker: Worker<D>, failureReport: FailureReport<D>, deps: FailurePolicyDeps, reported: WeakSet<object>): void {
  worker.on('failed', (job, err) => {
    if (!job) return;
    const kind = classify(err);
    const log = { err, queue: worker.name, jobId: job.id, attemptsMade: job.attemptsMade, kind };
    if (kind === 'permanent') deps.logger.warn(log, 'job failed for good');
    else deps.logger.error(log, 'job attempt failed');
    const last = kind === 'permanent' || job.attemptsMade >= (job.opts.attempts ?? 1);
    if (last && !reported.has(err)) void sendReport(job, err, kind, failureReport, deps);
  });
}

async function sendReport<D>(job: Job<D>, err: Error, kind: FailureKind, failureReport: FailureReport<D>, deps: FailurePolicyDeps): Promise<void> {
  const result = failureReport(job, err, kind);
  if (!result) return;
  await deps.report(result).catch((e: unknown) => deps.logger.error({ err: e, jobId: job.id }, 'could not report a failed job'));
}

/** Parses job data; bad data is a permanent failure. */
export function parseOrPermanent<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: Error } }, data: unknown): T {
  const r = schema.safeParse(data);
  if (!r.success) throw new PermanentJobError(`invalid job data: ${r.error.message}`);
  return r.data;
}
