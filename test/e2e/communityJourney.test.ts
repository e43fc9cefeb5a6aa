import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goLiveInPage, signUpInPage, waitForReplay, waitUntilSending } from '../../testkit/liveUi.ts';
import { startE2e, type E2eStage } from '../../testkit/e2e.ts';
import { connect, grantAdmin, ok, request, type ClientSocket } from '../../testkit/server.ts';

/**
 * Issue 14 as one story in Chromium, driven by role and name, on the real service (SFU, Redis,
 * PostgreSQL or SQLite as configured, a workers process recording the broadcast): a user
 * follows a broadcaster and is notified when they go live (the broadcaster's profile then lists
 * their followers, with avatars); the broadcaster keeps the chat to
 * followers for a while (a non-follower gets a Follow button in place of the chat box, and the
 * server refuses them too); a viewer reports a message from its chat line; the broadcaster
 * deletes a viewer's message and blocks them — the message vanishes for a third viewer and
 * from the replay, the blocked viewer cannot rejoin; an admin handles the report by suspending
 * the account; the broadcaster deletes the replay and then their account, and every link of
 * theirs answers 410 or 404.
 */
describe('issue 14, end to end in Chromium', () => {
  let stage: E2eStage;
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    stage = await startE2e({ workers: true });
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await stage?.close();
  });
  const newPage = (): Promise<Page> => stage.newPage();
  const chatText = async (page: Page) => (await page.getByRole('log', { name: 'Chat' }).textContent()) ?? '';
  const send = async (page: Page, text: string) => {
    await page.getByRole('textbox', { name: 'Chat message' }).fill(text);
    await page.getByRole('button', { name: 'Send', exact: true }).click();
  };
  /** The chat line (a paragraph in the Chat log) that says `text`. */
  const line = (page: Page, text: string) => page.getByRole('log', { name: 'Chat' }).getByRole('paragraph').filter({ hasText: text });
  /** A socket.io connection with the page's session (its cookie), as the page's user. */
  const socketOf = async (page: Page): Promise<ClientSocket> => {
    const token = (await page.context().cookies()).find((c) => c.name === 'spyglass_session')?.value;
    const socket = await connect(stage.server.url, token);
    sockets.push(socket);
    return socket;
  };

  it('follow and notification, followers-only chat, report, removal and block, suspension, replay and account deletion', async () => {
    const { server } = stage;

    // --- A user follows a broadcaster and is notified when they go live.
    const skipper = await newPage();
    await signUpInPage(skipper, 'skipper');
    const skipperId = (await server.stores.users.findByUsername('skipper'))!.id;
    const fan = await newPage();
    await signUpInPage(fan, 'deckhand');
    await fan.goto('/u/skipper');
    await fan.getByRole('button', { name: 'Follow skipper', exact: true }).click();
    await fan.getByRole('button', { name: 'Unfollow skipper', exact: true }).waitFor();
    await fan.goto('/');
    await fan.getByRole('button', { name: 'Notifications', exact: true }).waitFor();

    const id = await goLiveInPage(skipper, 'Harbour watch');
    await waitUntilSending(skipper);
    const toast = fan.getByRole('status', { name: 'New notification' });
    await toast.getByText('skipper is live: Harbour watch').waitFor({ timeout: 15_000 });
    await toast.getByRole('link', { name: 'Watch' }).click();
    await fan.waitForURL(`**/watch/${id}`);
    await fan.getByRole('heading', { name: 'Harbour watch', level: 1 }).waitFor();

    const pest = await newPage();
    await signUpInPage(pest, 'barnacle');
    const pestId = (await server.stores.users.findByUsername('barnacle'))!.id;
    await pest.goto(`/watch/${id}`);
    const witness = await newPage();
    await signUpInPage(witness, 'lookout');
    await witness.goto(`/watch/${id}`);
    for (const page of [pest, witness]) await page.getByRole('textbox', { name: 'Chat message' }).waitFor();

    // --- Followers-only chat, switched on live: a non-follower gets a Follow button instead of the chat box.
    await skipper.getByRole('checkbox', { name: 'Followers-only chat' }).check();
    await skipper.getByRole('status', { name: 'Moderation status' }).getByText('Followers-only chat on', { exact: false }).waitFor({ timeout: 10_000 });
    const witnessChat = witness.getByRole('region', { name: 'Chat panel' });
    await witness.getByRole('status', { name: 'Chat settings' }).getByText('Followers-only chat').waitFor({ timeout: 10_000 });
    await witnessChat.getByText('Only followers of skipper can chat.').waitFor();
    await witness.getByRole('textbox', { name: 'Chat message' }).waitFor({ state: 'hidden' });
    await pest.getByRole('region', { name: 'Chat panel' }).getByRole('button', { name: 'Follow skipper', exact: true }).waitFor();
    // The server refuses them too, whatever a page shows.
    const witnessSocket = await socketOf(witness);
    await ok(witnessSocket, 'broadcast:join', { broadcastId: id });
    expect(await request(witnessSocket, 'chat:send', { broadcastId: id, text: 'let me in' })).toEqual({
      ok: false,
      error: { code: 'FOLLOWERS_ONLY', message: 'this chat is for followers only: follow the broadcaster to chat' },
    });
    // The follower chats; the broadcaster always may.
    await send(fan, 'ahoy from a follower');
    await send(skipper, 'welcome aboard');
    await expect.poll(() => chatText(witness), { timeout: 10_000 }).toContain('ahoy from a follower');
    await expect.poll(() => chatText(witness), { timeout: 10_000 }).toContain('welcome aboard');
    // Following from the chat panel brings the chat box back (and the page's own button says so).
    await witnessChat.getByRole('button', { name: 'Follow skipper', exact: true }).click();
    await witness.getByRole('textbox', { name: 'Chat message' }).waitFor();
    await witness.getByRole('button', { name: 'Unfollow skipper', exact: true }).waitFor();
    await skipper.getByRole('checkbox', { name: 'Followers-only chat' }).uncheck();
    await pest.getByRole('textbox', { name: 'Chat message' }).waitFor({ timeout: 10_000 });
    await witness.getByRole('status', { name: 'Chat settings' }).waitFor({ state: 'hidden', timeout: 10_000 });

    // --- Chat, with avatars beside the names.
    await send(pest, 'rude words');
    await send(witness, 'kind words');
    await send(pest, 'more noise');
    for (const page of [skipper, fan, witness]) {
      for (const text of ['rude words', 'kind words', 'more noise']) await expect.poll(() => chatText(page), { timeout: 10_000 }).toContain(text);
    }
    const avatar = line(witness, 'rude words').locator('img');
    expect(await avatar.getAttribute('src')).toBe(`/api/avatars/${pestId}`);
    await expect.poll(() => avatar.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), { timeout: 10_000 }).toBe(true);

    // --- A viewer reports the message from its chat line (no Report on one's own lines).
    await line(fan, 'rude words').getByRole('button', { name: 'Report message from barnacle' }).click();
    const form = fan.getByRole('form', { name: 'Report this message' });
    await form.getByRole('combobox', { name: 'Reason' }).selectOption('harassment');
    await form.getByRole('textbox', { name: 'Details (optional)' }).fill('insults the crew');
    await form.getByRole('button', { name: 'Send report' }).click();
    await fan.getByText('Thank you: your report was sent to the admins.').waitFor();
    expect(await line(pest, 'rude words').getByRole('button', { name: /^Report/ }).count()).toBe(0);
    expect((await server.stores.reports.list('open')).map((r) => [r.kind, r.reason, r.details])).toEqual([['message', 'harassment', 'insults the crew']]);

    // --- The broadcaster deletes the message and blocks its author, from the chat.
    const skipperChat = skipper.getByRole('region', { name: 'Chat panel' });
    await line(skipper, 'rude words').getByRole('button', { name: 'Remove message from barnacle' }).click();
    for (const page of [witness, fan, skipper]) await expect.poll(() => chatText(page), { timeout: 10_000 }).not.toContain('rude words');
    expect(await chatText(witness)).toContain('kind words');
    await skipperChat.getByRole('button', { name: 'Block barnacle' }).first().click();
    await skipper.getByRole('status', { name: 'Moderation status' }).getByText('barnacle is blocked', { exact: false }).waitFor({ timeout: 10_000 });
    await pest.getByRole('heading', { name: 'Broadcast not found', level: 1 }).waitFor({ timeout: 10_000 });
    await pest.reload();
    await pest.getByRole('heading', { name: 'Broadcast not found', level: 1 }).waitFor({ timeout: 10_000 });

    // --- An admin handles the report by suspending the account.
    const admin = await newPage();
    await signUpInPage(admin, 'harbourmaster');
    await grantAdmin(server, 'harbourmaster');
    await admin.goto('/admin');
    const card = admin.getByRole('article', { name: /Report about .Harbour watch./ });
    await card.getByRole('list', { name: 'The message in context' }).getByText('rude words', { exact: false }).waitFor({ timeout: 10_000 });
    await card.getByRole('textbox', { name: 'Reason shown to barnacle' }).fill('harassing the crew');
    await card.getByRole('button', { name: 'Suspend barnacle' }).click();
    await admin.getByText('No open reports.').waitFor({ timeout: 10_000 });
    await admin.getByRole('button', { name: 'Unsuspend barnacle' }).waitFor();
    await pest.goto('/account');
    await pest.getByRole('status', { name: 'Account suspended' }).getByText('Reason: harassing the crew').waitFor();

    // --- The broadcast ends; the removed message is not in its replay (API and page).
    await skipper.getByRole('button', { name: 'End broadcast' }).click();
    const replay = await waitForReplay(witness, id, 90_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\nworkers said:\n${stage.workers?.output().slice(-6000)}`);
    });
    expect(replay.state, replay.reason ?? '').toBe('ready');
    expect(replay.chat.map((m) => m.text)).toEqual(['ahoy from a follower', 'welcome aboard', 'kind words', 'more noise']);
    await witness.goto(`/replay/${id}`);
    await witness.getByLabel('Replay video').waitFor({ timeout: 15_000 });
    await witness.evaluate(async () => {
      const v = document.querySelector('video')!;
      if (v.readyState < 1) await new Promise((resolve) => v.addEventListener('loadedmetadata', resolve, { once: true }));
      v.currentTime = v.duration;
    });
    await expect.poll(() => chatText(witness), { timeout: 10_000 }).toContain('more noise');
    expect(await chatText(witness)).not.toContain('rude words');
    // The replay's chat lines can be reported too (not one's own).
    await line(witness, 'more noise').getByRole('button', { name: 'Report message from barnacle' }).waitFor();
    expect(await line(witness, 'kind words').getByRole('button', { name: /^Report/ }).count()).toBe(0);

    // --- The broadcaster's profile lists their followers, newest first, with avatars.
    await witness.goto('/u/skipper');
    await witness.getByRole('button', { name: 'Show followers' }).click();
    const followers = witness.getByRole('list', { name: 'Followers of skipper' });
    await followers.getByRole('link', { name: 'deckhand' }).waitFor({ timeout: 10_000 });
    expect(await followers.getByRole('link').allTextContents()).toEqual(['lookout', 'deckhand']);
    const fanAvatar = followers.getByRole('listitem').filter({ hasText: 'deckhand' }).locator('img');
    await expect.poll(() => fanAvatar.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), { timeout: 10_000 }).toBe(true);
    await witness.getByRole('button', { name: 'Show following' }).click();
    await witness.getByRole('list', { name: 'Followed by skipper' }).getByText('Not following anyone yet.').waitFor();

    // --- The broadcaster deletes the replay (after confirming), then their account.
    await skipper.goto(`/replay/${id}`);
    const panel = skipper.getByRole('region', { name: 'Your replay' });
    await panel.getByRole('button', { name: 'Delete replay' }).click();
    await skipper.getByRole('alertdialog', { name: 'Delete this replay?' }).getByRole('button', { name: 'Yes, delete it for good' }).click();
    await skipper.waitForURL('**/replays');
    await skipper.getByText('Your replay was deleted.').waitFor();
    expect((await witness.request.get(`/api/replays/${id}`)).status()).toBe(410);

    await skipper.getByRole('link', { name: 'skipper' }).click();
    await skipper.getByRole('heading', { name: 'Delete your account' }).waitFor();
    await skipper.getByLabel('Password to delete your account').fill('a good long password');
    await skipper.getByRole('button', { name: 'Delete your account' }).click();
    await skipper.getByRole('alertdialog', { name: 'Delete your account?' }).getByRole('button', { name: 'Yes, delete my account' }).click();
    await skipper.getByText('Your account was deleted.').waitFor();

    // --- Every link of theirs answers 410 (the deleted public replay) or 404, to anyone.
    const gone = [
      [`/api/replays/${id}`, 410],
      [`/api/replays/${id}/poster.jpg`, 410],
      [`/api/replays/${id}/download`, 410],
      [`/api/broadcasts/${id}`, 404],
      ['/api/users/skipper', 404],
      ['/api/users/skipper/replays', 404],
      [`/api/avatars/${skipperId}`, 404],
      [`/api/avatars/${skipperId}/default.svg`, 404],
    ] as const;
    const anonymous = await newPage();
    for (const page of [witness, anonymous, skipper]) {
      for (const [link, status] of gone) expect([link, (await page.request.get(link)).status()]).toEqual([link, status]);
    }
    await anonymous.goto('/u/skipper');
    await anonymous.getByRole('heading', { name: 'Page not found', level: 1 }).waitFor();
    await anonymous.goto(`/replay/${id}`);
    await anonymous.getByRole('heading', { name: 'This replay was deleted', level: 1 }).waitFor();
    await anonymous.goto(`/watch/${id}`);
    await anonymous.getByRole('heading', { name: 'Broadcast not found', level: 1 }).waitFor({ timeout: 10_000 });
    // The fan no longer follows anyone; their notification of the broadcast went with the account.
    const fanId = (await server.stores.users.findByUsername('deckhand'))!.id;
    expect(await server.stores.follows.counts(fanId)).toEqual({ followers: 0, following: 0 });
    expect(await server.stores.notifications.list(fanId, 100)).toEqual([]);
  }, 300_000);
});
