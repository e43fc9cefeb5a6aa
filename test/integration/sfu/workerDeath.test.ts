import { afterEach, describe, expect, it } from 'vitest';
import type { Broadcast, Viewer, ViewerCloseReason, WorkerPool } from '../../../sfu/index.ts';
import { audioRtpParameters, videoSimulcastRtpParameters } from '../../fixtures/rtp.ts';
import { createTestBroadcast, createTestPool, processAlive, waitFor } from '../../helpers/sfu.ts';

/** A broadcast with both producers and `n` viewers that have consumed them. */
async function setup(pool: WorkerPool, maxViewersPerRouter: number, n: number): Promise<{ broadcast: Broadcast; viewers: Viewer[] }> {
  const broadcast = await createTestBroadcast(pool, maxViewersPerRouter);
  const t = await broadcast.createSendTransport();
  await broadcast.produce({ transportId: t.id, kind: 'video', rtpParameters: videoSimulcastRtpParameters });
  await broadcast.produce({ transportId: t.id, kind: 'audio', rtpParameters: audioRtpParameters });
  const viewers: Viewer[] = [];
  for (let i = 0; i < n; i += 1) {
    const v = await broadcast.addViewer(`viewer-${i}`);
    const vt = await v.createTransport();
    expect(await v.consume(vt.id, broadcast.rtpCapabilities)).toHaveLength(2);
    viewers.push(v);
  }
  return { broadcast, viewers };
}

function recordCloses(viewers: Viewer[]): Map<string, ViewerCloseReason> {
  const reasons = new Map<string, ViewerCloseReason>();
  for (const v of viewers) v.on('close', (r) => reasons.set(v.id, r));
  return reasons;
}

describe('Media worker death', () => {
  let pool: WorkerPool | undefined;
  let broadcast: Broadcast | undefined;
  afterEach(async () => {
    broadcast?.close();
    broadcast = undefined;
    await pool?.close();
    pool = undefined;
  });

  it('origin worker killed: the broadcast closes with worker-died, its viewers too, the process lives on', async () => {
    pool = await createTestPool({ numWorkers: 2 });
    const s = await setup(pool, 2, 3);
    broadcast = s.broadcast;
    const reasons = recordCloses(s.viewers);
    const broadcastReasons: string[] = [];
    broadcast.on('close', (r) => broadcastReasons.push(r));
    const closed = waitFor(broadcast, 'close');
    const replaced = waitFor(pool, 'workerreplaced');

    const originPid = pool.workers[broadcast.originWorkerIndex]?.pid ?? 0;
    process.kill(originPid, 'SIGKILL');
    const [reason] = await closed;
    expect(reason).toBe('worker-died');
    expect(broadcastReasons).toEqual(['worker-died']);
    expect(broadcast.closed).toBe(true);
    expect(broadcast.viewerCount).toBe(0);
    expect([...reasons.values()]).toEqual(['worker-died', 'worker-died', 'worker-died']);
    expect(s.viewers.every((v) => v.closed)).toBe(true);
    expect(processAlive(process.pid)).toBe(true);

    // After the replacement, a new broadcast (what the signalling layer does next) works.
    await replaced;
    const again = await setup(pool, 2, 1);
    again.broadcast.close();
  });

  it('edge worker killed: only the edge viewers close; the broadcast and origin viewers stay', async () => {
    pool = await createTestPool({ numWorkers: 2 });
    const s = await setup(pool, 2, 4);
    broadcast = s.broadcast;
    const originIndex = broadcast.originWorkerIndex;
    const onOrigin = s.viewers.filter((v) => v.routerWorkerIndex === originIndex);
    const onEdge = s.viewers.filter((v) => v.routerWorkerIndex !== originIndex);
    expect(onOrigin).toHaveLength(2);
    expect(onEdge).toHaveLength(2);
    const reasons = recordCloses(s.viewers);
    let broadcastClosed = false;
    broadcast.on('close', () => (broadcastClosed = true));

    const edgeClosed = onEdge.map((v) => waitFor(v, 'close'));
    const replaced = waitFor(pool, 'workerreplaced');
    process.kill(onEdge[0]?.routerWorkerPid ?? 0, 'SIGKILL');
    for (const [reason] of await Promise.all(edgeClosed)) expect(reason).toBe('worker-died');

    expect(broadcastClosed).toBe(false);
    expect(broadcast.closed).toBe(false);
    expect(broadcast.edgeCount).toBe(0);
    expect(broadcast.viewerCount).toBe(2);
    expect(onOrigin.every((v) => !v.closed)).toBe(true);
    expect([...reasons.keys()].sort()).toEqual(onEdge.map((v) => v.id).sort());
    expect(broadcast.producers).toHaveLength(2);

    // The edge viewers rejoin: they land on a fresh edge (on the replacement worker once
    // it is up) and get both tracks again.
    await replaced;
    for (const old of onEdge) {
      const v = await broadcast.addViewer(old.id);
      expect(v).not.toBe(old);
      expect(v.routerWorkerIndex).not.toBe(originIndex);
      const t = await v.createTransport();
      expect(await v.consume(t.id, broadcast.rtpCapabilities)).toHaveLength(2);
    }
    expect(broadcast.viewerCount).toBe(4);
  });

  it('origin viewers keep their consumers when an edge dies', async () => {
    pool = await createTestPool({ numWorkers: 2 });
    const s = await setup(pool, 1, 2);
    broadcast = s.broadcast;
    const [originViewer, edgeViewer] = s.viewers;
    if (!originViewer || !edgeViewer) throw new Error('setup');
    const edgeClosed = waitFor(edgeViewer, 'close');
    process.kill(edgeViewer.routerWorkerPid, 'SIGKILL');
    await edgeClosed;
    expect(originViewer.closed).toBe(false);
    expect(originViewer.consumerCount).toBe(2);
  });
});
