import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { installPlainWebRtc } from '../helpers/plainWebRtc.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { spawnWorkers, type WorkersProcess } from '../helpers/workers.ts';
import { finishAndCheck, goLive, inProcessTarget, receiving, requestArchive, startOwnPostgres, waitAllReceiving, type OwnPostgres } from './harness.ts';

/**
 * Fault under load: PostgreSQL is restarted with `pg_ctl restart -m immediate` (no clean
 * shutdown, like a crash; recovery replays its WAL) while a recorded broadcast on it has 50
 * viewers. The test makes its own throwaway cluster (initdb in a temp dir, a free port),
 * never the machine's shared one. Prints FAULT-FIGURES; asserts the invariants.
 */
describe('fault under load: restart PostgreSQL', () => {
  let pg: OwnPostgres | undefined;
  let server: TestServer | undefined;
  let workers: WorkersProcess | undefined;

  beforeAll(async () => {
    pg = await startOwnPostgres();
    installPlainWebRtc();
    server = await startTestServer({ databaseUrl: pg.url });
    workers = await spawnWorkers(server.config, { DATABASE_URL: pg.url });
  });
  afterAll(async () => {
    await workers?.stop();
    await server?.stop().catch(() => undefined);
    await pg?.stop();
  });

  it('viewers see nothing; the replay and the archive are still made; no job runs twice', async () => {
    const target = inProcessTarget(server!);
    const live = await goLive(target, 'pgrestart');
    const archiveId = await requestArchive(target, live.token);
    live.viewers.resetGaps();
    const faultAt = Date.now();
    await pg!.restart();
    await waitAllReceiving(live, 20_000);
    await sleep(10_000);
    const recovered = receiving(live);
    await finishAndCheck(target, live, { scenario: 'restart PostgreSQL (-m immediate)', faultAt, recovered, archiveId });
  }, 240_000);
});
