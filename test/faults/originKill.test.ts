import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesiseClip } from '../../testkit/media.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import { TcpBalancer } from '../helpers/balancer.ts';
import { PlainBroadcaster, PlainViewers } from '../../testkit/plainPeers.ts';
import { installPlainWebRtc } from '../../testkit/plainWebRtc.ts';
import { createTestDatabase, type TestDatabase } from '../../testkit/postgres.ts';
import { signUp, startTestServer, testQueuePrefix, type TestServer } from '../../testkit/server.ts';
import { startSupervisor, type Supervisor } from '../../testkit/supervisor.ts';
import { FAULT_CLIP } from './harness.ts';

/**
 * Fault across nodes: the origin node of a live broadcast is killed with SIGKILL. Node A (the
 * origin) is a real signalling process; node B runs in this process; both share PostgreSQL and
 * Redis with `cluster.enabled`, behind a TCP balancer with fail-over (test/helpers/balancer.ts).
 * The broadcaster reached A through the balancer; its viewers reached B and watch through B's
 * relay. Heartbeat 200 ms, node TTL 1 s (the defaults are 1 s and 5 s: docs/scale.md).
 *
 * - The broadcaster comes back: socket.io reconnects through the balancer to B, the broadcaster
 *   resumes; B takes the broadcast over once A's claim lapsed and hosts it; B's viewers, told
 *   `origin-moved`, join again and receive from B. Prints the viewers' longest gap.
 * - The broadcaster does not come back: B ends the orphan after the grace period and its
 *   viewers learn that it ended.
 */
describe('fault across nodes: kill -9 the origin node', () => {
  let db: TestDatabase | undefined;
  let b: TestServer | undefined;
  let clip = '';
  const queuePrefix = testQueuePrefix();
  const nodes: Supervisor[] = [];
  const balancers: TcpBalancer[] = [];
  const GRACE_SECONDS = 4;
  /** Sessions are signed with the deployment's secret: every node has the same one. */
  const secret = `failover-${queuePrefix}`;

  beforeAll(async () => {
    installPlainWebRtc();
    db = await createTestDatabase();
    clip = await synthesiseClip(FAULT_CLIP);
    b = await startTestServer({
      databaseUrl: db.url,
      secret,
      queuePrefix,
      socketAdapter: 'redis',
      recording: { enabled: false },
      cluster: { enabled: true, nodeId: 'node-b', heartbeatMs: 200, ttlMs: 1000 },
      live: { graceSeconds: GRACE_SECONDS },
      limits: { connectionsPerAddress: 1000 },
    });
  }, 120_000);
  afterAll(async () => {
    for (const bal of balancers) await bal.close();
    for (const n of nodes) await n.stop();
    await b?.stop().catch(() => undefined);
    await db?.drop();
  });

  /** Node A: the signalling process alone, as one node of the deployment. */
  async function startNodeA(nodeId: string): Promise<{ node: Supervisor; port: number }> {
    const node = await startSupervisor(
      {
        SPYGLASS_QUEUE_PREFIX: queuePrefix,
        SPYGLASS_SECRET: secret,
        DATABASE_URL: db!.url,
        SPYGLASS_SOCKET_ADAPTER: 'redis',
        SPYGLASS_CLUSTER: '1',
        SPYGLASS_NODE_ID: nodeId,
        SPYGLASS_HEARTBEAT_MS: '200',
        SPYGLASS_NODE_TTL_MS: '1000',
        SPYGLASS_GRACE_SECONDS: String(GRACE_SECONDS),
        SPYGLASS_RECORDING: 'false',
      },
      'signaling/main.ts',
    );
    nodes.push(node);
    return { node, port: Number(new URL(node.url).port) };
  }

  async function until(what: string, check: () => boolean | Promise<boolean>, ms: number): Promise<number> {
    const start = Date.now();
    while (!(await check())) {
      if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
      await sleep(100);
    }
    return Date.now() - start;
  }

  const receiving = (v: PlainViewers, since: number) => v.stats().every((s) => s.lastRtpAt !== null && s.lastRtpAt > since && s.video > 0);

  it('the broadcaster resumes on B, which takes the broadcast over; B’s viewers receive again', async () => {
    const a = await startNodeA('node-a');
    const balancer = await TcpBalancer.start([a.port, b!.port]);
    balancers.push(balancer);
    const owner = await signUp(balancer.url, 'failoverowner');
    const caster = await PlainBroadcaster.start(balancer.url, owner.token, clip, 'Origin failover');
    const id = caster.broadcastId as BroadcastId;
    let viewers: PlainViewers | undefined;
    try {
      expect((await b!.stores.broadcasts.get(id))?.originNode).toBe('node-a');
      viewers = await PlainViewers.join(b!.url, id, 3, { lossRate: 0 });
      await until('B’s viewers receive through the relay', () => receiving(viewers!, Date.now() - 500), 15_000);
      expect(b!.cluster!.relays.count).toBe(1);

      viewers.resetGaps();
      const faultAt = Date.now();
      process.kill(a.node.pid, 'SIGKILL');
      const takenOverMs = await until('B hosts the broadcast', () => b!.live.onAir(id) !== undefined, 20_000).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}; the broadcaster's resumes failed with: ${caster.resumeFailures.join(' | ') || 'nothing'}`);
      });
      await until('B’s viewers receive from B', () => receiving(viewers!, Date.now() - 500), 20_000);
      const stats = viewers.stats();
      const gaps = stats.map((s) => s.maxGapMs / 1000).sort((x, y) => x - y);
      console.log(
        `FAULT-FIGURES ${JSON.stringify({
          scenario: 'kill -9 origin node (TTL 1 s)',
          viewers: stats.length,
          takenOverS: takenOverMs / 1000,
          receivingAgainS: (Date.now() - faultAt) / 1000,
          gapS: { median: gaps[Math.floor(gaps.length / 2)], max: gaps.at(-1) },
          broadcasterResumes: caster.resumes,
        })}`,
      );
      const record = await b!.stores.broadcasts.get(id);
      expect(record?.originNode).toBe('node-b');
      expect(record?.status).toBe('live');
      expect(caster.resumes).toBeGreaterThanOrEqual(1);
      expect(stats.every((s) => s.ended === null)).toBe(true);
      // The relay gave way to the origin.
      expect(b!.cluster!.relays.count).toBe(0);

      await caster.stop();
      await until('viewers learn that it ended', () => viewers!.stats().every((s) => s.ended !== null), 5000);
    } finally {
      viewers?.close();
      await caster.close();
    }
  }, 120_000);

  it('without its broadcaster, B ends the dead origin’s broadcast after the grace period', async () => {
    const a = await startNodeA('node-a2');
    const owner = await signUp(a.node.url, 'orphanowner');
    const caster = await PlainBroadcaster.start(a.node.url, owner.token, clip, 'Orphan');
    const id = caster.broadcastId as BroadcastId;
    let viewers: PlainViewers | undefined;
    try {
      viewers = await PlainViewers.join(b!.url, id, 2, { lossRate: 0 });
      await until('B’s viewers receive through the relay', () => receiving(viewers!, Date.now() - 500), 15_000);
      const faultAt = Date.now();
      await caster.close(); // the broadcaster is gone too (its socket reconnects nowhere)
      process.kill(a.node.pid, 'SIGKILL');
      const endedMs = await until('the broadcast ends', async () => (await b!.stores.broadcasts.get(id))?.status === 'ended', (GRACE_SECONDS + 10) * 1000);
      // Not before the claim lapsed (1 s) and the grace period ran.
      expect(Date.now() - faultAt).toBeGreaterThanOrEqual(GRACE_SECONDS * 1000);
      expect((await b!.stores.broadcasts.get(id))?.endReason).toBe('broadcaster-left');
      await until('B’s viewers learn that it ended', () => viewers!.stats().every((s) => s.ended !== null), 10_000);
      console.log(`FAULT-FIGURES ${JSON.stringify({ scenario: 'kill -9 origin node, no broadcaster', endedAfterS: endedMs / 1000, graceS: GRACE_SECONDS })}`);
    } finally {
      viewers?.close();
      await caster.close();
    }
  }, 120_000);
});
