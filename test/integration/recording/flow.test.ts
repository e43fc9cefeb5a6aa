import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redisConnection } from '../../../common/redisRpc.ts';
import { QUEUES, finalizeJobId, recordJobId } from '../../../common/jobs/queues.ts';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import { newRunId } from '../../../workers/media/segments.ts';
import { writeRun } from '../workers/mediaFixtures.ts';
import { launchChromium, trackPeerConnections } from '../../../testkit/browser.ts';
import { goLiveInPage, signUpInPage, waitForReplay, waitUntilSending } from '../../../testkit/liveUi.ts';
import { connect, dropQueues, ok, signUp, startTestServer, type TestServer } from '../../../testkit/server.ts';
import { spawnWorkers, type WorkersProcess } from '../../../testkit/workers.ts';

/**
 * A broadcast's recording as one BullMQ flow (signaling/recording/RecordingService.ts,
 * broadcastStarted): the finalize job is the parent and waits for its child, the record job.
 * Real server, real Redis, real workers processes (ffmpeg), and for the hand-over a real
 * Chromium broadcaster (fake camera and microphone).
 */
describe('recording flow: finalize waits for its record job', () => {
  let browser: Browser | undefined;
  const servers: TestServer[] = [];
  const workers: WorkersProcess[] = [];
  const contexts: BrowserContext[] = [];
  const queues: Queue[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close().catch(() => {});
    for (const w of workers.splice(0)) await w.stop();
    for (const q of queues.splice(0)) await q.close();
    for (const s of servers.splice(0).reverse()) await s.stop();
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function server(...args: Parameters<typeof startTestServer>): Promise<TestServer> {
    const s = await startTestServer(...args);
    servers.push(s);
    return s;
  }

  async function startWorkers(s: TestServer): Promise<WorkersProcess> {
    const w = await spawnWorkers(s.config);
    workers.push(w);
    return w;
  }

  function queue(s: TestServer, name: string): Queue {
    const q = new Queue(name, { connection: redisConnection(s.config.redisUrl), prefix: s.config.queuePrefix });
    queues.push(q);
    return q;
  }

  /** The recorder's runs of a broadcast that have a stored segment (each run is a directory of `recordings/<id>/`). */
  function runsWithSegments(s: TestServer, id: string): number {
    const dir = path.join(s.dataDir, 'recordings', id);
    if (!existsSync(dir)) return 0;
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && readdirSync(path.join(dir, e.name)).some((f) => f.endsWith('.mkv'))).length;
  }

  const stateOf = async (q: Queue, jobId: string) => (await q.getJob(jobId))?.getState() ?? 'missing';

  it('hands the record job over on SIGTERM; the finalize job runs once, after the record job completed', async () => {
    const s = await server();
    const first = await startWorkers(s);
    const context = await browser!.newContext({ baseURL: s.url });
    contexts.push(context);
    const page = await context.newPage();
    await trackPeerConnections(page);
    await signUpInPage(page, 'flowcaster');
    const id = (await goLiveInPage(page, 'Flow test')) as BroadcastId;
    await waitUntilSending(page);

    const record = queue(s, QUEUES.record);
    const finalize = queue(s, QUEUES.finalize);
    const results = queue(s, QUEUES.results);
    // One flow: the record job is the finalize job's child, and finalize waits for it.
    await expect.poll(() => stateOf(record, recordJobId(id)), { timeout: 10_000 }).toBe('active');
    expect((await record.getJob(recordJobId(id)))?.parentKey).toBe(`${s.config.queuePrefix}:${QUEUES.finalize}:${finalizeJobId(id)}`);
    expect(await stateOf(finalize, finalizeJobId(id))).toBe('waiting-children');
    // Segments stored by the first workers process.
    await expect.poll(() => runsWithSegments(s, id), { timeout: 15_000 }).toBe(1);

    // A deploy: SIGTERM. The recording goes back to the queue at once, without using an attempt.
    first.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const handedBack = await record.getJob(recordJobId(id));
    expect(await handedBack?.getState()).toBe('waiting');
    expect(handedBack?.attemptsMade).toBe(0);
    // Finalize keeps waiting for it: the broadcast is still live.
    expect(await stateOf(finalize, finalizeJobId(id))).toBe('waiting-children');

    // The next workers process takes the same record job over and records a second run.
    await startWorkers(s);
    await expect.poll(() => stateOf(record, recordJobId(id)), { timeout: 10_000 }).toBe('active');
    await expect.poll(() => runsWithSegments(s, id), { timeout: 15_000 }).toBe(2);
    expect(await stateOf(finalize, finalizeJobId(id))).toBe('waiting-children');
    await page.getByRole('button', { name: 'End broadcast' }).click();

    const replay = await waitForReplay(page, id, 90_000);
    expect(replay.state, replay.reason ?? '').toBe('ready');
    expect((await s.stores.replays.get(id))?.timeline).toHaveLength(2);
    // The replay is 'ready' once the finalize job has reported; BullMQ marks the job completed
    // a moment after its processor returns (seen 'active' here once in CI).
    await expect.poll(() => stateOf(finalize, finalizeJobId(id)), { timeout: 10_000 }).toBe('completed');
    const recordJob = await record.getJob(recordJobId(id));
    const finalizeJob = await finalize.getJob(finalizeJobId(id));
    expect(await recordJob?.getState()).toBe('completed');
    expect(recordJob?.attemptsMade).toBe(1);
    expect(await finalizeJob?.getState()).toBe('completed');
    // Once: one attempt, started after the record job finished, and one 'ready' report.
    expect(finalizeJob?.attemptsMade).toBe(1);
    expect(finalizeJob?.processedOn).toBeGreaterThanOrEqual(recordJob?.finishedOn ?? Number.POSITIVE_INFINITY);
    const readyReports = (await results.getJobs(['completed', 'failed', 'waiting', 'active', 'delayed'])).filter((j) => {
      const d = j?.data as { type?: string; broadcastId?: string; state?: string } | undefined;
      return d?.type === 'replay' && d.broadcastId === id && d.state === 'ready';
    });
    expect(readyReports).toHaveLength(1);
  }, 240_000);

  it("runs finalize when the record job fails for good, and the replay's failure names the recorder's", async () => {
    const s = await server();
    const user = await signUp(s.url, 'failcaster');
    const socket = await connect(s.url, user.token);
    const { broadcast } = await ok(socket, 'broadcast:start', { title: 'Fails', visibility: 'public', invitees: [] });
    const id = broadcast.id;
    await ok(socket, 'broadcast:stop', { broadcastId: id });
    socket.close();
    const record = queue(s, QUEUES.record);
    const finalize = queue(s, QUEUES.finalize);
    // No workers process ran yet. A record job it cannot run (its data is broken: a permanent failure).
    await record.getJob(recordJobId(id)).then((j) => j?.updateData({ broadcastId: id, bogus: true }));
    expect(await stateOf(finalize, finalizeJobId(id))).toBe('waiting-children');

    await startWorkers(s);
    await expect.poll(async () => (await s.stores.replays.get(id))?.state, { timeout: 30_000 }).toBe('failed');
    expect(await stateOf(record, recordJobId(id))).toBe('failed');
    expect((await record.getJob(recordJobId(id)))?.attemptsMade).toBe(1);
    const replay = await s.stores.replays.get(id);
    expect(replay?.reason).toMatch(/the recorder failed: .*invalid job data/);
    expect((await finalize.getJob(finalizeJobId(id)))?.attemptsMade).toBe(1);
  }, 120_000);

  it('finalizes at start-up a replay whose jobs Redis lost, from the segments stored before the crash', async () => {
    const first = await server();
    const user = await signUp(first.url, 'lostcaster');
    const socket = await connect(first.url, user.token);
    const { broadcast } = await ok(socket, 'broadcast:start', { title: 'Lost', visibility: 'public', invitees: [] });
    const id = broadcast.id;
    // Segments as the recorder stored them (no workers process: the flow waits in Redis).
    await writeRun(path.join(first.dataDir, 'recordings', id), newRunId(), 1000, { seconds: 3, segmentSeconds: 1 });
    await ok(socket, 'broadcast:stop', { broadcastId: id });
    socket.close();
    // The signalling process goes down; Redis comes back without its data (the flow is gone).
    servers.splice(servers.indexOf(first), 1);
    await first.stop({ keepData: true });
    await dropQueues(first.config.redisUrl, first.config.queuePrefix);

    // The next start enqueues finalize on its own (nothing to wait for), and the replay is made.
    const second = await server({ queuePrefix: first.config.queuePrefix }, { dataDir: first.dataDir });
    const finalize = queue(second, QUEUES.finalize);
    expect(await stateOf(finalize, finalizeJobId(id))).toBe('waiting');
    await startWorkers(second);
    await expect.poll(async () => (await second.stores.replays.get(id))?.state, { timeout: 60_000 }).toBe('ready');
    expect((await second.stores.replays.get(id))?.timeline).toHaveLength(1);
  }, 120_000);
});
