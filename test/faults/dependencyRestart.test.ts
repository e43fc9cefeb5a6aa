import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { ConfigInput } from '../../common/config.ts';
import { installPlainWebRtc } from '../../testkit/plainWebRtc.ts';
import { startTestServer, type TestServer } from '../../testkit/server.ts';
import { spawnWorkers, type WorkersProcess } from '../../testkit/workers.ts';
import { finishAndCheck, goLive, inProcessTarget, receiving, requestArchive, startOwnPostgres, startOwnRedis, waitAllReceiving } from './harness.ts';

/** A dependency of the test's own (never the machine's shared one) that can be restarted mid-broadcast. */
interface Dependency {
  url: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Fault under load: a dependency of every process is restarted while a recorded broadcast
 * has 50 viewers. Prints FAULT-FIGURES; asserts the invariants (harness.ts).
 * - Redis (BullMQ's queues, the recording tap's RPC, rate limits): killed and started again
 *   on the same port, empty (no persistence: everything it held is gone).
 * - PostgreSQL: `pg_ctl restart -m immediate` (no clean shutdown, like a crash; recovery
 *   replays its WAL), a throwaway cluster (initdb in a temp dir, a free port).
 */
const cases: Array<{
  name: string;
  scenario: string;
  start: () => Promise<Dependency>;
  server: (url: string) => ConfigInput;
  workersEnv: (url: string) => Record<string, string>;
}> = [
  { name: 'Redis', scenario: 'restart Redis (empty)', start: startOwnRedis, server: (url) => ({ redisUrl: url }), workersEnv: () => ({}) },
  {
    name: 'PostgreSQL',
    scenario: 'restart PostgreSQL (-m immediate)',
    start: startOwnPostgres,
    server: (url) => ({ databaseUrl: url }),
    workersEnv: (url) => ({ DATABASE_URL: url }),
  },
];

describe.each(cases)('fault under load: restart $name', (c) => {
  let dependency: Dependency | undefined;
  let server: TestServer | undefined;
  let workers: WorkersProcess | undefined;

  beforeAll(async () => {
    dependency = await c.start();
    installPlainWebRtc();
    server = await startTestServer(c.server(dependency.url));
    workers = await spawnWorkers(server.config, c.workersEnv(dependency.url));
  });
  afterAll(async () => {
    await workers?.stop();
    await server?.stop().catch(() => undefined);
    await dependency?.stop();
  });

  it('viewers see nothing; the replay and the archive are still made; no job runs twice', async () => {
    const target = inProcessTarget(server!);
    const live = await goLive(target, `restart${c.name.toLowerCase()}`);
    const archiveId = await requestArchive(target, live.token);
    live.viewers.resetGaps();
    const faultAt = Date.now();
    await dependency!.restart();
    await waitAllReceiving(live, 20_000);
    await sleep(10_000);
    await finishAndCheck(target, live, { scenario: c.scenario, faultAt, recovered: receiving(live), archiveId });
  }, 240_000);
});
