import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import { installPlainWebRtc } from '../../testkit/plainWebRtc.ts';
import { startTestServer, type TestServer } from '../../testkit/server.ts';
import { spawnWorkers, type WorkersProcess } from '../../testkit/workers.ts';
import { finishAndCheck, goLive, inProcessTarget, receiving, requestArchive, waitAllReceiving } from './harness.ts';

/**
 * Fault under load: the mediasoup worker hosting a recorded broadcast with 50 viewers is
 * killed with SIGKILL. The WorkerPool replaces it; the LiveService moves the broadcast to a
 * healthy worker and tells everyone to rejoin (the broadcaster re-publishes, viewers
 * re-consume, as the web client does). Prints FAULT-FIGURES; asserts the invariants.
 */
describe('fault under load: kill -9 a mediasoup worker', () => {
  let server: TestServer | undefined;
  let workers: WorkersProcess | undefined;

  beforeAll(async () => {
    installPlainWebRtc();
    server = await startTestServer({ mediasoup: { numWorkers: 2 } });
    workers = await spawnWorkers(server.config);
  });
  afterAll(async () => {
    await workers?.stop();
    await server?.stop();
  });

  it('viewers and the replay come back after the broadcast moves; no job runs twice', async () => {
    const target = inProcessTarget(server!);
    const live = await goLive(target, 'mediakill');
    const archiveId = await requestArchive(target, live.token);
    const onAir = server!.live.onAir(live.id as BroadcastId);
    expect(onAir).toBeDefined();
    const origin = server!.pool.workers[onAir!.media.originWorkerIndex]!;
    live.viewers.resetGaps();
    const faultAt = Date.now();
    process.kill(origin.pid, 'SIGKILL');
    await waitAllReceiving(live, 30_000);
    await sleep(8000);
    const recovered = receiving(live);
    // The pool replaced the dead worker.
    expect(server!.pool.workers.map((w) => w.pid)).not.toContain(origin.pid);
    await finishAndCheck(target, live, { scenario: 'kill -9 mediasoup worker', faultAt, recovered, archiveId });
  }, 240_000);
});
