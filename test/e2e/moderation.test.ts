import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goLiveInPage, signUpInPage, waitForReplay, waitUntilSending } from '../../testkit/liveUi.ts';
import { startE2e, type E2eStage } from '../../testkit/e2e.ts';

/**
 * The broadcaster's moderation in Chromium, driven by role and name, on the real service (SFU,
 * Redis, a workers process recording the broadcast): the broadcaster removes a viewer's message
 * and blocks them from the viewer list; the message vanishes for a third viewer and from the
 * replay; the blocked viewer is put out at once and cannot come back, until the broadcaster
 * unblocks them from their account page.
 */
describe('moderation in Chromium', () => {
  let stage: E2eStage;

  beforeAll(async () => {
    stage = await startE2e({ workers: true });
  });
  afterAll(async () => {
    await stage?.close();
  });
  const newPage = (): Promise<Page> => stage.newPage();

  const chatText = async (page: Page) => (await page.getByRole('log', { name: 'Chat' }).textContent()) ?? '';

  it('the broadcaster removes a message and blocks its author; it vanishes for others and from the replay, and the author cannot rejoin', async () => {
    const host = await newPage();
    await signUpInPage(host, 'captain');
    const id = await goLiveInPage(host, 'Calm waters');
    await waitUntilSending(host);

    const troll = await newPage();
    await signUpInPage(troll, 'troll');
    await troll.goto(`/watch/${id}`);
    const lookout = await newPage();
    await signUpInPage(lookout, 'lookout');
    await lookout.goto(`/watch/${id}`);

    await troll.getByRole('textbox', { name: 'Chat message' }).fill('rude words');
    await troll.getByRole('button', { name: 'Send', exact: true }).click();
    await lookout.getByRole('textbox', { name: 'Chat message' }).fill('kind words');
    await lookout.getByRole('button', { name: 'Send', exact: true }).click();
    for (const page of [host, lookout, troll]) {
      await expect.poll(() => chatText(page), { timeout: 10_000 }).toContain('rude words');
      await expect.poll(() => chatText(page), { timeout: 10_000 }).toContain('kind words');
    }

    // The broadcaster removes the message from the chat line: gone for the other viewers, pushed.
    const chatPanel = host.getByRole('region', { name: 'Chat panel' });
    await chatPanel.getByRole('button', { name: 'Remove message from troll' }).click();
    await expect.poll(() => chatText(lookout), { timeout: 10_000 }).not.toContain('rude words');
    await expect.poll(() => chatText(troll), { timeout: 10_000 }).not.toContain('rude words');
    await expect.poll(() => chatText(host), { timeout: 10_000 }).not.toContain('rude words');
    expect(await chatText(lookout)).toContain('kind words');
    // A viewer who joins now does not get it either.
    const latecomer = await newPage();
    await latecomer.goto(`/watch/${id}`);
    await expect.poll(() => chatText(latecomer), { timeout: 10_000 }).toContain('kind words');
    expect(await chatText(latecomer)).not.toContain('rude words');

    // Slow mode, switched on live: the viewers' chat says so.
    await host.getByRole('combobox', { name: 'Slow mode' }).selectOption('10');
    await lookout.getByRole('status', { name: 'Chat settings' }).getByText('Slow mode: one message every 10 s').waitFor({ timeout: 10_000 });
    await host.getByRole('combobox', { name: 'Slow mode' }).selectOption('0');
    await lookout.getByRole('status', { name: 'Chat settings' }).waitFor({ state: 'hidden', timeout: 10_000 });

    // Who is watching: signed-in viewers by name, the anonymous counted; block the troll from there.
    await host.getByRole('button', { name: 'Show viewers' }).click();
    const viewerList = host.getByRole('list', { name: 'Viewers' });
    await viewerList.getByText('lookout', { exact: true }).waitFor({ timeout: 10_000 });
    await viewerList.getByText('troll', { exact: true }).waitFor();
    await host.getByText('1 anonymous viewer').waitFor();
    await viewerList.getByRole('button', { name: 'Block troll' }).click();
    await host.getByRole('status', { name: 'Moderation status' }).getByText('troll is blocked', { exact: false }).waitFor({ timeout: 10_000 });
    await expect.poll(async () => (await viewerList.textContent()) ?? '', { timeout: 10_000 }).not.toContain('troll');

    // The troll is put out at once, and cannot come back.
    await troll.getByRole('heading', { name: 'Broadcast not found', level: 1 }).waitFor({ timeout: 10_000 });
    await troll.reload();
    await troll.getByRole('heading', { name: 'Broadcast not found', level: 1 }).waitFor({ timeout: 10_000 });
    expect((await troll.request.get(`/api/broadcasts/${id}`)).status()).toBe(404);

    // The broadcast ends; its replay has the kept message and not the removed one.
    await host.getByRole('button', { name: 'End broadcast' }).click();
    const replay = await waitForReplay(lookout, id, 90_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\nworkers said:\n${stage.workers?.output().slice(-6000)}`);
    });
    expect(replay.state, replay.reason ?? '').toBe('ready');
    expect(replay.chat.map((m) => m.text)).toEqual(['kind words']);
    await lookout.goto(`/replay/${id}`);
    await lookout.getByLabel('Replay video').waitFor({ timeout: 15_000 });
    await lookout.evaluate(async () => {
      const v = document.querySelector('video')!;
      if (v.readyState < 1) await new Promise((resolve) => v.addEventListener('loadedmetadata', resolve, { once: true }));
      v.currentTime = v.duration;
    });
    await expect.poll(() => chatText(lookout), { timeout: 10_000 }).toContain('kind words');
    expect(await chatText(lookout)).not.toContain('rude words');
    // The troll does not find the replay either.
    expect((await troll.request.get(`/api/replays/${id}`)).status()).toBe(404);

    // The broadcaster lets them back in from the account page.
    await host.goto('/account');
    const blocked = host.getByRole('list', { name: 'Blocked users' });
    await blocked.getByText('troll', { exact: true }).waitFor({ timeout: 10_000 });
    await blocked.getByRole('button', { name: 'Unblock troll' }).click();
    await host.getByText('troll is unblocked.').waitFor({ timeout: 10_000 });
    await blocked.getByText('You have not blocked anyone.').waitFor();
    expect((await troll.request.get(`/api/replays/${id}`)).status()).toBe(200);
  }, 240_000);
});
