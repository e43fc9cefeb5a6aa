import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveJobId, QUEUES } from '../../../common/jobs/queues.ts';
import { createLogger } from '../../../common/logger.ts';
import { redisConnection } from '../../../common/redisRpc.ts';
import { LocalDiskStorage } from '../../../common/storage/LocalDiskStorage.ts';
import { ArchiveService } from '../../../signaling/archive/ArchiveService.ts';
import { signUp, startTestServer, type TestServer } from '../../../testkit/server.ts';

/**
 * An archive whose job Redis lost (a restart without its data, after the request) is enqueued
 * again from its stored input. Run on a queue prefix of its own that no workers process reads,
 * so that the job stays where the test put it.
 */
describe('archive jobs lost by Redis', () => {
  let server: TestServer;
  let service: ArchiveService;
  let queue: Queue;
  const queuePrefix = `test-repair-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    server = await startTestServer();
    const config = { ...server.config, queuePrefix };
    service = new ArchiveService({
      config,
      stores: server.stores,
      storage: new LocalDiskStorage(server.dataDir),
      logger: createLogger({ level: 'silent' }),
      appVersion: 'test',
      notifyUser: () => undefined,
    });
    queue = new Queue(QUEUES.archive, { connection: redisConnection(server.config.redisUrl), prefix: queuePrefix });
  });
  afterAll(async () => {
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    await service?.close();
    await service?.close();
    await server?.stop();
  });

  it('enqueues a building archive without a job again, once, and leaves young ones and ones with a job alone', async () => {
    const a = await signUp(server.url, 'lostjob');
    const user = (await server.stores.users.findByUsername('lostjob'))!;
    expect(user.id).toBe(a.user.id);
    const archive = await service.request(user);
    expect(await queue.getJob(archiveJobId(archive.id))).toBeDefined();
    // With its job there, nothing is done.
    expect(await service.requeueLost(0)).toBe(0);

    // Redis loses the job.
    await (await queue.getJob(archiveJobId(archive.id)))!.remove();
    expect(await queue.getJob(archiveJobId(archive.id))).toBeUndefined();
    // Younger than the age asked for: it may be a request being enqueued right now.
    expect(await service.requeueLost(60_000)).toBe(0);
    expect(await queue.getJob(archiveJobId(archive.id))).toBeUndefined();

    expect(await service.requeueLost(0)).toBe(1);
    const job = await queue.getJob(archiveJobId(archive.id));
    expect(job?.data).toEqual({ archiveId: archive.id });
    expect(await service.requeueLost(0)).toBe(0);

    // An archive that is no longer building is never enqueued again.
    await server.stores.archives.markFailed(archive.id, 'test');
    await job!.remove();
    expect(await service.requeueLost(0)).toBe(0);
  });
});
