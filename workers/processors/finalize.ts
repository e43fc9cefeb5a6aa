import { DelayedError, type Job, type Queue } from 'bullmq';
import type { Logger } from '../../common/logger.ts';
import { FinalizeJobSchema, QUEUES, recordJobId, type FinalizeJob, type RecordJob } from '../../common/jobs/queues.ts';
import type { ResultJob } from '../../common/jobs/results.ts';
import type { Storage } from '../../common/storage/Storage.ts';
import { recordingPrefix, replayPrefix } from '../../common/storage/storageKeys.ts';
import { NoMediaError, assembleReplay } from '../media/assemble.ts';
import { PermanentJobError, parseOrPermanent, type FailureReport } from './failurePolicy.ts';
import type { JobProcessor } from './JobProcessor.ts';

/** The finalize job waits for the record job to finish at most this long before assembling what exists. */
const FINALIZE_WAIT_FOR_RECORDER_MS = 60_000;
/** How often it looks again while the record job is still running. */
const FINALIZE_RECHECK_MS = 500;
/** States of a record job that may still write segments. */
const RECORDING_STATES = new Set(['active', 'waiting', 'delayed', 'prioritized', 'waiting-children']);

export interface FinalizeProcessorDeps {
  /** Where the recording's segments are (`recordings/<id>/`) and the replay goes (`replays/<id>/`). */
  storage: Storage;
  /** The record queue: finalize waits while the broadcast's record job may still write. */
  recordQueue: Queue<RecordJob>;
  concurrency: number;
  report: (r: ResultJob) => Promise<void>;
  logger: Logger;
}

/** The `finalize` queue: a broadcast's recorded segments → its replay (MP4, poster, timeline). */
export function createFinalizeProcessor(deps: FinalizeProcessorDeps): JobProcessor<FinalizeJob> {
  const process = async (job: Job<FinalizeJob>, token?: string): Promise<void> => {
    const { broadcastId } = parseOrPermanent(FinalizeJobSchema, job.data);
    // The recorder writes its last segment after the broadcast ends: wait for it.
    const recordJob = await deps.recordQueue.getJob(recordJobId(broadcastId));
    const recordState = recordJob ? await recordJob.getState() : 'unknown';
    if (RECORDING_STATES.has(recordState) && Date.now() - job.timestamp < FINALIZE_WAIT_FOR_RECORDER_MS && token) {
      await job.moveToDelayed(Date.now() + FINALIZE_RECHECK_MS, token);
      throw new DelayedError();
    }
    // The segments as a local directory (on local disk the recording itself; else downloaded:
    // any workers host can finalize). The replay is written locally and stored (on local disk: in place).
    const recording = await deps.storage.localDir(recordingPrefix(broadcastId));
    const replay = await deps.storage.localDir(replayPrefix(broadcastId)).catch(async (err: unknown) => {
      await recording.release();
      throw err;
    });
    const log = deps.logger.child({ broadcastId });
    const started = Date.now();
    try {
      const output = await assembleReplay({
        recordingDir: recording.path,
        replayDir: replay.path,
        onPreview: async (preview) => {
          await replay.commit();
          log.info({ ms: Date.now() - started, durationMs: preview.durationMs }, 'replay preview ready');
          await deps.report({ type: 'replay', broadcastId, state: 'preview', output: preview });
        },
        // 'copy': an H.264 broadcast, remuxed; 'transcode': VP8 (or mixed) re-encoded.
        onMp4: ({ video, ms }) => log.info({ mp4Video: video, ms: Date.now() - started, mp4Ms: ms }, 'replay mp4 written'),
      });
      await replay.commit();
      await deps.report({ type: 'replay', broadcastId, state: 'ready', output });
      log.info({ ms: Date.now() - started, durationMs: output.durationMs, sizeBytes: output.mp4?.sizeBytes }, 'replay ready');
      // The replay holds every recorded frame now; the segments are no longer needed.
      await deps.storage.deletePrefix(recordingPrefix(broadcastId));
    } catch (err) {
      if (err instanceof NoMediaError) {
        throw new PermanentJobError(recordJob?.failedReason ? `${err.message} (${recordJob.failedReason})` : err.message);
      }
      throw err;
    } finally {
      await replay.release();
      await recording.release();
    }
  };
  const failureReport: FailureReport<FinalizeJob> = (job, err, kind) => {
    const parsed = FinalizeJobSchema.safeParse(job.data);
    if (!parsed.success) return null;
    const reason = kind === 'permanent' ? err.message : `Processing failed after ${job.opts.attempts ?? 1} attempts: ${err.message}`;
    return { type: 'replay', broadcastId: parsed.data.broadcastId, state: 'failed', reason: reason.slice(0, 500) };
  };
  // Transcodes keep the event loop free, so the lock renews; 60 s leaves room for slow disks.
  return { queue: QUEUES.finalize, process, failureReport, options: { concurrency: deps.concurrency, lockDuration: 60_000 } };
}
