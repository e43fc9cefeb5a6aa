import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiveNode } from '../../../common/cluster/NodeRegistry.ts';
import { runScript } from '../../helpers/scripts.ts';
import { connect, request, signUp, startTestServer, testQueuePrefix, type ClientSocket, type TestServer } from '../../../testkit/server.ts';

/** Two Spyglass nodes in cluster mode on one Redis prefix, and the admin CLI that sees them. */
describe('nodes in cluster mode (real Redis, admin CLI)', { timeout: 90_000 }, () => {
  const prefix = testQueuePrefix();
  let a: TestServer;
  let b: TestServer;
  const sockets: ClientSocket[] = [];
  const admin = (...args: string[]) => runScript('scripts/admin.ts', args, { REDIS_URL: a.config.redisUrl, SPYGLASS_QUEUE_PREFIX: prefix, DATA_DIR: a.dataDir });
  /**
   * Whether a new user of node A may go live there now: 'started' (then stopped) or the refusal's
   * code. Polled, since a node reads its drain flag at its next heartbeat.
   */
  const goLiveOnA = async (username: string) => {
    const user = await signUp(a.url, username);
    const onA = await connect(a.url, user.token);
    sockets.push(onA);
    return async () => {
      const r = await request(onA, 'broadcast:start', { title: 'on A', visibility: 'public', invitees: [] });
      if (r.ok) await request(onA, 'broadcast:stop', { broadcastId: r.data.broadcast.id });
      return r.ok ? 'started' : r.error.code;
    };
  };
  const cluster = (nodeId: string) => ({ queuePrefix: prefix, recording: { enabled: false }, cluster: { enabled: true, nodeId, heartbeatMs: 200, ttlMs: 1000 } });

  beforeAll(async () => {
    a = await startTestServer(cluster('node-a'));
    b = await startTestServer(cluster('node-b'));
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await a?.stop();
    await b?.stop();
  });

  it('lists both nodes with their URL, media address and load', async () => {
    const res = await admin('nodes', '--json');
    expect(res.code, res.stderr).toBe(0);
    const nodes = JSON.parse(res.stdout) as LiveNode[];
    expect(nodes.map((n) => [n.id, n.url, n.draining])).toEqual([
      ['node-a', a.url, false],
      ['node-b', b.url, false],
    ]);
    expect(nodes[0]!.load.workers).toHaveLength(a.pool.workers.length);
    // Each worker's CPU over the last heartbeat interval (a share of one core), from its second beat on.
    await expect
      .poll(async () => (JSON.parse((await admin('nodes', '--json')).stdout) as LiveNode[])[0]!.load.workers.map((w) => typeof w.cpu === 'number' && w.cpu >= 0 && w.cpu < 64), { timeout: 10_000 })
      .toEqual(a.pool.workers.map(() => true));
    const text = await admin('nodes');
    expect(text.stdout).toMatch(/^node-a {2}serving {2}http:\/\/127\.0\.0\.1:\d+ .* workers \d+ \(cpu \d+%( \d+%)*\) {2}since /m);
  });

  it('drains a node: it starts no new broadcast, the other node still does', async () => {
    const drained = await admin('node', 'drain', 'node-a');
    expect(drained.code, drained.stderr).toBe(0);
    await expect.poll(await goLiveOnA('drainee')).toBe('UNAVAILABLE');
    const other = await signUp(b.url, 'elsewhere');
    const onB = await connect(b.url, other.token);
    sockets.push(onB);
    expect((await request(onB, 'broadcast:start', { title: 'fine', visibility: 'public', invitees: [] })).ok).toBe(true);
    expect((JSON.parse((await admin('nodes', '--json')).stdout) as LiveNode[]).find((n) => n.id === 'node-a')?.draining).toBe(true);
  });

  it('undrained: the node starts broadcasts again; undraining a node that is not drained is refused', async () => {
    const undrained = await admin('node', 'undrain', 'node-a');
    expect(undrained.code, undrained.stderr).toBe(0);
    const again = await admin('node', 'undrain', 'node-a');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/node "node-a" is not draining/);
    await expect.poll(await goLiveOnA('undrained')).toBe('started');
  });

  it('refuses to drain a node that does not exist (exit 1) or a malformed id (exit 2), with the reason', async () => {
    const missing = await admin('node', 'drain', 'node-zzz');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no live node "node-zzz"/);
    const bad = await admin('node', 'drain', 'a b; FLUSHALL');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/is not a node id/);
  });

  it('forgets a node once it stops', async () => {
    await b.stop();
    const nodes = JSON.parse((await admin('nodes', '--json')).stdout) as LiveNode[];
    expect(nodes.map((n) => n.id)).toEqual(['node-a']);
  });
});
