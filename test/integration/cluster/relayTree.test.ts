import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesiseClip } from '../../../testkit/media.ts';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import { FAULT_CLIP } from '../../faults/harness.ts';
import { PlainBroadcaster, PlainViewers, type ViewerStats } from '../../../testkit/plainPeers.ts';
import { installPlainWebRtc } from '../../../testkit/plainWebRtc.ts';
import { createTestDatabase, type TestDatabase } from '../../../testkit/postgres.ts';
import { request, signUp, startTestServer, testQueuePrefix, type TestServer } from '../../../testkit/server.ts';

/**
 * The relay tree (docs/scale.md): three nodes with `cluster.maxDirectEdges` 1. A broadcast on
 * A; a viewer on B makes A pipe it to B; a viewer on C makes C ask A, which sends it to B
 * (A feeds as many edges as it may): B's relay pipes it on to C. The origin's upstream cost
 * stays one pipe.
 */
describe('three nodes, one direct edge allowed: a relay tree', () => {
  let db: TestDatabase | undefined;
  const nodes: TestServer[] = [];
  let clip = '';

  beforeAll(async () => {
    installPlainWebRtc();
    db = await createTestDatabase();
    const shared = {
      databaseUrl: db.url,
      queuePrefix: testQueuePrefix(),
      socketAdapter: 'redis' as const,
      recording: { enabled: false },
    };
    for (const id of ['a', 'b', 'c']) {
      nodes.push(await startTestServer({ ...shared, cluster: { enabled: true, relayIdleMs: 500, maxDirectEdges: 1, nodeId: `tree-${id}` } }));
    }
    clip = await synthesiseClip(FAULT_CLIP);
  }, 120_000);
  afterAll(async () => {
    for (const n of nodes.reverse()) await n.stop().catch(() => undefined);
    await db?.drop();
  });

  const a = () => nodes[0]!;
  const b = () => nodes[1]!;
  const c = () => nodes[2]!;
  const receivingBoth = (v: ViewerStats, since: number) => v.video > 0 && v.audio > 0 && v.lastRtpAt !== null && v.lastRtpAt > since;

  async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
      await sleep(100);
    }
  }

  it('feeds C from B’s relay, keeps B’s relay while it feeds C, and folds the tree up as viewers leave', async () => {
    const owner = await signUp(a().url, 'treeowner');
    const caster = await PlainBroadcaster.start(a().url, owner.token, clip, 'A relay tree');
    const id = caster.broadcastId as BroadcastId;
    let onB: PlainViewers | undefined;
    let onC: PlainViewers | undefined;
    try {
      onB = await PlainViewers.join(b().url, id, 1, { lossRate: 0 });
      await until('the viewer on B receives', () => onB!.stats().every((v) => receivingBoth(v, Date.now() - 1000)));
      onC = await PlainViewers.join(c().url, id, 2, { lossRate: 0 });
      const since = Date.now();
      await until('the viewers on C receive audio and video', () => onC!.stats().every((v) => receivingBoth(v, since)));
      expect(onC.stats().every((v) => v.joinFailures === 0)).toBe(true);

      // A pipes to B only; B pipes on to C; C pipes to nobody.
      expect(Object.fromEntries(a().cluster!.pipesByNode())).toEqual({ 'tree-b': 1 });
      expect(Object.fromEntries(b().cluster!.pipesByNode())).toEqual({ 'tree-c': 1 });
      expect(c().cluster!.pipesByNode().size).toBe(0);
      expect([b().cluster!.relays.count, c().cluster!.relays.count]).toEqual([1, 1]);

      // B's only viewer leaves: B's relay stays, since it feeds C, and C keeps receiving.
      onB.close();
      await sleep(2000);
      expect(b().cluster!.relays.count).toBe(1);
      const later = Date.now();
      await until('the viewers on C still receive', () => onC!.stats().every((v) => receivingBoth(v, later)), 5000);

      // C's viewers leave: C's relay closes, then B's, then A's pipe.
      onC.close();
      await until('the tree folds up', () => c().cluster!.relays.count === 0 && b().cluster!.relays.count === 0 && a().cluster!.pipesByNode().size === 0, 10_000);
      expect(a().live.onAir(id)).toBeDefined();
    } finally {
      onB?.close();
      onC?.close();
      await request(caster.socket, 'broadcast:stop', { broadcastId: id }).catch(() => undefined);
      await caster.close();
    }
  }, 90_000);
});
