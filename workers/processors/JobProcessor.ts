import type { Job, WorkerOptions } from 'bullmq';
import type { FailureReport } from './failurePolicy.ts';

/** One queue's processor, as startWorkers composes it into a BullMQ Worker. */
export interface JobProcessor<D, R = unknown> {
  readonly queue: string;
  readonly process: (job: Job<D>, token?: string) => Promise<R>;
  /** What the job's owner is told when the job fails for good (failurePolicy.ts). */
  readonly failureReport: FailureReport<D>;
  /** The queue's own worker options (concurrency, lock, stalls); connection and prefix are added. */
  readonly options: Partial<WorkerOptions>;
}
