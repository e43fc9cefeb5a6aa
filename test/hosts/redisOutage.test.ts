import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { videoFramesByStream } from '../../testkit/browser.ts';
import { decodingSteadily, framesOver, Hosts, NODE_PORT } from '../helpers/hosts.ts';
import { connect, request } from '../../testkit/server.ts';

/**
 * The deployment's Redis down for 10 s (killed, then started again with its append-only
 * file): a broadcast on A watched through B keeps playing. A new join on C, which has no relay
 * of it and must ask Redis where its origin is, fails at once with a clear error; a new join on
 * B is served from B's open relay (no Redis needed: docs/scale.md). Once Redis is back, joins
 * on C work again and a new viewer there decodes, and B's viewer goes on with the same stream:
 * Redis came back without the origin's claim and the nodes' heartbeats (expired meanwhile),
 * and the origin claimed its broadcast again, which keeps the relays of its pipes.
 */
describe('Redis down for 10 s', () => {
  let hosts: Hosts;
  let host: Page;
  let viewer: Page;
  let broadcastId: string;

  beforeAll(async () => {
    hosts = await Hosts.start({ name: 'ro', nodes: ['a', 'b', 'c'], routes: [['a'], ['b'], ['c']] });
  }, 180_000);
  afterAll(() => hosts?.stop(), 60_000);

  /** A socket.io client joins the broadcast on node `id` directly; resolves with the ack and how long it took. */
  async function joinOn(id: string): Promise<{ ok: boolean; code?: string; message?: string; ms: number }> {
    const t0 = performance.now();
    const socket = await connect(`http://${hosts.cluster.node(id).address}:${NODE_PORT}`);
    try {
      const res = await request(socket, 'broadcast:join', { broadcastId });
      const ms = Math.round(performance.now() - t0);
      return res.ok ? { ok: true, ms } : { ok: false, code: res.error.code, message: res.error.message, ms };
    } finally {
      socket.disconnect();
    }
  }

  it('keeps current viewers watching, refuses new joins clearly, and takes them again once Redis is back', async () => {
    ({ host, id: broadcastId } = await hosts.goLive(0, 'redis_outage_host', 'Redis outage'));
    viewer = await hosts.page(1);
    await viewer.goto(`/watch/${broadcastId}`);
    await decodingSteadily(viewer);
    expect((await joinOn('b')).ok).toBe(true);
    // The video streams the page decodes (mediasoup's probation stream, SSRC 1234, decodes none).
    const decoding = async () => Object.entries(await videoFramesByStream(viewer)).filter(([, frames]) => frames > 0).map(([stream]) => stream);
    const streams = await decoding();

    await hosts.cluster.stopRedis();
    const outage = framesOver(viewer, 10_000);
    await viewer.waitForTimeout(2000);
    const refused = await joinOn('c');
    const relayed = await joinOn('b');
    const watched = await outage;
    console.log(`Redis down 10 s: B's viewer decoded ${watched.frames} frames, longest freeze ${watched.longestFreezeMs} ms; a join on C answered ${refused.code} in ${refused.ms} ms (${refused.message}); one on B ${relayed.ok ? 'was served' : relayed.code} in ${relayed.ms} ms`);
    expect(watched.frames).toBeGreaterThan(50);
    expect(watched.longestFreezeMs).toBeLessThan(1000);
    expect(refused.ok).toBe(false);
    expect(refused.code).toBe('UNAVAILABLE');
    expect(refused.ms).toBeLessThan(5000);
    expect(relayed.ok).toBe(true);

    const t0 = performance.now();
    await hosts.cluster.startRedis();
    // Two TTLs (4 s here) and more: how long the nodes wait for claims and heartbeats to be written again.
    const settling = framesOver(viewer, 8000);
    let back: Awaited<ReturnType<typeof joinOn>> | undefined;
    while (performance.now() - t0 < 20_000) {
      back = await joinOn('c');
      if (back.ok) break;
      await viewer.waitForTimeout(250);
    }
    const backMs = Math.round(performance.now() - t0);
    console.log(`Redis back: a join on C works again ${backMs} ms after Redis started`);
    expect(back?.ok).toBe(true);

    // The viewer who watched through the outage still does, on the same stream, never told to reconnect.
    const after = await settling;
    console.log(`after Redis is back: B's viewer decoded ${after.frames} frames over 8 s, longest freeze ${after.longestFreezeMs} ms`);
    expect(after.longestFreezeMs).toBeLessThan(1000);
    expect(await decoding()).toEqual(streams);
    expect(await viewer.locator('.broadcast-state').textContent()).not.toContain('Reconnecting');
    // A new viewer on C decodes; the broadcaster is still live.
    const late = await hosts.page(2);
    await late.goto(`/watch/${broadcastId}`);
    await decodingSteadily(late);
    expect(await host.locator('.broadcast-state').textContent()).toContain('You are live');
  }, 120_000);
});
