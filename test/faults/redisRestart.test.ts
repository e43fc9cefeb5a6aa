import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { installPlainWebRtc } from '../helpers/plainWebRtc.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { spawnWorkers, type WorkersProcess } from '../helpers/workers.ts';
import { finishAndCheck, goLive, inProcessTarget, receiving, requestArchive, startOwnRedis, waitAllReceiving, type OwnRedis } from './harness.ts';

/**
 * Fault under load: Redis (BullMQ's queues, the recording tap's RPC, rate limits) is killed
 * and started again on the same port, empty (no persistence: everything it held is gone),
 * while a recorded broadcast has 50 viewers. The test runs its own redis-server, never the
 * machine's shared one. Prints FAULT-FIGURES; asserts the invariants.
 */
describe('fault under load: restart Redis', () => {
  let redis: OwnRedis | undefined;
  let server: TestServer | undefined;
  let workers: WorkersProcess | undefined;

  beforeAll(async () => {
    redis = await startOwnRedis();
    installPlainWebRtc();
    server = await startTestServer({ redisUrl: redis.url });
    workers = await spawnWorkers(server.config);
  });
  afterAll(async () => {
    await workers?.stop();
    await server?.stop().catch(() => undefined);
    await redis?.stop();
  });

  it('viewers see nothing; the replay and the archive are still made; no job runs twice', async () => {
    const target = inProcessTarget(server!);
    const live = await goLive(target, 'redisrestart');
    const archiveId = await requestArchive(target, live.token);
    live.viewers.resetGaps();
    const faultAt = Date.now();
    await redis!.restart();
    await waitAllReceiving(live, 20_000);
    await sleep(10_000);
    const recovered = receiving(live);
    await finishAndCheck(target, live, { scenario: 'restart Redis (empty)', faultAt, recovered, archiveId });
  }, 240_000);
});
