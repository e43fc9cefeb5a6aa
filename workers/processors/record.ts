import { WaitingError, type Job, type WorkerOptions } from 'bullmq';
import type { Config } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';
import type { RedisRpc } from '../../common/redisRpc.ts';
import { QUEUES, RecordJobSchema, type RecordJob } from '../../common/jobs/queues.ts';
import type { ResultJob } from '../../common/jobs/results.ts';
import type { Storage } from '../../common/storage/Storage.ts';
import type { RecorderStats } from '../record/RecorderStats.ts';
import { recordBroadcast, type RecordOutcome } from '../record/recordBroadcast.ts';
import type { TapEvents } from '../record/TapEvents.ts';
import { parseOrPermanent, type FailureReport } from './failurePolicy.ts';
import type { JobProcessor } from './JobProcessor.ts';

/**
 * The `record` queue: one job per live broadcast, running as long as the broadcast does
 * (hours). Why a multi-hour job holds a short lock and may stall a hundred times:
 * - the lock (4 s, renewed every 2 s by BullMQ while the event loop is free — ffmpeg does the
 *   work in its own process) is the failure detector. A workers process killed with -9 stops
 *   renewing; after at most 4 s + one 2 s stalled check another workers process takes the
 *   job over and starts a new recording run, so a crash costs seconds of the replay, not the
 *   broadcast (test/faults: "kill -9 workers process").
 * - every takeover counts as a stall; the broadcast must survive as many crashes as happen
 *   in its life, so the stalled count is high (100) and a stall is never a failure.
 * - a graceful stop (SIGTERM) hands the job back at once (moveToWait, not an attempt), so a
 *   deploy does not wait for the lock to lapse.
 * - it is the child of its broadcast's finalize job (one BullMQ flow, added when the broadcast
 *   goes live): a handed-over or taken-over job stays that child, and finalize runs when it
 *   completes (the broadcast ended and the last segment is stored) or fails for good.
 */
const RECORD_LOCK_MS = 4000;
const RECORD_STALLED_CHECK_MS = 2000;
const RECORD_MAX_STALLED = 100;

export interface RecordProcessorDeps {
  config: Pick<Config, 'dataDir' | 'recording'>;
  /** Where the segments go, each as soon as ffmpeg has finished it. */
  storage: Storage;
  rpc: RedisRpc;
  tapChannel: string;
  tapEvents: TapEvents;
  stats?: RecorderStats | undefined;
  report: (r: ResultJob) => Promise<void>;
  logger: Logger;
  /** Aborted when the process shuts down: running recordings stop and are handed back. */
  shutdown: AbortSignal;
}

export function createRecordProcessor(deps: RecordProcessorDeps): JobProcessor<RecordJob, RecordOutcome> {
  const process = async (job: Job<RecordJob>, token?: string): Promise<RecordOutcome> => {
    const { broadcastId } = parseOrPermanent(RecordJobSchema, job.data);
    const outcome = await recordBroadcast(broadcastId, {
      dataDir: deps.config.dataDir,
      storage: deps.storage,
      recording: deps.config.recording,
      rpc: deps.rpc,
      tapChannel: deps.tapChannel,
      tapEvents: deps.tapEvents,
      stats: deps.stats,
      report: deps.report,
      logger: deps.logger,
      shutdown: deps.shutdown,
    });
    if (outcome === 'handover' && token) {
      // Back to the queue at once for another workers process, without using up an attempt.
      await job.moveToWait(token);
      throw new WaitingError();
    }
    return outcome;
  };
  const failureReport: FailureReport<RecordJob> = (job, err) => {
    const parsed = RecordJobSchema.safeParse(job.data);
    if (!parsed.success) return null;
    return { type: 'recording', broadcastId: parsed.data.broadcastId, state: 'stopped', reason: `The recording failed: ${err.message}`.slice(0, 500) };
  };
  const options: Partial<WorkerOptions> = {
    concurrency: deps.config.recording.concurrency,
    lockDuration: RECORD_LOCK_MS,
    stalledInterval: RECORD_STALLED_CHECK_MS,
    maxStalledCount: RECORD_MAX_STALLED,
  };
  return { queue: QUEUES.record, process, failureReport, options };
}
