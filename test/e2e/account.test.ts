import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.ts';
import { signUpInPage } from '../helpers/liveUi.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { spawnWorkers, type WorkersProcess } from '../helpers/workers.ts';

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
