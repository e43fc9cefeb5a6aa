import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { DelayedError, Queue, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Config } from '../common/config.ts';
import type { Logger } from '../common/logger.ts';
import { RedisRpc, redisConnection } from '../common/redisRpc.ts';
import { LocalDiskStorage } from '../common/storage/LocalDiskStorage.ts';
import { ARCHIVE_INPUT_FILE, archiveKey, archivePrefix } from '../common/storage/storageKeys.ts';
import { ArchiveDiskFullError, buildArchive } from './archive/buildArchive.ts';
import { ArchiveJobSchema, FinalizeJobSchema, QUEUES, RecordJobSchema, recordJobId, type ArchiveJob, type FinalizeJob, type RecordJob } from '../common/jobs/queues.ts';
import type { ResultJob } from '../common/jobs/results.ts';
import { tapChannels } from '../common/jobs/tap.ts';
import { ArchiveInputSchema } from '../common/jobs/archiveInput.ts';
import { NoMediaError, assembleReplay } from './media/assemble.ts';
import { recordBroadcast, type RecordOutcome } from './record/recordBroadcast.ts';
import { TapEvents } from './record/TapEvents.ts';

export interface RunningWorkers {
  /** Graceful: recordings stop cleanly and are handed back to the queue; transcodes finish. Idempotent. */
  close(): Promise<void>;
}

/**
 * Record jobs hold their lock while they run; if this process dies (kill -9), the lock
 * expires after RECORD_LOCK_MS and another workers process takes the job over within a
 * stalled-check interval, so little media is lost.
 */
const RECORD_LOCK_MS = 4000;
const RECORD_STALLED_CHECK_MS = 2000;
/** Record jobs may be taken over this many times (crashes) before they fail. */
const RECORD_MAX_STALLED = 100;
/** The finalize job waits for the record job to finish at most this long before assembling what exists. */
const FINALIZE_WAIT_FOR_RECORDER_MS = 60_000;

/**
 * Starts the workers process's BullMQ workers: `record` (one long job per live broadcast)
 * and `finalize` (segments → replay). Results go back through the `results` queue.
 */
export async function startWorkers(config: Config, logger: Logger): Promise<RunningWorkers> {
  const prefix = config.queuePrefix;
  // The one-host default of the storage port: files under the data directory.
  const storage = new LocalDiskStorage(config.dataDir);
  const rpc = new RedisRpc(config.redisUrl, logger.child({ component: 'rpc' }));
  await rpc.ready();
  const tapEvents = await TapEvents.start(rpc, prefix);
  const results = new Queue<ResultJob>(QUEUES.results, { connection: redisConnection(config.redisUrl), prefix });
  const recordQueue = new Queue<RecordJob>(QUEUES.record, { connection: redisConnection(config.redisUrl), prefix });
  const report = async (r: ResultJob): Promise<void> => {
    await results.add(`${r.type}-${r.state}`, r, {
      attempts: 10,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: { age: 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
  };
  const shutdown = new AbortController();

  const recordWorker = new Worker<RecordJob, RecordOutcome>(
    QUEUES.record,
    async (job, token) => {
      const { broadcastId } = parseOrUnrecoverable(RecordJobSchema, job.data);
      const outcome = await recordBroadcast(broadcastId, {
        dataDir: config.dataDir,
        recording: config.recording,
        rpc,
        tapChannel: tapChannels(prefix).rpc,
        tapEvents,
        report,
        logger: logger.child({ component: 'record' }),
        shutdown: shutdown.signal,
      });
      if (outcome === 'handover' && token) {
        // Back to the queue at once for another workers process, without using up an attempt.
        await job.moveToWait(token);
        throw new WaitingError();
      }
      return outcome;
    },
    {
      connection: redisConnection(config.redisUrl),
      prefix,
      concurrency: config.recording.concurrency,
      lockDuration: RECORD_LOCK_MS,
      stalledInterval: RECORD_STALLED_CHECK_MS,
      maxStalledCount: RECORD_MAX_STALLED,
      autorun: false,
    },
  );
  recordWorker.on('failed', (job, err) => {
    if (!job) return;
    logger.error({ err, jobId: job.id, attemptsMade: job.attemptsMade }, 'record attempt failed');
    if (job.attemptsMade >= (job.opts.attempts ?? 1)) {
      const broadcastId = (job.data as Partial<RecordJob>).broadcastId;
      if (broadcastId) {
        void report({ type: 'recording', broadcastId, state: 'stopped', reason: `The recording failed: ${err.message}` }).catch(
          (e: unknown) => logger.error({ err: e }, 'could not report a failed recording'),
        );
      }
    }
  });

  const finalizeWorker = new Worker<FinalizeJob>(
    QUEUES.finalize,
    async (job, token) => {
      const { broadcastId } = parseOrUnrecoverable(FinalizeJobSchema, job.data);
      // The recorder writes its last segment after the broadcast ends: wait for it.
      const recordJob = await recordQueue.getJob(recordJobId(broadcastId));
      const recordState = recordJob ? await recordJob.getState() : 'unknown';
      const recording = ['active', 'waiting', 'delayed', 'prioritized', 'waiting-children'].includes(recordState);
      if (recording && Date.now() - job.timestamp < FINALIZE_WAIT_FOR_RECORDER_MS && token) {
        await job.moveToDelayed(Date.now() + 500, token);
        throw new DelayedError();
      }
      const recordingDir = path.join(config.dataDir, 'recordings', broadcastId);
      const replayDir = path.join(config.dataDir, 'replays', broadcastId);
      const log = logger.child({ component: 'finalize', broadcastId });
      const started = Date.now();
      try {
        const output = await assembleReplay({
          recordingDir,
          replayDir,
          onPreview: async (preview) => {
            log.info({ ms: Date.now() - started, durationMs: preview.durationMs }, 'replay preview ready');
            await report({ type: 'replay', broadcastId, state: 'preview', output: preview });
          },
        });
        await report({ type: 'replay', broadcastId, state: 'ready', output });
        log.info({ ms: Date.now() - started, durationMs: output.durationMs, sizeBytes: output.mp4?.sizeBytes }, 'replay ready');
        // The replay holds every recorded frame now; the segments are no longer needed.
        await rm(recordingDir, { recursive: true, force: true });
      } catch (err) {
        if (err instanceof NoMediaError) {
          const why = recordJob?.failedReason ? `${err.message} (${recordJob.failedReason})` : err.message;
          await report({ type: 'replay', broadcastId, state: 'failed', reason: why });
          throw new UnrecoverableError(why);
        }
        throw err;
      }
    },
    {
      connection: redisConnection(config.redisUrl),
      prefix,
      concurrency: config.recording.finalizeConcurrency,
      // Transcodes keep the event loop free, so the lock renews; 60 s leaves room for slow disks.
      lockDuration: 60_000,
      autorun: false,
    },
  );
  finalizeWorker.on('failed', (job, err) => {
    if (!job || err instanceof UnrecoverableError || err.name === 'UnrecoverableError') return;
    logger.error({ err, jobId: job.id, attemptsMade: job.attemptsMade }, 'finalize attempt failed');
    if (job.attemptsMade >= (job.opts.attempts ?? 1)) {
      void report({
        type: 'replay',
        broadcastId: job.data.broadcastId,
        state: 'failed',
        reason: `Processing failed after ${job.attemptsMade} attempts: ${err.message}`.slice(0, 500),
      }).catch((e: unknown) => logger.error({ err: e }, 'could not report a failed replay'));
    }
  });
  const archiveWorker = new Worker<ArchiveJob>(
    QUEUES.archive,
    async (job) => {
      const { archiveId, maxBytesPerSecond } = parseOrUnrecoverable(ArchiveJobSchema, job.data);
      const input = parseOrUnrecoverable(ArchiveInputSchema, JSON.parse((await storage.readFile(archiveKey(archiveId, ARCHIVE_INPUT_FILE))).toString('utf8')));
      const fileName = 'spyglass-archive.zip';
      let lastReport = 0;
      // The zip is written locally (partial file, fsync, rename) and stored on commit.
      const out = await storage.localDir(archivePrefix(archiveId));
      try {
        const built = await buildArchive({
          input,
          storage,
          outFile: path.join(out.path, fileName),
          ...(config.archives.maxMb > 0 ? { maxBytes: config.archives.maxMb * 1024 * 1024 } : {}),
          ...(maxBytesPerSecond ? { maxBytesPerSecond } : {}),
          onProgress: (percent) => {
            if (percent >= 100 || Date.now() - lastReport < 1000) return;
            lastReport = Date.now();
            void report({ type: 'archive', archiveId, state: 'progress', percent }).catch(() => undefined);
          },
        });
        await out.commit();
        await report({ type: 'archive', archiveId, state: 'ready', fileName, sizeBytes: built.sizeBytes, sha256: built.sha256 });
        logger.info({ archiveId, sizeBytes: built.sizeBytes, entries: built.entries }, 'archive ready');
      } catch (err) {
        if (err instanceof ArchiveDiskFullError) {
          logger.warn({ err, archiveId }, 'archive failed: no space left');
          const reason = 'Not enough disk space to build your archive. The partial file was removed; please try again later.';
          await report({ type: 'archive', archiveId, state: 'failed', reason });
          throw new UnrecoverableError(reason);
        }
        throw err;
      } finally {
        await out.release();
      }
    },
    {
      connection: redisConnection(config.redisUrl),
      prefix,
      concurrency: 1,
      // Killed mid-archive: the job is taken over (lock gone after 10 s, checked every 5 s) and
      // rebuilt from the start; the partial zip never has the final name.
      lockDuration: 10_000,
      stalledInterval: 5_000,
      maxStalledCount: 5,
      autorun: false,
    },
  );
  archiveWorker.on('failed', (job, err) => {
    if (!job || err.name === 'UnrecoverableError') return;
    logger.error({ err, jobId: job.id, attemptsMade: job.attemptsMade }, 'archive attempt failed');
    if (job.attemptsMade >= (job.opts.attempts ?? 1)) {
      void report({ type: 'archive', archiveId: job.data.archiveId, state: 'failed', reason: `Building the archive failed: ${err.message}`.slice(0, 500) }).catch(
        (e: unknown) => logger.error({ err: e }, 'could not report a failed archive'),
      );
    }
  });
  for (const w of [recordWorker, finalizeWorker, archiveWorker]) w.on('error', (err) => logger.warn({ err }, 'worker error'));

  void recordWorker.run();
  void finalizeWorker.run();
  void archiveWorker.run();
  logger.info({ prefix, recordConcurrency: config.recording.concurrency }, 'workers started');

  let closing: Promise<void> | undefined;
  return {
    close: () =>
      (closing ??= (async () => {
        shutdown.abort();
        await Promise.allSettled([recordWorker.close(), finalizeWorker.close(), archiveWorker.close()]);
        await Promise.allSettled([results.close(), recordQueue.close()]);
        await rpc.close();
        logger.info('workers closed');
      })()),
  };
}

function parseOrUnrecoverable<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: Error } }, data: unknown): T {
  const r = schema.safeParse(data);
  if (!r.success) throw new UnrecoverableError(`invalid job data: ${r.error.message}`);
  return r.data;
}

export type { Job };
