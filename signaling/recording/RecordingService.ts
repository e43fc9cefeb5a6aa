import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Config } from '../../common/config.ts';
import { freeMb } from '../../common/disk.ts';
import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { RedisRpc, redisConnection } from '../../common/redisRpc.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import { QUEUES, finalizeJobId, recordJobId, type FinalizeJob, type RecordJob } from '../../common/jobs/queues.ts';
import { ResultJobSchema, type ResultJob } from '../../common/jobs/results.ts';
import type { Stores } from '../store/index.ts';
import { TapServer, type TapSource } from './TapServer.ts';

/** What the recording service needs of the live domain. */
export interface LiveHooks {
  lookup(id: BroadcastId): TapSource | undefined;
  notifyRecording(id: BroadcastId, state: 'recording' | 'stopped', reason: string | null): void;
}

export interface RecordingServiceOptions {
  config: Pick<Config, 'dataDir' | 'redisUrl' | 'queuePrefix' | 'recording'>;
  stores: Stores;
  logger: Logger;
  /** Where archive results (the same `results` queue) go: the archive domain. */
  archiveResults: (r: Extract<ResultJob, { type: 'archive' }>) => Promise<void>;
}

/** Redis calls made while a user waits (going live) give up after this long. */
const REDIS_TIMEOUT_MS = 5000;
/** A tap without a heartbeat from its recorder for this long is closed. */
const TAP_LEASE_MS = 10_000;
/** With one kind of track only, wait this long for the other before recording anyway. */
const SECOND_TRACK_WAIT_MS = 3000;

/**
 * The signalling side of recording: checks disk space before a broadcast goes live, starts
 * its `record` job, serves the recording tap from the SFU, enqueues `finalize` when it ends,
 * and applies the workers' results (the `results` queue) to the database and the clients.
 */
export class RecordingService {
  readonly #o: RecordingServiceOptions;
  readonly #log: Logger;
  readonly #rpc: RedisRpc;
  readonly #record: Queue<RecordJob>;
  readonly #finalize: Queue<FinalizeJob>;
  readonly #results: Worker<ResultJob>;
  #tapServer: TapServer | undefined;
  #live: LiveHooks | undefined;
  #closing: Promise<void> | undefined;

  private constructor(o: RecordingServiceOptions) {
    this.#o = o;
    this.#log = o.logger;
    this.#rpc = new RedisRpc(o.config.redisUrl, o.logger.child({ component: 'rpc' }));
    const prefix = o.config.queuePrefix;
    const connection = redisConnection(o.config.redisUrl);
    this.#record = new Queue<RecordJob>(QUEUES.record, { connection, prefix });
    this.#finalize = new Queue<FinalizeJob>(QUEUES.finalize, { connection, prefix });
    this.#results = new Worker<ResultJob>(QUEUES.results, (job) => this.#applyResult(job), {
      connection: redisConnection(o.config.redisUrl),
      prefix,
      concurrency: 1,
      autorun: false,
    });
    this.#results.on('failed', (job, err) => this.#log.error({ err, jobId: job?.id }, 'could not apply a worker result'));
    for (const q of [this.#record, this.#finalize]) q.on('error', (err) => this.#log.warn({ err }, 'queue error'));
    this.#results.on('error', (err) => this.#log.warn({ err }, 'results worker error'));
  }

  /** Connects to Redis, serves the tap, and applies the workers' results. */
  static async start(o: RecordingServiceOptions, live: LiveHooks): Promise<RecordingService> {
    const service = new RecordingService(o);
    service.#live = live;
    try {
      await withTimeout(service.#rpc.ready(), 'connect to Redis');
      service.#tapServer = new TapServer({
        rpc: service.#rpc,
        queuePrefix: o.config.queuePrefix,
        logger: o.logger.child({ component: 'tap' }),
        lookup: (id) => live.lookup(id),
        isOver: async (id) => {
          const b = await o.stores.broadcasts.get(id);
          return !b || b.status === 'ended';
        },
        keyframeIntervalMs: o.config.recording.keyframeIntervalMs,
        leaseMs: TAP_LEASE_MS,
        secondTrackWaitMs: SECOND_TRACK_WAIT_MS,
      });
      await service.#tapServer.start();
      void service.#results.run().catch((err: unknown) => service.#log.error({ err }, 'results worker stopped'));
      await service.#finishLeftovers();
    } catch (err) {
      await service.close();
      throw err;
    }
    return service;
  }

  /** The queues, for the admin dashboard. */
  get queues(): Queue[] {
    return [this.#record, this.#finalize] as Queue[];
  }

  /**
   * Refuses to go live when the recording would not fit: less free disk space than
   * `recording.minFreeMb` under the data directory.
   */
  async assertCanRecord(): Promise<void> {
    const { minFreeMb } = this.#o.config.recording;
    const free = await freeMb(this.#o.config.dataDir);
    if (free < minFreeMb) {
      throw new AppError(
        'INSUFFICIENT_STORAGE',
        `not enough free disk space to record: ${Math.floor(free)} MiB free, ${minFreeMb} MiB required`,
      );
    }
  }

  /** The broadcast is on air: its replay is 'recording' and its record job starts. */
  async broadcastStarted(id: BroadcastId): Promise<void> {
    await this.#o.stores.replays.begin(id);
    await withTimeout(
      this.#record.add('record', { broadcastId: id }, jobOptions(recordJobId(id), 20, 1000)),
      'start the recording',
    );
  }

  /** The broadcast ended: the recorder stops and the finalize job turns the segments into the replay. */
  async broadcastEnded(id: BroadcastId): Promise<void> {
    this.#tapServer?.broadcastEnded(id);
    try {
      await this.#o.stores.replays.markProcessing(id);
      await this.#enqueueFinalize(id);
    } catch (err) {
      // Picked up again at the next start (see #finishLeftovers).
      this.#log.error({ err, broadcastId: id }, 'could not enqueue the finalize job');
    }
  }

  broadcastMoved(id: BroadcastId): void {
    this.#tapServer?.broadcastMoved(id);
  }

  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      this.#tapServer?.close();
      await Promise.allSettled([this.#results.close(), this.#record.close(), this.#finalize.close()]);
      await this.#rpc.close();
    })());
  }

  async #enqueueFinalize(id: BroadcastId): Promise<void> {
    await withTimeout(
      this.#finalize.add('finalize', { broadcastId: id }, jobOptions(finalizeJobId(id), 5, 2000)),
      'enqueue the finalize job',
    );
  }

  /** Replays whose broadcast ended while nothing enqueued their finalize job (a crash): enqueue it now. */
  async #finishLeftovers(): Promise<void> {
    for (const r of await this.#o.stores.replays.listUnfinished()) {
      await this.#o.stores.replays.markProcessing(r.broadcastId);
      await this.#enqueueFinalize(r.broadcastId);
      this.#log.info({ broadcastId: r.broadcastId }, 'enqueued finalize for a replay left unfinished');
    }
  }

  async #applyResult(job: Job<ResultJob>): Promise<void> {
    const parsed = ResultJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid result: ${parsed.error.message}`);
    const r = parsed.data;
    const replays = this.#o.stores.replays;
    if (r.type === 'archive') {
      await this.#o.archiveResults(r);
      return;
    }
    if (r.type === 'recording') {
      if (r.state === 'stopped' && r.reason !== null) await replays.noteStopped(r.broadcastId, r.reason);
      this.#live?.notifyRecording(r.broadcastId, r.state === 'started' ? 'recording' : 'stopped', r.reason);
    } else {
      const applied = r.state === 'failed' ? await replays.markFailed(r.broadcastId, r.reason) : await replays.applyOutput(r.broadcastId, r.state, r.output);
      // A replay deleted while its finalize job ran: what the job wrote is removed again (ReplayRemoval's sweep).
      if (!applied && (await replays.markUnpurged(r.broadcastId))) this.#log.info({ broadcastId: r.broadcastId }, 'a worker wrote files of a deleted replay: removed again');
    }
    this.#log.info({ broadcastId: r.broadcastId, type: r.type, state: r.state }, 'applied a worker result');
  }
}

/** Idempotent (deterministic id), retried with exponential backoff; kept a week when done, a month when failed (for the dashboard). */
function jobOptions(jobId: string, attempts: number, backoffMs: number) {
  return {
    jobId,
    attempts,
    backoff: { type: 'exponential', delay: backoffMs },
    removeOnComplete: { age: 7 * 24 * 3600 },
    removeOnFail: { age: 30 * 24 * 3600 },
  };
}

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AppError('UNAVAILABLE', `could not ${what}: the job queue (Redis) does not answer`)), REDIS_TIMEOUT_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
