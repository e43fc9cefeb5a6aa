import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { installPlainWebRtc } from '../../testkit/plainWebRtc.ts';
import { startTestServer, type TestServer } from '../../testkit/server.ts';
import { spawnWorkers, type WorkersProcess } from '../../testkit/workers.ts';
import { finishAndCheck, goLive, inProcessTarget, receiving, requestArchive, waitAllReceiving } from './harness.ts';

/**
 * Fault under load: the workers process (recorder, finalize, archives) is killed with
 * SIGKILL while a recorded broadcast has 50 viewers, and started again a second later (what
 * `npm start`'s supervisor does). Prints FAULT-FIGURES; asserts the invariants (harness.ts).
 */
describe('fault under load: kill -9 the workers process', () => {
  let server: TestServer | undefined;
  const workers: WorkersProcess[] = [];

  beforeAll(async () => {
    installPlainWebRtc();
    server = await startTestServer();
  });
  afterAll(async () => {
    for (const w of workers) await w.stop();
    await server?.stop();
  });

  it('the replay keeps everything but the takeover gap; no job runs twice; the archive survives', async () => {
    const target = inProcessTarget(server!);
    workers.push(await spawnWorkers(server!.config));
    const live = await goLive(target, 'workerskill');
    const archiveId = await requestArchive(target, live.token);
    live.viewers.resetGaps();
    const faultAt = Date.now();
    const first = workers[0]!;
    first.kill('SIGKILL');
    await first.exited;
    await sleep(1000);
    workers.push(await spawnWorkers(server!.config));
    await waitAllReceiving(live, 20_000);
    await sleep(8000);
    await finishAndCheck(target, live, { scenario: 'kill -9 workers process', faultAt, recovered: receiving(live), archiveId });
  }, 240_000);
});
