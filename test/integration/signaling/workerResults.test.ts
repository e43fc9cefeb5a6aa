import { Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QUEUES } from '../../../common/jobs/queues.ts';
import type { ArchiveResult, ReplayResult, ResultJob } from '../../../common/jobs/results.ts';
import { redisConnection } from '../../../common/redisRpc.ts';
import { WorkerResults } from '../../../signaling/results/WorkerResults.ts';
import { silentLogger } from '../../helpers/sfu.ts';
import { dropQueues, testQueuePrefix } from '../../../testkit/server.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * The one consumer of the `results` queue routes each result to its domain, over real Redis
 * and BullMQ: the replay domain sees recording and replay results only, the archive domain
 * archive results only.
 */
describe('worker results: one consumer, one route per domain', () => {
  let prefix: string;
  let queue: Queue;
  let results: WorkerResults | undefined;
  const replay: ReplayResult[] = [];
  const archive: ArchiveResult[] = [];

  beforeEach(() => {
    prefix = testQueuePrefix();
    queue = new Queue(QUEUES.results, { connection: redisConnection(REDIS_URL), prefix });
    replay.length = 0;
    archive.length = 0;
  });
  afterEach(async () => {
    await results?.close();
    results = undefined;
    await queue.close();
    await dropQueues(REDIS_URL, prefix);
  });

  function consume(routes: Partial<{ replay: (r: ReplayResult) => Promise<void>; archive: (r: ArchiveResult) => Promise<void> }> = {}): void {
    results = new WorkerResults({
      config: { redisUrl: REDIS_URL, queuePrefix: prefix },
      logger: silentLogger(),
      routes: {
        replay: routes.replay ?? ((r) => Promise.resolve(void replay.push(r))),
        archive: routes.archive ?? ((r) => Promise.resolve(void archive.push(r))),
      },
    });
    results.start();
  }

  const ids = { broadcast: 'b_flowtest01', archive: 'a_flowtest01' };
  const sent: ResultJob[] = [
    { type: 'recording', broadcastId: ids.broadcast as never, state: 'started', reason: null },
    { type: 'archive', archiveId: ids.archive, state: 'progress', percent: 40 },
    { type: 'replay', broadcastId: ids.broadcast as never, state: 'failed', reason: 'no media was recorded' },
    { type: 'archive', archiveId: ids.archive, state: 'failed', reason: 'Building the archive failed: disk' },
  ];

  it('hands recording and replay results to the replay domain and archive results to the archive domain, in order', async () => {
    consume();
    for (const r of sent) await queue.add(`${r.type}-${r.state}`, r);
    await expect.poll(() => replay.length + archive.length, { timeout: 10_000 }).toBe(4);
    expect(replay).toEqual([sent[0], sent[2]]);
    expect(archive).toEqual([sent[1], sent[3]]);
  });

  it('fails a result that does not parse at once, without handing it to anyone', async () => {
    consume();
    const bad = await queue.add('bad', { type: 'archive', archiveId: ids.archive, state: 'ready', fileName: '../../etc/passwd', sizeBytes: 1, sha256: 'x' }, { attempts: 5 });
    const unknownType = await queue.add('bad', { type: 'nonsense', broadcastId: ids.broadcast }, { attempts: 5 });
    for (const job of [bad, unknownType]) {
      await expect.poll(async () => queue.getJobState(job.id!), { timeout: 10_000 }).toBe('failed');
      const failed = await queue.getJob(job.id!);
      expect(failed?.failedReason).toMatch(/^invalid result/);
      expect(failed?.attemptsMade).toBe(1);
    }
    expect(replay).toEqual([]);
    expect(archive).toEqual([]);
  });

  it("retries a result its domain could not apply, and the other domain's results still flow", async () => {
    let refusals = 1;
    consume({
      replay: (r) => {
        if (refusals-- > 0) return Promise.reject(new Error('database busy'));
        replay.push(r);
        return Promise.resolve();
      },
    });
    const job = await queue.add('replay-failed', sent[2], { attempts: 3 });
    await queue.add('archive-progress', sent[1]);
    await expect.poll(() => replay.length, { timeout: 10_000 }).toBe(1);
    expect(replay).toEqual([sent[2]]);
    expect(archive).toEqual([sent[1]]);
    // Two attempts: the refused one and the applied one.
    await expect.poll(() => queue.getJobState(job.id!), { timeout: 10_000 }).toBe('completed');
    expect((await queue.getJob(job.id!))?.attemptsMade).toBe(2);
  });
});
