import { FlowProducer, Queue } from 'bullmq';
import type { Config } from '../../common/config.ts';
import { freeMb } from '../../common/disk.ts';
import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { RedisRpc, redisConnection } from '../../common/redisRpc.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import { QUEUES, finalizeJobId, recordJobId, type FinalizeJob, type RecordJob } from '../../common/jobs/queues.ts';
import type { ReplayResult } from '../../common/jobs/results.ts';
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
}

/** Redis calls made while a user waits (going live) give up after this long. */
const REDIS_TIMEOUT_MS = 5000;
/** A tap without a heartbeat from its recorder for this long is closed. */
const TAP_LEASE_MS = 10_000;
/** With one kind of track only, wait this long for the other before recording anyway. */
const SECOND_TRACK_WAIT_MS = 3000;

/**
 * The signalling side of recording: checks disk space before a broadcast goes live, starts
 * its recording as one BullMQ flow (the `finalize` job the parent, the `record` job its
 * child: finalize runs once the recorder is done, see broadcastStarted), serves the
 * recording tap from the SFU, and applies the recording and replay results the workers
 * report (routed here by signaling/results/WorkerResults.ts) to the database and the clients.
 */
export class RecordingService {
  readonly #o: RecordingServiceOptions;
  readonly #log: Logger;
  readonly #rpc: RedisRpc;
  readonly #record: Queue<RecordJob>;
  readonly #finalize: Queue<FinalizeJob>;
  readonly #flows: FlowProducer;
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
    this.#flows = new FlowProducer({ connection, prefix });
    for (const q of [this.#record, this.#finalize]) q.on('error', (err) => this.#log.warn({ err }, 'queue error'));
    this.#flows.on('error', (err) => this.#log.warn({ err }, 'flow producer error'));
  }

  /** Connects to Redis, serves the tap, and enqueues finalize for replays a crash left unfinished. */
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

  /**
   * The broadcast is on air: its replay is 'recording' and its recording starts, as one
   * BullMQ flow added atomically: the `finalize` job waits (state 'waiting-children') until
   * its child, the `record` job, is done, which is when the recorder has stored its last
   * segment after the broadcast ended. No polling, and a record job handed over on SIGTERM or
   * taken over after a crash stays the same child. When the record job fails for good, its
   * finalize runs anyway (`ignoreDependencyOnFailure`): the segments stored before the failure
   * still make a replay, and with none the replay fails with the recorder's reason
   * (workers/processors/finalize.ts). Not `failParentOnFailure`: it fails finalize without
   * running its processor (BullMQ marks the parent failed when a worker next fetches it), so
   * the segments stored before the failure would never become a replay.
   */
  async broadcastStarted(id: BroadcastId): Promise<void> {
    await this.#o.stores.replays.begin(id);
    const data = { broadcastId: id };
    await withTimeout(
      this.#flows.add({
        name: 'finalize',
        queueName: QUEUES.finalize,
        data,
        opts: jobOptions(finalizeJobId(id), 5, 2000),
        children: [{ name: 'record', queueName: QUEUES.record, data, opts: { ...jobOptions(recordJobId(id), 20, 1000), ignoreDependencyOnFailure: true } }],
      }),
      'start the recording',
    );
  }

  /**
   * The broadcast ended: the recorder stops, its record job completes, and then the finalize
   * job (the flow's parent) turns the segments into the replay.
   */
  async broadcastEnded(id: BroadcastId): Promise<void> {
    this.#tapServer?.broadcastEnded(id);
    try {
      await this.#o.stores.replays.markProcessing(id);
      // A no-op when the flow's finalize job exists (the usual case); enqueued alone when Redis lost it.
      await this.#enqueueFinalize(id);
    } catch (err) {
      // Picked up again at the next start (see #finishLeftovers).
      this.#log.error({ err, broadcastId: id }, 'could not enqueue the finalize job');
      return;
    }
    await this.#promoteRecorder(id).catch((err: unknown) => this.#log.warn({ err, broadcastId: id }, 'could not promote a delayed record job (it runs after its backoff)'));
  }

  broadcastMoved(id: BroadcastId): void {
    this.#tapServer?.broadcastMoved(id);
  }

  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      this.#tapServer?.close();
      await Promise.allSettled([this.#flows.close(), this.#record.close(), this.#finalize.close()]);
      await this.#rpc.close();
    })());
  }

  async #enqueueFinalize(id: BroadcastId): Promise<void> {
    await withTimeout(
      this.#finalize.add('finalize', { broadcastId: id }, jobOptions(finalizeJobId(id), 5, 2000)),
      'enqueue the finalize job',
    );
  }

  /**
   * A record job waiting out a retry's backoff (up to minutes after many failures) would hold
   * its finalize back that long: it runs now, finds the broadcast over and completes.
   */
  async #promoteRecorder(id: BroadcastId): Promise<void> {
    const job = await withTimeout(this.#record.getJob(recordJobId(id)), 'look up the record job');
    if (job && (await job.isDelayed())) await job.promote();
  }

  /**
   * Replays whose broadcast ended while nothing made sure of their finalize job (a crash of
   * this process, or Redis restarted without its data): enqueue it now. Where the flow's
   * finalize job still exists this is a no-op (same job id) and the flow runs as planned;
   * where Redis lost it, the record job is gone too and finalize runs at once.
   */
  async #finishLeftovers(): Promise<void> {
    for (const r of await this.#o.stores.replays.listUnfinished()) {
      await this.#o.stores.replays.markProcessing(r.broadcastId);
      await this.#enqueueFinalize(r.broadcastId);
      this.#log.info({ broadcastId: r.broadcastId }, 'enqueued finalize for a replay left unfinished');
    }
  }

  /** Applies a recording or replay result of the workers (validated and routed by WorkerResults). */
  async applyResult(r: ReplayResult): Promise<void> {
    const replays = this.#o.stores.replays;
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
