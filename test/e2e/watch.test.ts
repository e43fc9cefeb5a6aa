import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { videoFramesByStream } from '../../testkit/browser.ts';
import { startE2e, type E2eStage } from '../../testkit/e2e.ts';
import { signUp, type TestServer } from '../../testkit/server.ts';

/**
 * The watch page on the app's one socket.io connection (web/src/signalHub.ts), in Chromium:
 * a viewer joins from the home page, goes home and joins again without a new WebSocket, the
 * broadcaster's count follows (the page leaves on a connection that stays open), and signing
 * in renews the connection so that the viewer can chat as themselves.
 */
describe('watch across pages on one connection', () => {
  let e2e: E2eStage | undefined;
  let server: TestServer;

  beforeAll(async () => {
    e2e = await startE2e({ server: { mediasoup: { numWorkers: 1 } } });
    server = e2e.server;
  });
  afterAll(async () => {
    await e2e?.close();
  });

  const newPage = (): Promise<Page> => e2e!.newPage();

  /** Frames decoded by the page's open peer connections (the largest stream). */
  async function decoded(page: Page): Promise<number> {
    return Math.max(0, ...Object.values(await videoFramesByStream(page)));
  }

  it('joins, leaves and joins again without a new WebSocket; a sign-in renews it', { timeout: 90_000 }, async () => {
    const host = await newPage();
    await host.goto('/signup');
    await host.getByRole('textbox', { name: 'Username' }).fill('shore_host');
    await host.getByLabel('Password').fill('a good long password');
    await host.getByRole('button', { name: 'Sign up' }).click();
    await host.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 10_000 });
    await host.goto('/live');
    await host.getByRole('textbox', { name: 'Title' }).fill('Evening on the shore');
    await host.getByRole('radio', { name: 'Public' }).check();
    await host.getByRole('button', { name: 'Go live' }).click();
    await host.getByRole('link', { name: 'Watch link' }).waitFor({ timeout: 15_000 });
    const count = host.getByRole('status', { name: 'Viewer count' });
    const watching = async () => (await count.textContent()) ?? '';

    const viewer = await newPage();
    const sockets: string[] = [];
    viewer.on('websocket', (ws) => sockets.push(ws.url()));
    await viewer.goto('/');
    const link = viewer.getByRole('link', { name: 'Evening on the shore' });
    await link.click();
    await expect.poll(() => decoded(viewer), { timeout: 20_000, interval: 250 }).toBeGreaterThan(5);
    await expect.poll(watching, { timeout: 10_000 }).toContain('1 watching');

    // Home by the navigation: the page leaves the broadcast on the connection, which stays.
    await viewer.getByRole('link', { name: 'Live now' }).click();
    await expect.poll(watching, { timeout: 10_000 }).toContain('0 watching');
    await expect.poll(() => decoded(viewer), { timeout: 5_000 }).toBe(0);
    await link.click();
    await expect.poll(() => decoded(viewer), { timeout: 20_000, interval: 250 }).toBeGreaterThan(5);
    await expect.poll(watching, { timeout: 10_000 }).toContain('1 watching');
    expect(sockets).toHaveLength(1);

    // Signing in within the tab: the connection is renewed (a new handshake reads the cookie),
    // and the watch page's chat then speaks as the signed-in user.
    await signUp(server.url, 'shore_viewer', 'a good long password');
    await viewer.getByRole('link', { name: 'Sign in', exact: true }).click();
    await viewer.getByRole('textbox', { name: 'Username' }).fill('shore_viewer');
    await viewer.getByLabel('Password').fill('a good long password');
    await viewer.getByRole('button', { name: 'Sign in' }).click();
    await viewer.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 10_000 });
    await link.click();
    await expect.poll(() => decoded(viewer), { timeout: 20_000, interval: 250 }).toBeGreaterThan(5);
    await viewer.getByRole('textbox', { name: 'Chat message' }).fill('lovely light');
    await viewer.getByRole('button', { name: 'Send', exact: true }).click();
    await expect
      .poll(async () => (await host.getByRole('log', { name: 'Chat' }).textContent()) ?? '', { timeout: 10_000 })
      .toContain('shore_viewer: lovely light');
    expect(sockets).toHaveLength(2);
  });
});
