import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../common/logger.ts';
import { openDatabase } from '../../signaling/store/Database.ts';
import { inboundStats, launchChromium, trackPeerConnections } from '../../testkit/browser.ts';
import { goLiveInPage, signUpInPage, waitForReplay, waitUntilSending } from '../../testkit/liveUi.ts';
import { startTestServer, type TestServer } from '../../testkit/server.ts';
import { spawnWorkers, type WorkersProcess } from '../../testkit/workers.ts';

const H = 3600_000;

/**
 * The Content-Security-Policy against the built web client in Chromium: every page works
 * (going live with the fake camera, watching, a replay played by hls.js, the account and
 * admin pages, the farewell page) and not one violation is raised. One server, one workers
 * process and one browser for all of it.
 */
describe('Content-Security-Policy in Chromium', () => {
  let server: TestServer;
  let workers: WorkersProcess;
  let browser: Browser;
  let offset = 0;
  const contexts: BrowserContext[] = [];
  const violations: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({}, { clock: () => Date.now() + offset });
    workers = await spawnWorkers(server.config);
    browser = await launchChromium();
  }, 90_000);
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await workers?.stop();
    await server?.stop();
  });

  /** A page that reports every CSP violation (the DOM event, and Chromium's console message). */
  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ baseURL: server.url });
    contexts.push(context);
    await context.exposeBinding('__cspViolation', (source, text: string) => violations.push(`${source.page.url()}: ${text}`));
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        void (window as unknown as { __cspViolation: (t: string) => Promise<void> }).__cspViolation(
          `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`,
        );
      });
    });
    const page = await context.newPage();
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(`${page.url()}: console: ${m.text()}`);
    });
    await trackPeerConnections(page);
    return page;
  }

  afterAll(() => {
    if (violations.length > 0) console.log(`CSP violations:\n${violations.join('\n')}`);
  });

  it('every page works without a violation', async () => {
    const host = await newPage();
    await host.goto('/');
    await host.getByRole('link', { name: 'Sign in' }).waitFor();
    await host.goto('/signin');
    await host.getByRole('button', { name: 'Sign in' }).waitFor();
    await signUpInPage(host, 'skipper'); // /signup, then signed in

    // /live: go live with the fake camera.
    const id = await goLiveInPage(host, 'Under a strict policy');
    await waitUntilSending(host);

    // /watch/:id: frames arrive.
    const viewer = await newPage();
    await signUpInPage(viewer, 'deckhand');
    await viewer.goto(`/watch/${id}`);
    await expect.poll(async () => (await inboundStats(viewer)).framesDecoded, { timeout: 20_000, interval: 250 }).toBeGreaterThan(10);
    await viewer.getByRole('textbox', { name: 'Chat message' }).fill('hello');
    await viewer.getByRole('button', { name: 'Send', exact: true }).click();
    await expect.poll(async () => (await viewer.getByRole('log', { name: 'Chat' }).textContent()) ?? '', { timeout: 10_000 }).toContain('hello');

    await host.waitForTimeout(4000);
    await host.getByRole('button', { name: 'End broadcast' }).click();
    const replay = await waitForReplay(host, id, 90_000);
    expect(replay.state, replay.reason ?? '').toBe('ready');
    expect(replay.sources.hls, 'the replay has an HLS rendition').not.toBeNull();

    // /replays lists it with its poster.
    await host.goto('/replays');
    await host.getByRole('img', { name: 'Under a strict policy' }).first().waitFor({ timeout: 10_000 });

    // /replay/:id plays through hls.js (MediaSource: the video's source is a blob: URL). This
    // Chromium plays HLS natively; hide that, as in browsers without it, so hls.js runs.
    await host.addInitScript(() => {
      const canPlayType = HTMLMediaElement.prototype.canPlayType;
      HTMLMediaElement.prototype.canPlayType = function (type: string) {
        return /mpegurl/i.test(type) ? '' : canPlayType.call(this, type);
      };
    });
    await host.goto(`/replay/${id}`);
    await host.getByLabel('Replay video').waitFor({ timeout: 15_000 });
    const played = await host.evaluate(async () => {
      const v = document.querySelector('video')!;
      v.muted = true;
      await v.play();
      await new Promise<void>((resolve) => {
        const tick = () => (v.currentTime > 1.5 ? resolve() : setTimeout(tick, 100));
        tick();
      });
      return { src: v.currentSrc, time: v.currentTime };
    });
    expect(played.src).toMatch(/^blob:/);
    const loaded = await host.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name));
    expect(loaded.some((u) => /\/assets\/hls-[^/]+\.js$/.test(u)), 'hls.js was loaded').toBe(true);

    // /account: the archive is built and offered.
    await host.goto('/account');
    await host.getByRole('heading', { name: 'Download your data' }).waitFor();
    await host.getByRole('button', { name: 'Download your data' }).click();
    await host.getByRole('link', { name: 'Download the archive' }).waitFor({ timeout: 60_000 });

    // /admin, as an admin (role set in the database), with a sunset scheduled.
    const admin = await server.stores.users.findByUsername('skipper');
    await server.stores.sunset.schedule(
      {
        announceAt: new Date(Date.now() + H).toISOString(),
        readOnlyAt: new Date(Date.now() + 2 * H).toISOString(),
        exportOnlyAt: new Date(Date.now() + 3 * H).toISOString(),
        offAt: new Date(Date.now() + 4 * H).toISOString(),
        message: 'So long.',
      },
      admin!.id,
    );
    await server.sunset.refresh();
    const db = await openDatabase({ sqlitePath: path.join(server.dataDir, 'spyglass.db'), logger: createLogger({ level: 'silent' }) });
    await db.db.updateTable('users').set({ role: 'admin' }).where('username_lower', '=', 'skipper').execute();
    await db.close();
    await host.goto('/admin');
    await host.getByRole('heading', { name: 'Admin', exact: true }).waitFor({ timeout: 10_000 });
    await host.getByRole('heading', { name: 'Current schedule' }).waitFor();

    // The farewell page, with its inline style applied under the policy.
    offset = 4 * H + 60_000;
    const res = await viewer.goto('/');
    expect(res?.status()).toBe(410);
    await viewer.getByRole('heading', { name: 'Spyglass has closed' }).waitFor();
    expect(await viewer.evaluate(() => getComputedStyle(document.body).maxWidth)).toBe('640px');

    expect(violations).toEqual([]);

    // The listener does see violations: an inline script on a served page is one.
    await viewer.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__ran = true';
      document.head.append(s);
    });
    await expect.poll(() => violations.length, { timeout: 5000 }).toBeGreaterThan(0);
    expect(await viewer.evaluate(() => (window as unknown as { __ran?: boolean }).__ran)).toBeUndefined();
    violations.length = 0; // those were the deliberate ones
  }, 240_000);
});
