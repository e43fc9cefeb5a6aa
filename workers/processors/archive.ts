import path from 'node:path';
import type { Job } from 'bullmq';
import type { Config } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';
import { ArchiveInputSchema } from '../../common/jobs/archiveInput.ts';
import { ArchiveJobSchema, QUEUES, type ArchiveJob } from '../../common/jobs/queues.ts';
import type { ResultJob } from '../../common/jobs/results.ts';
import type { Storage } from '../../common/storage/Storage.ts';
import { ARCHIVE_INPUT_FILE, archiveKey, archivePrefix } from '../../common/storage/storageKeys.ts';
import { ArchiveDiskFullError, buildArchive } from '../archive/buildArchive.ts';
import { PermanentJobError, parseOrPermanent, type FailureReport } from './failurePolicy.ts';
import type { JobProcessor } from './JobProcessor.ts';

const ARCHIVE_FILE_NAME = 'spyglass-archive.zip';
/** Progress is reported at most this often. */
const PROGRESS_EVERY_MS = 1000;

export interface ArchiveProcessorDeps {
  archives: Config['archives'];
  storage: Storage;
  report: (r: ResultJob) => Promise<void>;
  logger: Logger;
}

/** The `archive` queue: one user's data (its input snapshot, replays) → one ZIP in the storage. */
export function createArchiveProcessor(deps: ArchiveProcessorDeps): JobProcessor<ArchiveJob> {
  const process = async (job: Job<ArchiveJob>): Promise<void> => {
    const { archiveId, maxBytesPerSecond } = parseOrPermanent(ArchiveJobSchema, job.data);
    const inputText = (await deps.storage.readFile(archiveKey(archiveId, ARCHIVE_INPUT_FILE))).toString('utf8');
    const input = parseOrPermanent(ArchiveInputSchema, JSON.parse(inputText));
    let lastReport = 0;
    // The zip is written locally (partial file, fsync, rename) and stored on commit.
    const out = await deps.storage.localDir(archivePrefix(archiveId));
    try {
      const built = await buildArchive({
        input,
        storage: deps.storage,
        outFile: path.join(out.path, ARCHIVE_FILE_NAME),
        ...(deps.archives.maxMb > 0 ? { maxBytes: deps.archives.maxMb * 1024 * 1024 } : {}),
        ...(maxBytesPerSecond ? { maxBytesPerSecond } : {}),
        onProgress: (percent) => {
          if (percent >= 100 || Date.now() - lastReport < PROGRESS_EVERY_MS) return;
          lastReport = Date.now();
          void deps.report({ type: 'archive', archiveId, state: 'progress', percent }).catch(() => undefined);
        },
      });
      await out.commit();
      // The archive's published checksum: the SHA-256 of its manifest.json (docs/archives.md, "Integrity").
      await deps.report({ type: 'archive', archiveId, state: 'ready', fileName: ARCHIVE_FILE_NAME, sizeBytes: built.sizeBytes, sha256: built.manifestSha256 });
      deps.logger.info({ archiveId, sizeBytes: built.sizeBytes, entries: built.entries }, 'archive ready');
    } catch (err) {
      if (err instanceof ArchiveDiskFullError) {
        deps.logger.warn({ err, archiveId }, 'archive failed: no space left');
        throw new PermanentJobError('Not enough disk space to build your archive. The partial file was removed; please try again later.');
      }
      throw err;
    } finally {
      await out.release();
    }
  };
  const failureReport: FailureReport<ArchiveJob> = (job, err, kind) => {
    const parsed = ArchiveJobSchema.safeParse(job.data);
    if (!parsed.success) return null;
    const reason = kind === 'permanent' ? err.message : `Building the archive failed: ${err.message}`;
    return { type: 'archive', archiveId: parsed.data.archiveId, state: 'failed', reason: reason.slice(0, 500) };
  };
  return {
    queue: QUEUES.archive,
    process,
    failureReport,
    options: {
      concurrency: 1,
      // Killed mid-archive: the job is taken over (lock gone after 10 s, checked every 5 s) and
      // rebuilt from the start; the partial zip never has the final name.
      lockDuration: 10_000,
      stalledInterval: 5_000,
      maxStalledCount: 5,
    },
  };
}
