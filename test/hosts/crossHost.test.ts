import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inboundStats, videoFramesByStream } from '../../testkit/browser.ts';
import { METRICS_PORT } from '../../scripts/cluster/LocalCluster.ts';
import { decodingSteadily, framesOver, Hosts, newStreamDecodingAt } from '../helpers/hosts.ts';
import { signUpInPage } from '../../testkit/liveUi.ts';

/**
 * Spyglass on three hosts (network namespaces, each node its own address; scripts/cluster):
 * a broadcaster in Chromium on node A, viewers in Chromium on nodes B and C. Each page reaches
 * its node through a TCP balancer on the machine's loopback that fails over to the next node
 * (as a deployment's balancer does): the broadcaster's to A then C, the first viewer's to B
 * then C, the second viewer's to C then B.
 *
 * Then, in order: 2 % loss on the A–B link (B's viewer keeps decoding); kill -9 of node B
 * (its viewer decodes again through C); kill -9 of the origin A (the broadcaster resumes on C,
 * and the viewers on C decode again). The figures are printed; the thresholds are the issue's.
 */
describe('one broadcast across three hosts', () => {
  let hosts: Hosts;
  let host: Page;
  let viewerB: Page;
  let viewerC: Page;

  beforeAll(async () => {
    hosts = await Hosts.start({ name: 'ch', nodes: ['a', 'b', 'c'], routes: [['a', 'c'], ['b', 'c'], ['c', 'b']] });
  }, 180_000);
  afterAll(() => hosts?.stop(), 60_000);

  it('serves a broadcast on A to viewers on B and C, with chat, hearts and the total count', async () => {
    const live = await hosts.goLive(0, 'harbour_cam', 'Three hosts, one harbour');
    host = live.host;
    const id = live.id;

    viewerB = await hosts.page(1);
    await signUpInPage(viewerB, 'viewer_on_b');
    viewerC = await hosts.page(2);
    await Promise.all([viewerB.goto(`/watch/${id}`), viewerC.goto(`/watch/${id}`)]);
    for (const viewer of [viewerB, viewerC]) {
      await decodingSteadily(viewer);
      const s = await inboundStats(viewer);
      expect(s.frameWidth).toBeGreaterThan(0);
      await expect.poll(async () => (await inboundStats(viewer)).audioPackets, { timeout: 10_000 }).toBeGreaterThan(10);
    }

    // Each viewer's page reported its join-to-first-frame to the node serving it, through its relay there.
    const firstFrames = async (id: string) => {
      const text = await (await fetch(`http://${hosts.cluster.node(id).address}:${METRICS_PORT}/metrics`)).text();
      const read = (what: string) => Number(new RegExp(`^spyglass_join_first_frame_seconds_${what}\\{[^}]*served="relay"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
      return { count: read('count'), sum: read('sum') };
    };
    for (const id of ['b', 'c']) {
      await expect.poll(async () => (await firstFrames(id)).count, { timeout: 10_000 }).toBe(1);
      console.log(`the viewer on ${id.toUpperCase()} reported its first frame ${Math.round((await firstFrames(id)).sum * 1000)} ms after its join started`);
    }

    // Every page reads the total: two viewers, on two nodes.
    for (const page of [host, viewerB, viewerC]) {
      await expect.poll(async () => (await page.getByRole('status', { name: 'Viewer count' }).textContent()) ?? '', { timeout: 10_000 }).toContain('2 watching');
    }

    // Chat from B reaches A and C; chat from A reaches B and C.
    await viewerB.getByRole('textbox', { name: 'Chat message' }).fill('hello from b');
    await viewerB.getByRole('button', { name: 'Send', exact: true }).click();
    await host.getByRole('textbox', { name: 'Chat message' }).fill('hello from a');
    await host.getByRole('button', { name: 'Send', exact: true }).click();
    for (const page of [host, viewerB, viewerC]) {
      const log = page.getByRole('log', { name: 'Chat' });
      await expect.poll(async () => (await log.textContent()) ?? '', { timeout: 10_000 }).toContain('viewer_on_b: hello from b');
      await expect.poll(async () => (await log.textContent()) ?? '', { timeout: 10_000 }).toContain('harbour_cam: hello from a');
    }

    // Hearts from C (anonymous) reach A and B.
    const heart = viewerC.getByRole('button', { name: 'Send a heart' });
    for (let i = 0; i < 3; i++) await heart.click();
    for (const page of [host, viewerB]) {
      await expect.poll(async () => Number((await page.getByLabel('Hearts', { exact: true }).textContent())?.trim() ?? 0), { timeout: 10_000 }).toBe(3);
    }
  }, 120_000);

  it('keeps B decoding through 2 % loss on the A–B link, without a freeze over 1 s', async () => {
    // A's /metrics: the NACKs its pipe to B received (B asking for what the link lost).
    const nacks = async () => {
      const text = await (await fetch(`http://${hosts.cluster.node('a').address}:${METRICS_PORT}/metrics`)).text();
      return Number(/^spyglass_cluster_pipe_nacks\{edge_node="b",process="signaling"\} (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
    };
    const nacksBefore = await nacks();
    await hosts.cluster.network.setLoss('a', 'b', 2);
    try {
      const lossy = await framesOver(viewerB, 10_000);
      const repaired = (await nacks()) - nacksBefore;
      console.log(`2 % loss A–B: B decoded ${lossy.frames} frames in 10 s, longest freeze ${lossy.longestFreezeMs} ms; the pipe received ${repaired} NACKs`);
      // The bar is the freeze; the frame count only says it kept decoding (the fake camera's rate falls on a busy machine).
      expect(lossy.frames).toBeGreaterThan(50);
      expect(lossy.longestFreezeMs).toBeLessThan(1000);
      // The NACKs are printed, not asserted: at 2 % over 10 s a run saw 0 to 5 (the loss hits
      // audio, RTCP and the NACKs themselves too), so a bar would be a coin toss.
      expect(Number.isFinite(repaired)).toBe(true);
    } finally {
      await hosts.cluster.network.setLoss('a', 'b', 0);
    }
  }, 90_000);

  it('moves the viewer of a killed edge node B to C within 5 s', async () => {
    const before = await videoFramesByStream(viewerB);
    const t0 = performance.now();
    hosts.cluster.node('b').process.kill('SIGKILL');
    // The page's peer connection to B dies; socket.io reconnects through the balancer to C and joins again.
    const backMs = await newStreamDecodingAt(viewerB, before, t0, 15_000);
    console.log(`kill -9 of edge B: its viewer decodes again through C ${backMs} ms later`);
    expect(backMs).toBeLessThan(5000);
    await decodingSteadily(viewerB);
  }, 90_000);

  it('resumes the broadcast on C when the origin A is killed, and the viewers on C decode again', async () => {
    const before = await Promise.all([viewerB, viewerC].map((v) => videoFramesByStream(v)));
    const t0 = performance.now();
    hosts.cluster.node('a').process.kill('SIGKILL');
    // The broadcaster's page reconnects (through its balancer, to C) and resumes once A's claim lapsed.
    const state = host.locator('.broadcast-state');
    await expect.poll(async () => (await state.textContent()) ?? '', { timeout: 5_000, interval: 50 }).toContain('Reconnecting');
    await expect.poll(async () => (await state.textContent()) ?? '', { timeout: 30_000 }).toContain('You are live');
    const resumedMs = Math.round(performance.now() - t0);
    const figures: number[] = [];
    for (const [i, viewer] of [viewerB, viewerC].entries()) {
      // A frame of a new stream (its relay from the new origin), then steady decoding.
      figures.push(await newStreamDecodingAt(viewer, before[i]!, t0, 30_000));
      await decodingSteadily(viewer);
    }
    console.log(`kill -9 of origin A: the broadcaster is live again on C ${resumedMs} ms after the kill; the viewers on C decode again ${figures.join(' and ')} ms after it`);
    // Within the grace period (30 s by default).
    for (const f of figures) expect(f).toBeLessThan(30_000);
  }, 90_000);
});
