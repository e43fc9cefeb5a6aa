import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../testkit/browser.ts';
import { signUpInPage } from '../../testkit/liveUi.ts';
import { grantAdmin, signUp, startTestServer, type TestServer } from '../../testkit/server.ts';
import { spawnWorkers, type WorkersProcess } from '../../testkit/workers.ts';

/** "Download your data" from the account page in Chromium, with a real workers process. */
describe('account page archive', () => {
  let server: TestServer;
  let workers: WorkersProcess;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer();
    workers = await spawnWorkers(server.config);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await workers?.stop();
    await server?.stop();
  });

  it('builds the archive on request, shows it ready, and downloads the zip', async () => {
    const context = await browser.newContext({ baseURL: server.url, acceptDownloads: true });
    const page = await context.newPage();
    await signUpInPage(page, 'packer');
    await page.getByRole('link', { name: 'packer' }).click();
    await page.getByRole('heading', { name: 'Download your data' }).waitFor();
    await page.getByRole('button', { name: 'Download your data' }).click();
    const link = page.getByRole('link', { name: 'Download the archive' });
    await link.waitFor({ timeout: 30_000 });
    expect(await page.getByRole('status', { name: 'Archive status' }).textContent()).toContain('ready');
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toMatch(/^spyglass-archive-\d{4}-\d{2}-\d{2}\.zip$/);
    const stream = await download.createReadStream();
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    const zip = Buffer.concat(chunks);
    // A zip ("PK\x03\x04") holding the manifest.
    expect(zip.subarray(0, 4).toString('latin1')).toBe('PK\x03\x04');
    expect(zip.includes(Buffer.from('manifest.json'))).toBe(true);
    await context.close();
  }, 90_000);
});

/** The sunset banner in Chromium: after the announcement, the pre-generated archive is offered on every page. */
describe('sunset banner with the pre-generated archive', () => {
  const H = 3600_000;
  let now = Date.now();
  const t0 = now;
  let server: TestServer;
  let workers: WorkersProcess;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer({ archives: { sweepGapSeconds: 0 } }, { clock: () => now });
    workers = await spawnWorkers(server.config);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await workers?.stop();
    await server?.stop();
  });

  it('shows the countdown, then "Your archive is ready" with a working download link', async () => {
    const root = await signUp(server.url, 'root');
    await grantAdmin(server, 'root');
    const context = await browser.newContext({ baseURL: server.url, acceptDownloads: true });
    const page = await context.newPage();
    await signUpInPage(page, 'leaver');
    const iso = (ms: number) => new Date(ms).toISOString();
    const res = await fetch(`${server.url}/api/admin/sunset`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${root.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ announceAt: iso(t0 + H), readOnlyAt: iso(t0 + 2 * H), exportOnlyAt: iso(t0 + 3 * H), offAt: iso(t0 + 4 * H), message: 'Thanks for everything.' }),
    });
    expect(res.status).toBe(200);
    now = t0 + H;
    await server.sunset.refresh();

    // The sweep builds leaver's archive without being asked.
    let state: string | undefined;
    for (let i = 0; i < 120 && state !== 'ready'; i++) {
      await new Promise((r) => setTimeout(r, 500));
      state = ((await (await page.request.get('/api/archives/latest')).json()) as { archive: { state: string } | null }).archive?.state;
    }
    expect(state).toBe('ready');

    await page.goto('/replays');
    const banner = page.getByRole('region', { name: 'Service closing' });
    await banner.getByText('Thanks for everything.').waitFor();
    expect(await banner.textContent()).toMatch(/closing down.*Read-only in/s);
    const link = banner.getByRole('link', { name: /^download it \(\d/ });
    await link.waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toMatch(/^spyglass-archive-\d{4}-\d{2}-\d{2}\.zip$/);
    await context.close();
  }, 120_000);
});
