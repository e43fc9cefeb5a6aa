import { rmSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { redisConnection } from '../../../common/redisRpc.ts';
import { QUEUES, finalizeJobId, recordJobId } from '../../../common/jobs/queues.ts';
import { newRunId } from '../../../workers/media/segments.ts';
import { writeRun } from '../workers/mediaFixtures.ts';
import { connect, ok, signUp, startTestServer, type TestServer } from '../../../testkit/server.ts';
import { spawnWorkers, type WorkersProcess } from '../../../testkit/workers.ts';

/** How the record and finalize jobs behave as BullMQ jobs: retries, hand-over on SIGTERM. */
describe('recording jobs', () => {
  let server: TestServer | undefined;
  const workers: WorkersProcess[] = [];
  const queues: Queue[] = [];

  afterEach(async () => {
    for (const w of workers.splice(0)) await w.stop();
    for (const q of queues.splice(0)) await q.close();
    await server?.stop();
    server = undefined;
  });

  function queue(name: string): Queue {
    const q = new Queue(name, { connection: redisConnection(server!.config.redisUrl), prefix: server!.config.queuePrefix });
    queues.push(q);
    return q;
  }

  async function liveBroadcast(s: TestServer, username: string) {
    const user = await signUp(s.url, username);
    const socket = await connect(s.url, user.token);
    const { broadcast } = await ok(socket, 'broadcast:start', { title: 'Jobs', visibility: 'public', invitees: [] });
    return { socket, id: broadcast.id };
  }

  it('retries a finalize job that hit a transient fault, with backoff, and then produces the replay', async () => {
    server = await startTestServer();
    workers.push(await spawnWorkers(server.config));
    const { socket, id } = await liveBroadcast(server, 'retry');
    // Media as the recorder writes it (no broadcaster here: the record job just waits for one).
    await writeRun(path.join(server.dataDir, 'recordings', id), newRunId(), 1000, { seconds: 3, segmentSeconds: 1 });
    // A transient fault: the replay directory cannot be created (a file is in the way).
    const blocker = path.join(server.dataDir, 'replays', id);
    mkdirSync(path.dirname(blocker), { recursive: true });
    writeFileSync(blocker, 'in the way');
    await ok(socket, 'broadcast:stop', { broadcastId: id });

    const finalize = queue(QUEUES.finalize);
    await expect
      .poll(async () => (await finalize.getJob(finalizeJobId(id)))?.stacktrace?.length ?? 0, { timeout: 30_000 })
      .toBe(1);
    expect((await server.stores.replays.get(id))?.state).toBe('processing');
    rmSync(blocker);
    await expect.poll(async () => (await server!.stores.replays.get(id))?.state, { timeout: 30_000 }).toBe('ready');
    const job = await finalize.getJob(finalizeJobId(id));
    expect(job?.stacktrace).toHaveLength(1);
    expect(job?.stacktrace?.[0]).toMatch(/EEXIST|ENOTDIR|not a directory|file already exists/i);
    socket.close();
  }, 120_000);

  it('hands a recording back to the queue on SIGTERM, without using an attempt, for the next workers process', async () => {
    server = await startTestServer();
    const first = await spawnWorkers(server.config);
    workers.push(first);
    const { socket, id } = await liveBroadcast(server, 'handover');
    const record = queue(QUEUES.record);
    await expect.poll(async () => (await record.getJob(recordJobId(id)))?.getState(), { timeout: 10_000 }).toBe('active');

    first.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const job = await record.getJob(recordJobId(id));
    expect(await job?.getState()).toBe('waiting');
    expect(job?.attemptsMade).toBe(0);

    workers.push(await spawnWorkers(server.config));
    await expect.poll(async () => (await record.getJob(recordJobId(id)))?.getState(), { timeout: 10_000 }).toBe('active');
    await ok(socket, 'broadcast:stop', { broadcastId: id });
    // The broadcast ended: the record job completes (it never got media, so finalize fails clearly).
    await expect.poll(async () => (await record.getJob(recordJobId(id)))?.getState(), { timeout: 15_000 }).toBe('completed');
    await expect.poll(async () => (await server!.stores.replays.get(id))?.state, { timeout: 20_000 }).toBe('failed');
    socket.close();
  }, 120_000);
});
