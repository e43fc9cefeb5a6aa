import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inboundStats } from '../../testkit/browser.ts';
import { startE2e, type E2eStage } from '../../testkit/e2e.ts';
import { signUpInPage } from '../../testkit/liveUi.ts';

/**
 * The whole live path in real Chromium with a fake camera and microphone: sign up, go live,
 * two viewers decode video and receive audio, chat and hearts reach the others, the viewer
 * count reads 2, and ending the broadcast shows "Broadcast ended" to both viewers.
 */
describe('go live and watch in Chromium', () => {
  let e2e: E2eStage | undefined;

  beforeAll(async () => {
    e2e = await startE2e({ server: { mediasoup: { numWorkers: 2 } } });
  });
  afterAll(async () => {
    await e2e?.close();
  });

  const newPage = (): Promise<Page> => e2e!.newPage();

  it('broadcasts to two viewers with chat, hearts, viewer count and the end', async () => {
    const host = await newPage();
    await signUpInPage(host, 'hostess');
    await host.goto('/live');
    await host.getByRole('textbox', { name: 'Title' }).fill('Morning at the harbour');
    await host.getByRole('radio', { name: 'Public' }).check();
    await host.getByRole('button', { name: 'Go live' }).click();
    const watchLink = host.getByRole('link', { name: 'Watch link' });
    await watchLink.waitFor({ timeout: 15_000 });
    const watchUrl = await watchLink.getAttribute('href');
    expect(watchUrl).toMatch(/\/watch\/b_[A-Za-z0-9_-]+$/);

    // The home page lists it.
    const signedIn = await newPage();
    await signUpInPage(signedIn, 'viewer_one');
    await signedIn.goto('/');
    await signedIn.getByRole('link', { name: /Morning at the harbour/ }).waitFor({ timeout: 10_000 });

    const anonymous = await newPage();
    await Promise.all([signedIn.goto(watchUrl!), anonymous.goto(watchUrl!)]);

    for (const viewer of [signedIn, anonymous]) {
      await expect
        .poll(async () => (await inboundStats(viewer)).framesDecoded, { timeout: 20_000, interval: 250 })
        .toBeGreaterThan(10);
      const first = await inboundStats(viewer);
      expect(first.frameWidth).toBeGreaterThan(0);
      expect(first.frameHeight).toBeGreaterThan(0);
      await expect.poll(async () => (await inboundStats(viewer)).audioPackets, { timeout: 10_000 }).toBeGreaterThan(10);
      // Frames keep being decoded: the stream is live, not one frozen frame.
      await expect.poll(async () => (await inboundStats(viewer)).framesDecoded, { timeout: 10_000 }).toBeGreaterThan(first.framesDecoded + 10);
    }

    // The viewer count reads 2 for the broadcaster.
    const count = host.getByRole('status', { name: 'Viewer count' });
    await expect.poll(async () => (await count.textContent()) ?? '', { timeout: 10_000 }).toContain('2 watching');

    // A chat message reaches the broadcaster and the other viewer.
    await signedIn.getByRole('textbox', { name: 'Chat message' }).fill('what a view');
    await signedIn.getByRole('button', { name: 'Send', exact: true }).click();
    for (const page of [host, anonymous]) {
      await expect
        .poll(async () => (await page.getByRole('log', { name: 'Chat' }).textContent()) ?? '', { timeout: 10_000 })
        .toContain('viewer_one: what a view');
    }

    // Hearts from the anonymous viewer reach the broadcaster and the other viewer.
    const heart = anonymous.getByRole('button', { name: 'Send a heart' });
    for (let i = 0; i < 3; i++) await heart.click();
    for (const page of [host, signedIn]) {
      await expect
        .poll(async () => Number((await page.getByLabel('Hearts', { exact: true }).textContent())?.trim() ?? 0), { timeout: 10_000 })
        .toBe(3);
    }

    // Ending the broadcast shows "Broadcast ended" to both viewers.
    await host.getByRole('button', { name: 'End broadcast' }).click();
    for (const viewer of [signedIn, anonymous]) {
      await viewer.getByText('Broadcast ended').first().waitFor({ timeout: 10_000 });
    }
  });
});
