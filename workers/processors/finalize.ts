import type { Job } from 'bullmq';
import type { Logger } from '../../common/logger.ts';
import { FinalizeJobSchema, QUEUES, type FinalizeJob } from '../../common/jobs/queues.ts';
import type { ResultJob } from '../../common/jobs/results.ts';
import type { Storage } from '../../common/storage/Storage.ts';
import { recordingPrefix, replayPrefix } from '../../common/storage/storageKeys.ts';
import { NoMediaError, assembleReplay } from '../media/assemble.ts';
import { PermanentJobError, parseOrPermanent, type FailureReport } from './failurePolicy.ts';
import type { JobProcessor } from './JobProcessor.ts';

export interface FinalizeProcessorDeps {
  /** Where the recording's segments are (`recordings/<id>/`) and the replay goes (`replays/<id>/`). */
  storage: Storage;
  concurrency: number;
  report: (r: ResultJob) => Promise<void>;
  logger: Logger;
}

/**
 * The `finalize` queue: a broadcast's recorded segments → its replay (MP4, poster, timeline).
 * A finalize job is the parent of its broadcast's record job in one BullMQ flow
 * (signaling/recording/RecordingService.ts, broadcastStarted): BullMQ runs it only once the
 * record job is done, so the recorder's last segment is stored before it starts. A record
 * job that failed for good does not hold it back (`ignoreDependencyOnFailure`): it assembles
 * what was stored, and names the recorder's failure when there is nothing. A finalize job
 * enqueued alone (the start-up repair of a replay whose jobs Redis lost) runs at once.
 */
export function createFinalizeProcessor(deps: FinalizeProcessorDeps): JobProcessor<FinalizeJob> {
  const process = async (job: Job<FinalizeJob>): Promise<void> => {
    const { broadcastId } = parseOrPermanent(FinalizeJobSchema, job.data);
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
        onMp4: ({ video, audio, ms }) => log.info({ mp4Video: video, mp4Audio: audio, ms: Date.now() - started, mp4Ms: ms }, 'replay mp4 written'),
      });
      await replay.commit();
      await deps.report({ type: 'replay', broadcastId, state: 'ready', output });
      log.info({ ms: Date.now() - started, durationMs: output.durationMs, sizeBytes: output.mp4?.sizeBytes }, 'replay ready');
      // The replay holds every recorded frame now; the segments are no longer needed.
      await deps.storage.deletePrefix(recordingPrefix(broadcastId));
    } catch (err) {
      if (err instanceof NoMediaError) {
        const recorderFailed = Object.values(await job.getIgnoredChildrenFailures().catch(() => ({}))).join('; ');
        throw new PermanentJobError(recorderFailed ? `${err.message} (the recorder failed: ${recorderFailed})` : err.message);
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
