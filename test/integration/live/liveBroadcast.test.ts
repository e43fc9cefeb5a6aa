import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EndReason } from '../../../common/protocol/events.ts';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import type { WorkerPool } from '../../../sfu/index.ts';
import { LiveBroadcast } from '../../../signaling/live/LiveBroadcast.ts';
import { localTally, type Notifier, type Recorder } from '../../../signaling/live/ports.ts';
import { LocalBroadcastDirectory } from '../../../common/cluster/BroadcastDirectory.ts';
import { OriginLease } from '../../../signaling/cluster/OriginLease.ts';
import { openDatabase, type DatabaseHandle } from '../../../signaling/store/Database.ts';
import { createStores, type Stores } from '../../../signaling/store/index.ts';
import type { UserRecord } from '../../../signaling/store/UserStore.ts';
import { createTestBroadcast, createTestPool, silentLogger } from '../../helpers/sfu.ts';

/** A notifier that writes down what the broadcast told its clients (the socket layer is tested elsewhere). */
function recordingNotifier() {
  const sent: Array<{ to: string; event: string; payload: unknown }> = [];
  const notifier: Notifier = {
    toBroadcast: (id, event, ...args) => void sent.push({ to: `b:${id}`, event, payload: args[0] }),
    toBroadcastHere: (id, event, ...args) => void sent.push({ to: `b:${id}@here`, event, payload: args[0] }),
    toPeer: (peerId, event, ...args) => void sent.push({ to: peerId, event, payload: args[0] }),
    join: () => undefined,
    leave: () => undefined,
    clear: (id) => void sent.push({ to: `b:${id}`, event: 'clear', payload: null }),
  };
  return { notifier, sent };
}

describe('LiveBroadcast (real mediasoup, real SQLite store)', () => {
  let pool: WorkerPool;
  let db: DatabaseHandle;
  let stores: Stores;
  let owner: UserRecord;
  let dir: string;
  beforeAll(async () => {
    pool = await createTestPool();
    dir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-live-'));
    db = await openDatabase({ sqlitePath: path.join(dir, 'spyglass.db'), logger: silentLogger() });
    stores = createStores(db.db, 'a-test-secret-of-enough-length');
    owner = await stores.users.create('caster', 'not-a-real-hash');
  });
  afterAll(async () => {
    await pool?.close();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const directory = new LocalBroadcastDirectory(5000);

  async function make(o: { graceSeconds?: number; recorder?: Recorder } = {}) {
    const record = await stores.broadcasts.create({ ownerId: owner.id, title: 'test', visibility: 'public', inviteeIds: [] });
    const { notifier, sent } = recordingNotifier();
    const live = new LiveBroadcast({
      record,
      media: await createTestBroadcast(pool),
      broadcasterPeerId: 'peer-owner',
      createMedia: () => createTestBroadcast(pool),
      stores,
      notifier,
      tally: localTally,
      countRefreshMs: 1000,
      lease: (await OriginLease.take({ directory, broadcastId: record.id, nodeId: 'local', renewMs: 1000, logger: silentLogger() }))!,
      recorder: o.recorder,
      logger: silentLogger(),
      graceSeconds: o.graceSeconds ?? 60,
      noMediaTimeoutSeconds: 0,
    });
    const closes: EndReason[] = [];
    live.on('close', (reason) => closes.push(reason));
    return { live, sent, closes, id: record.id };
  }

  it('closes once, whoever asks and however often: stored, told, recorded, one close event', async () => {
    const ended: BroadcastId[] = [];
    const recorder: Recorder = { assertCanRecord: async () => undefined, broadcastStarted: async () => undefined, broadcastEnded: async (id) => void ended.push(id), broadcastMoved: () => undefined };
    const { live, sent, closes, id } = await make({ recorder });
    const [a, b] = await Promise.all([live.close('stopped'), live.close('no-media')]);
    await live.close('broadcaster-left');
    expect(a).toEqual(b);
    expect(a.status).toBe('ended');
    expect(closes).toEqual(['stopped']);
    expect(ended).toEqual([id]);
    expect(sent.filter((m) => m.event === 'broadcast:ended')).toEqual([{ to: `b:${id}`, event: 'broadcast:ended', payload: { broadcastId: id, reason: 'stopped' } }]);
    expect((await stores.broadcasts.get(id))?.endReason).toBe('stopped');
    expect(live.media.closed).toBe(true);
  });

  it('ends itself when the broadcaster stays away past the grace period, and not when they come back', async () => {
    const gone = await make({ graceSeconds: 0.3 });
    gone.live.broadcasterLeft('peer-owner');
    expect((await stores.broadcasts.get(gone.id))?.status).toBe('reconnecting');
    await expect.poll(() => gone.closes).toEqual(['broadcaster-left']);

    const back = await make({ graceSeconds: 0.3 });
    back.live.broadcasterLeft('peer-owner');
    await back.live.resumeBroadcaster('peer-new');
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(back.closes).toEqual([]);
    expect(back.live.broadcasterPeerId).toBe('peer-new');
    expect((await stores.broadcasts.get(back.id))?.status).toBe('live');
    await back.live.close('stopped');
  });

  it('counts distinct viewers, never the owner, and pushes the count at most once per 250 ms', async () => {
    const { live, sent, id } = await make();
    await live.addViewer('p1', 'u:alice', 'alice-id');
    await live.addViewer('p2', 'u:alice', 'alice-id'); // a second tab of the same person
    await live.addViewer('p3', 'a:203.0.113.7', undefined);
    await live.addViewer('p4', `u:${owner.id}`, owner.id); // the owner watching from another tab
    expect(live.viewerCount).toBe(2);
    expect(live.isParticipant('p4')).toBe(true);
    await expect.poll(() => sent.filter((m) => m.event === 'viewers:count').length).toBe(1);
    expect(sent.find((m) => m.event === 'viewers:count')?.payload).toEqual({ broadcastId: id, count: 2 });
    live.removeViewer('p3');
    live.removeViewer('p3');
    expect(live.viewerCount).toBe(1);
    expect(live.viewerOf('p3')).toBeUndefined();
    expect(live.viewerOf('p1')).toBeDefined();
    await live.close('stopped');
    expect(live.viewerCount).toBe(0);
    await expect(live.addViewer('p5', 'u:late', 'late-id')).rejects.toThrow();
  });
});
