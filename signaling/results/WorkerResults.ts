import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Config } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';
import { redisConnection } from '../../common/redisRpc.ts';
import { QUEUES } from '../../common/jobs/queues.ts';
import { ResultJobSchema, type ArchiveResult, type ReplayResult, type ResultJob } from '../../common/jobs/results.ts';

/** Where each kind of result goes: every domain sees only its own. */
export interface ResultRoutes {
  /** Recording state and replay outputs: the recording/replay domain (RecordingService). */
  replay: (r: ReplayResult) => Promise<void>;
  /** Archive progress and outcomes: the archive domain (ArchiveService). */
  archive: (r: ArchiveResult) => Promise<void>;
}

export interface WorkerResultsOptions {
  config: Pick<Config, 'redisUrl' | 'queuePrefix'>;
  routes: ResultRoutes;
  logger: Logger;
}

/**
 * The one consumer of the `results` queue (workers → signalling, durable): validates each
 * result (zod) and routes it by `type` to the domain that wants it, so the replay domain
 * and the archive domain never hear of each other's results. One at a time (concurrency 1):
 * a replay's 'preview' is applied before its 'ready'. A result that cannot be applied is
 * retried by BullMQ (the worker's `attempts`); one that does not parse fails at once.
 */
export class WorkerResults {
  readonly #worker: Worker<ResultJob>;
  readonly #o: WorkerResultsOptions;
  #closing: Promise<void> | undefined;

  constructor(o: WorkerResultsOptions) {
    this.#o = o;
    this.#worker = new Worker<ResultJob>(QUEUES.results, (job) => this.#route(job), {
      connection: redisConnection(o.config.redisUrl),
      prefix: o.config.queuePrefix,
      concurrency: 1,
      autorun: false,
    });
    this.#worker.on('failed', (job, err) => o.logger.error({ err, jobId: job?.id }, 'could not apply a worker result'));
    this.#worker.on('error', (err) => o.logger.warn({ err }, 'results worker error'));
  }

  /** Starts consuming; call once every route's domain is ready. */
  start(): void {
    void this.#worker.run().catch((err: unknown) => this.#o.logger.error({ err }, 'results worker stopped'));
  }

  close(): Promise<void> {
    return (this.#closing ??= this.#worker.close());
  }

  async #route(job: Job<ResultJob>): Promise<void> {
    const parsed = ResultJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid result: ${parsed.error.message}`);
    const r = parsed.data;
    if (r.type === 'archive') await this.#o.routes.archive(r);
    else await this.#o.routes.replay(r);
  }
}
