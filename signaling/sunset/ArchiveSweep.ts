import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker, type Job } from 'bullmq';
import { z } from 'zod';
import type { Config } from '../../common/config.ts';
import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { UserIdSchema, type UserId } from '../../common/protocol/ids.ts';
import type { SunsetPhase } from '../../common/protocol/sunset.ts';
import { redisConnection } from '../../common/redisRpc.ts';
import { QUEUES } from '../../common/jobs/queues.ts';
import type { ArchiveService } from '../archive/ArchiveService.ts';
import type { Stores } from '../store/index.ts';
import type { SunsetService } from './SunsetService.ts';

/**
 * Sunset pre-generation (docs/sunset.md): once a shutdown is announced, every user's archive
 * is built in the background, one user at a time, so that nobody has to remember to ask.
 *
 * One durable `archive-sweep` job per user and announcement (`sweep-<announceMs>-<userId>`;
 * adding it twice is a no-op), processed by the signalling process with concurrency 1: it
 * asks the ArchiveService for a background archive (queued behind every archive a user asked
 * for, and written at a capped rate), waits until the workers have built it, then pauses
 * `archives.sweepGapSeconds` before the next user. The user is told like for any archive
 * (`archive:status` to their connections, the banner and /account when they come back).
 *
 * Resumable: the jobs live in Redis, and at every start (and every phase change) the users
 * who have no archive since the announcement are enqueued again — the database, not Redis,
 * says who is done. A cancelled or rescheduled sunset makes the old jobs no-ops.
 */

export const SweepJobSchema = z.strictObject({
  userId: UserIdSchema,
  /** The announcement this job belongs to (ISO); a job of another schedule does nothing. */
  announceAt: z.string(),
});
export type SweepJob = z.infer<typeof SweepJobSchema>;

export const sweepJobId = (announceAt: string, userId: string): string => `sweep-${Date.parse(announceAt)}-${userId}`;

/** Phases in which archives are pre-generated. */
const SWEEP_PHASES: ReadonlySet<SunsetPhase> = new Set(['announced', 'read-only', 'export-only']);

/** What a sweep job did, kept as its BullMQ return value (visible in /admin/queues). */
export type SweepOutcome =
  /** The user's archive was built. */
  | 'built'
  /** Requested, and still building when this process stopped: the archive job goes on in the workers. */
  | 'requested'
  | 'already-has-one'
  | 'no-such-user'
  | 'not-sweeping';

export interface ArchiveSweepOptions {
  config: Pick<Config, 'redisUrl' | 'queuePrefix' | 'archives'>;
  stores: Stores;
  archives: ArchiveService;
  sunset: SunsetService;
  logger: Logger;
  /** How long one user's archive may take before the job fails and is retried. Default 2 h. */
  buildTimeoutMs?: number;
  /** How often the archive's state is read while waiting. Default 500 ms. */
  pollMs?: number;
}

const PAGE = 500;

export class ArchiveSweep {
  readonly #o: ArchiveSweepOptions;
  readonly #log: Logger;
  readonly #queue: Queue<SweepJob>;
  readonly #worker: Worker<SweepJob, SweepOutcome>;
  readonly #stopListening: () => void;
  #enqueuing: Promise<number> | undefined;
  /** Aborted by close(): ends the wait for an archive and the pause between users. */
  readonly #closing = new AbortController();

  constructor(o: ArchiveSweepOptions) {
    this.#o = o;
    this.#log = o.logger;
    const prefix = o.config.queuePrefix;
    this.#queue = new Queue<SweepJob>(QUEUES.sweep, { connection: redisConnection(o.config.redisUrl), prefix });
    this.#queue.on('error', (err) => this.#log.warn({ err }, 'sweep queue error'));
    this.#worker = new Worker<SweepJob, SweepOutcome>(QUEUES.sweep, (job) => this.#process(job), {
      connection: redisConnection(o.config.redisUrl),
      prefix,
      concurrency: 1,
      // A user's archive can take minutes; the lock is renewed meanwhile.
      lockDuration: 30_000,
      autorun: false,
    });
    this.#worker.on('error', (err) => this.#log.warn({ err }, 'sweep worker error'));
    this.#worker.on('failed', (job, err) => this.#log.warn({ err, jobId: job?.id, attemptsMade: job?.attemptsMade }, 'sweep job failed'));
    this.#stopListening = o.sunset.onPhaseChange((phase) => {
      if (SWEEP_PHASES.has(phase)) this.#enqueueInBackground();
    });
  }

  get queue(): Queue {
    return this.#queue as Queue;
  }

  /** Starts processing, and enqueues whoever still needs an archive if a sunset is on. */
  start(): void {
    void this.#worker.run().catch((err: unknown) => this.#log.error({ err }, 'sweep worker stopped'));
    if (SWEEP_PHASES.has(this.#o.sunset.phase())) this.#enqueueInBackground();
  }

  /**
   * Enqueues a sweep job for every user without an archive (building or ready) made since
   * the announcement. Returns how many were added (0 when no sunset is announced).
   */
  enqueueMissing(): Promise<number> {
    // One pass at a time; a phase change during a pass is covered by that pass.
    this.#enqueuing ??= this.#enqueueMissing().finally(() => (this.#enqueuing = undefined));
    return this.#enqueuing;
  }

  async close(): Promise<void> {
    this.#closing.abort();
    this.#stopListening();
    await this.#enqueuing?.catch(() => undefined);
    await this.#worker.close();
    await this.#queue.close();
  }

  #enqueueInBackground(): void {
    this.enqueueMissing().then(
      (n) => n > 0 && this.#log.info({ users: n }, 'sunset: archives of these users will be built in the background'),
      (err: unknown) => this.#log.error({ err }, 'sunset: could not enqueue the archive sweep (retried at the next start or phase change)'),
    );
  }

  async #enqueueMissing(): Promise<number> {
    const schedule = this.#o.sunset.schedule;
    if (!schedule || !SWEEP_PHASES.has(this.#o.sunset.phase())) return 0;
    const announceAt = schedule.announceAt;
    let added = 0;
    let after: UserId | null = null;
    for (;;) {
      if (this.#closing.signal.aborted) break;
      const ids = await this.#o.stores.users.listIds(after, PAGE);
      if (ids.length === 0) break;
      // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- ids is not empty (checked above)
      after = ids[ids.length - 1]!;
      const missing: UserId[] = [];
      for (const id of ids) if (!(await this.#hasArchiveSince(id, announceAt))) missing.push(id);
      await this.#queue.addBulk(
        missing.map((userId) => ({
          name: 'sweep',
          data: { userId, announceAt },
          opts: {
            jobId: sweepJobId(announceAt, userId),
            attempts: 5,
            backoff: { type: 'exponential', delay: 30_000 },
            removeOnComplete: { age: 30 * 24 * 3600 },
            removeOnFail: { age: 30 * 24 * 3600 },
          },
        })),
      );
      added += missing.length;
    }
    return added;
  }

  async #hasArchiveSince(userId: UserId, announceAt: string): Promise<boolean> {
    const latest = await this.#o.stores.archives.latestForUser(userId);
    return latest !== undefined && latest.state !== 'failed' && Date.parse(latest.createdAt) >= Date.parse(announceAt);
  }

  async #process(job: Job<SweepJob, SweepOutcome>): Promise<SweepOutcome> {
    const parsed = SweepJobSchema.safeParse(job.data);
    if (!parsed.success) {
      this.#log.warn({ jobId: job.id }, 'sweep job with bad data dropped');
      return 'not-sweeping';
    }
    const { userId, announceAt } = parsed.data;
    const { sunset, stores, archives } = this.#o;
    // Cancelled, or rescheduled since this job was added: nothing to do.
    if (!SWEEP_PHASES.has(sunset.phase()) || sunset.schedule?.announceAt !== announceAt) return 'not-sweeping';
    if (await this.#hasArchiveSince(userId, announceAt)) return 'already-has-one';
    const user = await stores.users.findById(userId);
    if (!user) return 'no-such-user';

    let archiveId: string;
    try {
      archiveId = (await archives.request(user, { background: true })).id;
    } catch (err) {
      // The user asked for one themselves in the meantime: theirs counts.
      if (err instanceof AppError && err.code === 'ARCHIVE_IN_PROGRESS') return 'already-has-one';
      throw err;
    }
    if (!(await this.#waitUntilBuilt(archiveId, job))) return 'requested';
    const gapMs = this.#o.config.archives.sweepGapSeconds * 1000;
    if (gapMs > 0) await sleep(gapMs, undefined, { signal: this.#closing.signal }).catch(() => undefined);
    return 'built';
  }

  /**
   * Waits for the archive: true when it is ready, false when this process is stopping first
   * (its archive job is durable and goes on); throws (so BullMQ retries the user later) when
   * the build failed or took too long.
   */
  async #waitUntilBuilt(archiveId: string, job: Job): Promise<boolean> {
    const deadline = Date.now() + (this.#o.buildTimeoutMs ?? 2 * 3600 * 1000);
    const pollMs = this.#o.pollMs ?? 500;
    for (;;) {
      const record = await this.#o.stores.archives.get(archiveId);
      if (!record) throw new Error(`archive ${archiveId} vanished`);
      if (record.state === 'ready') return true;
      if (record.state === 'failed') throw new Error(`archive ${archiveId} failed: ${record.reason ?? 'no reason given'}`);
      if (Date.now() > deadline) throw new Error(`archive ${archiveId} was not built in time`);
      await job.updateProgress(record.percent);
      const stopping = await sleep(pollMs, false, { signal: this.#closing.signal }).catch(() => true);
      if (stopping) return false;
    }
  }
}
