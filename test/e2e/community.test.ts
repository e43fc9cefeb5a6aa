import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastId, UserId } from '../../common/protocol/ids.ts';
import { launchChromium } from '../../testkit/browser.ts';
import { signUpInPage } from '../../testkit/liveUi.ts';
import { connect, ok, signUp, startTestServer, type ClientSocket, type TestServer } from '../../testkit/server.ts';

/**
 * "Your broadcasts and your account" in Chromium, driven by role and name: the owner renames
 * and deletes a replay (with a confirmation) and every link of it then answers 410 (a public
 * replay, to anyone) or the unknown id's 404 (a private one, to others); an anonymous viewer
 * of a live broadcast gets "Sign in to chat", which comes back to the broadcast.
 */
describe('replay deletion and sign-in to chat in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    server = await startTestServer({ recording: { enabled: false } });
    browser = await launchChromium();
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    for (const s of sockets) s.disconnect();
    await browser?.close();
    await server?.stop();
  });

  async function newContext(): Promise<BrowserContext> {
    const context = await browser.newContext({ baseURL: server.url });
    contexts.push(context);
    return context;
  }

  /** An ended broadcast of `ownerId` with a ready replay whose files are in the storage. */
  async function readyReplay(ownerId: UserId, title: string, visibility: 'public' | 'private'): Promise<BroadcastId> {
    const b = await server.stores.broadcasts.create({ ownerId, title, visibility, inviteeIds: [] });
    await server.stores.broadcasts.end(b.id, 'stopped');
    await server.stores.replays.begin(b.id);
    await server.stores.replays.applyOutput(b.id, 'ready', {
      durationMs: 2000,
      width: 320,
      height: 240,
      timeline: [{ offsetMs: 0, mediaStartMs: 0, durationMs: 2000 }],
      poster: 'poster.jpg',
      webm: null,
      videoMp4: null,
      hls: null,
      mp4: { name: 'replay.mp4', sizeBytes: 4, sha256: 'ab'.repeat(32) },
    });
    const dir = path.join(server.dataDir, 'replays', b.id);
    mkdirSync(dir, { recursive: true });
    for (const f of ['poster.jpg', 'replay.mp4']) writeFileSync(path.join(dir, f), 'data');
    return b.id;
  }

  const links = (id: string) => [`/replay/${id}`, `/api/replays/${id}`, `/api/replays/${id}/poster.jpg`, `/api/replays/${id}/replay.mp4`, `/api/replays/${id}/download`];

  it('the owner renames, then deletes a replay after confirming; its links answer 410 or 404', async () => {
    const context = await newContext();
    const page = await context.newPage();
    await signUpInPage(page, 'keeper');
    const owner = await server.stores.users.findByUsername('keeper');
    const pub = await readyReplay(owner!.id, 'Lighthouse tour', 'public');
    const priv = await readyReplay(owner!.id, 'Private log', 'private');

    await page.goto(`/replay/${pub}`);
    await page.getByRole('heading', { name: 'Lighthouse tour', level: 1 }).waitFor();
    const panel = page.getByRole('region', { name: 'Your replay' });
    await panel.getByRole('textbox', { name: 'Title' }).fill('Lighthouse tour, edited');
    await panel.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: 'Lighthouse tour, edited', level: 1 }).waitFor();
    expect((await server.stores.broadcasts.get(pub))?.title).toBe('Lighthouse tour, edited');

    // Deleting asks first; cancelling keeps it.
    await panel.getByRole('button', { name: 'Delete replay' }).click();
    const confirm = page.getByRole('alertdialog', { name: 'Delete this replay?' });
    await confirm.waitFor();
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'hidden' });
    expect(await server.stores.replays.get(pub)).toBeDefined();
    await panel.getByRole('button', { name: 'Delete replay' }).click();
    await confirm.getByRole('button', { name: 'Yes, delete it for good' }).click();
    await page.waitForURL('**/replays');
    await page.getByText('Your replay was deleted.').waitFor();
    // Gone from the lists at once.
    await page.getByRole('heading', { name: 'Private log' }).or(page.getByRole('link', { name: /Private log/ })).first().waitFor();
    expect(await page.getByText('Lighthouse tour, edited').count()).toBe(0);

    // The private one too, from its page.
    await page.goto(`/replay/${priv}`);
    await page.getByRole('heading', { name: 'Private log', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Delete replay' }).click();
    await page.getByRole('button', { name: 'Yes, delete it for good' }).click();
    await page.waitForURL('**/replays');

    // The owner: 410 on every API link of both; the page says it was deleted.
    for (const id of [pub, priv]) {
      for (const link of links(id).filter((l) => l.startsWith('/api/'))) expect([link, (await page.request.get(link)).status()]).toEqual([link, 410]);
      await page.goto(`/replay/${id}`);
      await page.getByRole('heading', { name: 'This replay was deleted', level: 1 }).waitFor();
    }
    // Anyone else: 410 for the public one; for the private one, the 404 of an id that never existed.
    const stranger = await (await newContext()).newPage();
    for (const link of links(pub).filter((l) => l.startsWith('/api/'))) expect([link, (await stranger.request.get(link)).status()]).toEqual([link, 410]);
    for (const link of links(priv).filter((l) => l.startsWith('/api/'))) expect([link, (await stranger.request.get(link)).status()]).toEqual([link, 404]);
    await stranger.goto(`/replay/${priv}`);
    await stranger.getByRole('heading', { name: 'Page not found', level: 1 }).waitFor();
    await stranger.goto(`/replay/${pub}`);
    await stranger.getByRole('heading', { name: 'This replay was deleted', level: 1 }).waitFor();
  }, 120_000);

  it('an anonymous viewer sees "Sign in to chat", which leads back to the broadcast with the chat box', async () => {
    const host = await signUp(server.url, 'beacon');
    const socket = await connect(server.url, host.token);
    sockets.push(socket);
    const { broadcast } = await ok(socket, 'broadcast:start', { title: 'Foghorn test', visibility: 'public', invitees: [] });
    await signUp(server.url, 'sailor', 'a good long password');

    const page = await (await newContext()).newPage();
    await page.goto(`/watch/${broadcast.id}`);
    await page.getByRole('heading', { name: 'Foghorn test', level: 1 }).waitFor();
    const signIn = page.getByRole('link', { name: 'Sign in to chat' });
    await signIn.waitFor();
    expect(await page.getByRole('textbox', { name: 'Chat message' }).isVisible()).toBe(false);
    await signIn.click();
    await page.waitForURL('**/signin?next=*');
    await page.getByRole('textbox', { name: 'Username' }).fill('sailor');
    await page.getByLabel('Password').fill('a good long password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`**/watch/${broadcast.id}`);
    await page.getByRole('textbox', { name: 'Chat message' }).waitFor();
    expect(await page.getByRole('link', { name: 'Sign in to chat' }).isVisible()).toBe(false);
    await ok(socket, 'broadcast:stop', { broadcastId: broadcast.id });
  }, 90_000);

  it('a user deletes their account from the account page after confirming; their replay answers 410 and they cannot sign in', async () => {
    const page = await (await newContext()).newPage();
    await signUpInPage(page, 'driftwood');
    const user = await server.stores.users.findByUsername('driftwood');
    const replay = await readyReplay(user!.id, 'Last voyage', 'public');
    await page.getByRole('link', { name: 'driftwood' }).click();
    await page.getByRole('heading', { name: 'Delete your account' }).waitFor();
    await page.getByLabel('Password to delete your account').fill('a good long password');
    await page.getByRole('button', { name: 'Delete your account' }).click();
    const confirm = page.getByRole('alertdialog', { name: 'Delete your account?' });
    await confirm.getByRole('button', { name: 'Yes, delete my account' }).click();
    await page.getByText('Your account was deleted.').waitFor();
    await page.getByRole('link', { name: 'Sign in' }).first().waitFor();
    expect((await page.request.get(`/api/replays/${replay}`)).status()).toBe(410);
    expect((await page.request.get('/api/auth/me')).status()).toBe(401);
    expect(await server.stores.users.findByUsername('driftwood')).toBeUndefined();
  }, 90_000);
});
