import os from 'node:os';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiveNode } from '../../common/cluster/NodeRegistry.ts';
import { selectedCandidatePairs, videoFramesByStream } from '../../testkit/browser.ts';
import { decodingSteadily, framesOver, Hosts, newStreamDecodingAt } from '../helpers/hosts.ts';
import { runScript } from '../helpers/scripts.ts';

/**
 * `npm run admin -- node drain b` on three hosts (network namespaces; scripts/cluster), each
 * node reached through a balancer of its own that is also its node URL (so redirects and moves
 * stay on the pages' host name). The broadcaster is on A, a viewer on B. Draining B moves the
 * viewer to the least-loaded other node, C, with the video playing throughout (the page joins
 * on C before it leaves B); a new viewer arriving at B is redirected to another node and
 * watches there. The figures are printed.
 */
describe('an admin drains a node', () => {
  let hosts: Hosts;
  let viewer: Page;
  let broadcastId = '';
  const admin = (...args: string[]) => {
    const env = hosts.cluster.envFor('a', os.tmpdir());
    return runScript('scripts/admin.ts', args, { REDIS_URL: env.REDIS_URL!, SPYGLASS_QUEUE_PREFIX: env.SPYGLASS_QUEUE_PREFIX!, DATA_DIR: os.tmpdir() });
  };
  const consumersOn = async (id: string) => {
    const res = await admin('nodes', '--json');
    return (JSON.parse(res.stdout) as LiveNode[]).find((n) => n.id === id)?.load.consumers;
  };
  /** The node addresses the page's open peer connections receive media from. */
  const mediaFrom = async (page: Page) => (await selectedCandidatePairs(page)).map((p) => p.remote.address);

  beforeAll(async () => {
    hosts = await Hosts.start({ name: 'dr', nodes: ['a', 'b', 'c'], routes: [['a'], ['b'], ['c']], nodeUrls: true });
  }, 180_000);
  afterAll(() => hosts?.stop(), 60_000);

  it('moves the viewer of a drained node to another node without a freeze', async () => {
    const live = await hosts.goLive(0, 'dock_cam', 'Draining B');
    broadcastId = live.id;
    viewer = await hosts.page(1);
    await viewer.goto(`/watch/${broadcastId}`);
    await decodingSteadily(viewer);
    expect(await mediaFrom(viewer)).toEqual([hosts.cluster.node('b').address]);

    const before = await videoFramesByStream(viewer);
    const t0 = performance.now();
    const watched = framesOver(viewer, 8000);
    const drained = await admin('node', 'drain', 'b');
    expect(drained.code, drained.stderr).toBe(0);
    const movedMs = await newStreamDecodingAt(viewer, before, t0, 8000);
    const { frames, longestFreezeMs } = await watched;
    console.log(`drain of B: its viewer decodes from another node ${movedMs} ms after the command; longest freeze over 8 s ${longestFreezeMs} ms (${frames} frames)`);
    // Make before break: the old video plays until the new one has media. A rejoin takes 1–2.5 s.
    expect(longestFreezeMs).toBeLessThan(1000);
    await expect.poll(() => mediaFrom(viewer), { timeout: 5000 }).toEqual([hosts.cluster.node('c').address]);
    await expect.poll(() => consumersOn('b'), { timeout: 10_000 }).toBe(0);
    await decodingSteadily(viewer);
  }, 120_000);

  it('sends a new viewer arriving at the drained node to another node, where it watches', async () => {
    const late = await hosts.page(1);
    await late.goto(`/watch/${broadcastId}`);
    await decodingSteadily(late);
    const from = await mediaFrom(late);
    expect(from).toHaveLength(1);
    expect([hosts.cluster.node('a').address, hosts.cluster.node('c').address]).toContain(from[0]);
    expect(await consumersOn('b')).toBe(0);
  }, 60_000);
});
