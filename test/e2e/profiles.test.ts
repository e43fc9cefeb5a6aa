import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../testkit/browser.ts';
import { goLiveInPage, signUpInPage } from '../../testkit/liveUi.ts';
import { startTestServer, type TestServer } from '../../testkit/server.ts';

/**
 * Profiles and following in Chromium, driven by role and name: a user follows a broadcaster on
 * the broadcaster's profile; when the broadcaster goes live, every open page of the follower
 * shows the notification (pushed over socket.io) with a link to watch, the bell lists it
 * unread, and home shows the broadcast under "Following — live now".
 */
describe('follow a broadcaster and hear when they go live, in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    server = await startTestServer({ recording: { enabled: false } });
    browser = await launchChromium();
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await server?.stop();
  });

  async function newPage(context?: BrowserContext): Promise<Page> {
    let c = context;
    if (!c) {
      c = await browser.newContext({ baseURL: server.url });
      contexts.push(c);
    }
    return c.newPage();
  }

  it('the follower is notified on every open page, sees it in the bell and under "Following — live now"', async () => {
    const star = await newPage();
    await signUpInPage(star, 'e2e_star');
    const fan = await newPage();
    await signUpInPage(fan, 'e2e_fan');

    // The fan finds the broadcaster's profile and follows them.
    await fan.goto('/u/e2e_star');
    await fan.getByRole('heading', { name: 'e2e_star', level: 1 }).waitFor();
    await fan.getByRole('img', { name: 'Avatar of e2e_star' }).waitFor();
    await fan.getByRole('button', { name: 'Follow e2e_star', exact: true }).click();
    await fan.getByRole('button', { name: 'Unfollow e2e_star', exact: true }).waitFor();
    await fan.getByText('1 follower', { exact: true }).waitFor();
    // Reloaded, the profile remembers.
    await fan.reload();
    await fan.getByRole('button', { name: 'Unfollow e2e_star', exact: true }).waitFor();

    // Two open pages of the fan: home and the replays page.
    await fan.goto('/');
    await fan.getByRole('button', { name: 'Notifications', exact: true }).waitFor();
    const second = await newPage(fan.context());
    await second.goto('/replays');
    await second.getByRole('button', { name: 'Notifications', exact: true }).waitFor();

    const id = await goLiveInPage(star, 'Star show');

    for (const page of [fan, second]) {
      const toast = page.getByRole('status', { name: 'New notification' });
      await toast.getByText('e2e_star is live: Star show').waitFor({ timeout: 15_000 });
      expect(await toast.getByRole('link', { name: 'Watch' }).getAttribute('href')).toBe(`/watch/${id}`);
      // The bell counts it unread and lists it.
      const bell = page.getByRole('button', { name: 'Notifications, 1 unread' });
      await bell.click();
      const panel = page.getByRole('region', { name: 'Notifications' });
      expect(await panel.getByRole('link', { name: 'e2e_star is live: Star show' }).getAttribute('href')).toBe(`/watch/${id}`);
      // With the broadcaster's avatar beside it.
      const avatar = panel.getByRole('listitem').filter({ hasText: 'e2e_star is live: Star show' }).locator('img');
      expect(await avatar.getAttribute('src')).toMatch(/^\/api\/avatars\/u_[^/]+\/default\.svg$/);
      await expect.poll(() => avatar.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), { timeout: 10_000 }).toBe(true);
    }

    // Home: the followed broadcaster first, under "Following — live now".
    await fan.goto('/');
    const followingList = fan.getByRole('list', { name: 'Following — live now' });
    await followingList.getByRole('link', { name: 'Star show' }).waitFor({ timeout: 10_000 });

    // The notification's link opens the broadcast; opening it from the bell marks it read.
    await fan.getByRole('button', { name: 'Notifications, 1 unread' }).click();
    await fan.getByRole('region', { name: 'Notifications' }).getByRole('link', { name: 'e2e_star is live: Star show' }).click();
    await fan.waitForURL(`**/watch/${id}`);
    await fan.getByRole('heading', { name: 'Star show', level: 1 }).waitFor();
    await fan.getByRole('button', { name: 'Notifications', exact: true }).waitFor();
    // From the watch page too: the fan may unfollow (the broadcaster's name links to the profile).
    await fan.getByRole('button', { name: 'Unfollow e2e_star', exact: true }).waitFor();
    expect(await fan.getByRole('link', { name: 'e2e_star', exact: true }).getAttribute('href')).toBe('/u/e2e_star');
  }, 120_000);
});
