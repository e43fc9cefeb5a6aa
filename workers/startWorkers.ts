import { Queue, Worker } from 'bullmq';
import type { Config } from '../common/config.ts';
import type { Logger } from '../common/logger.ts';
import { RedisRpc, redisConnection } from '../common/redisRpc.ts';
import { createStorage } from '../common/storage/createStorage.ts';
import { QUEUES, type RecordJob } from '../common/jobs/queues.ts';
import type { ResultJob } from '../common/jobs/results.ts';
import { tapChannels } from '../common/jobs/tap.ts';
import { TapEvents } from './record/TapEvents.ts';
import { createArchiveProcessor } from './processors/archive.ts';
import { createFinalizeProcessor } from './processors/finalize.ts';
import { createRecordProcessor } from './processors/record.ts';
import { watchFailures, withFailurePolicy, type FailurePolicyDeps } from './processors/failurePolicy.ts';
import type { JobProcessor } from './processors/JobProcessor.ts';
import { MetricsServer } from '../common/metrics/MetricsServer.ts';
import { RecorderStats } from './record/RecorderStats.ts';
import { workersMetrics } from './workersMetrics.ts';

export interface RunningWorkers {
  /** Graceful: recordings stop cleanly and are handed back to the queue; transcodes finish. Idempotent. */
  close(): Promise<void>;
}

/**
 * The workers process's composition root: the BullMQ workers of `record` (one long job per
 * live broadcast), `finalize` (segments → replay) and `archive` (a user's data → ZIP), each
 * built from its processor (processors/) under the one failure policy
 * (processors/failurePolicy.ts). Results go back through the `results` queue.
 */
export async function startWorkers(config: Config, logger: Logger): Promise<RunningWorkers> {
  const prefix = config.queuePrefix;
  const connection = () => redisConnection(config.redisUrl);
  // The data directory (the one-host default) or an S3 bucket.
  const { storage, close: closeStorage } = await createStorage(config);
  const rpc = new RedisRpc(config.redisUrl, logger.child({ component: 'rpc' }));
  await rpc.ready();
  const tapEvents = await TapEvents.start(rpc, prefix);
  const results = new Queue<ResultJob>(QUEUES.results, { connection: connection(), prefix });
  const recordQueue = new Queue<RecordJob>(QUEUES.record, { connection: connection(), prefix });
  const report = async (r: ResultJob): Promise<void> => {
    await results.add(`${r.type}-${r.state}`, r, {
      attempts: 10,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: { age: 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
  };
  const shutdown = new AbortController();
  const recorderStats = new RecorderStats();

  const processors: Array<JobProcessor<never>> = [
    createRecordProcessor({
      config,
      storage,
      rpc,
      tapChannel: tapChannels(prefix).rpc,
      tapEvents,
      stats: recorderStats,
      report,
      logger: logger.child({ component: 'record' }),
      shutdown: shutdown.signal,
    }),
    createFinalizeProcessor({
      storage,
      concurrency: config.recording.finalizeConcurrency,
      report,
      logger: logger.child({ component: 'finalize' }),
    }),
    createArchiveProcessor({ archives: config.archives, storage, report, logger: logger.child({ component: 'archive' }) }),
  ] as Array<JobProcessor<never>>;

  const policy: FailurePolicyDeps = { report, logger };
  const running = new Map<string, number>(processors.map((p) => [p.queue, 0]));
  const workers = processors.map((p) => {
    const reported = new WeakSet<object>();
    const process = withFailurePolicy(p.process, p.failureReport, policy, reported);
    const counted: typeof process = async (job, token) => {
      running.set(p.queue, (running.get(p.queue) ?? 0) + 1);
      try {
        return await process(job, token);
      } finally {
        running.set(p.queue, (running.get(p.queue) ?? 1) - 1);
      }
    };
    const worker = new Worker(p.queue, counted, {
      ...p.options,
      connection: connection(),
      prefix,
      autorun: false,
    });
    watchFailures(worker, p.failureReport, policy, reported);
    worker.on('error', (err) => logger.warn({ err, queue: p.queue }, 'worker error'));
    return worker;
  });
  for (const w of workers) void w.run();
  const metrics = workersMetrics({ dataDir: config.dataDir, queues: [recordQueue, results], running, recorders: recorderStats });
  const metricsServer =
    config.metrics.workersPort === undefined
      ? undefined
      : await MetricsServer.start({ registry: metrics, host: config.metrics.host, port: config.metrics.workersPort, logger: logger.child({ component: 'metrics' }) });
  logger.info({ prefix, recordConcurrency: config.recording.concurrency }, 'workers started');

  let closing: Promise<void> | undefined;
  return {
    close: () =>
      (closing ??= (async () => {
        shutdown.abort();
        await metricsServer?.close();
        await Promise.allSettled(workers.map((w) => w.close()));
        await Promise.allSettled([results.close(), recordQueue.close()]);
        await rpc.close();
        closeStorage();
        logger.info('workers closed');
      })()),
  };
}
