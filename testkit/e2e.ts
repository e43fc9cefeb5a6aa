import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { ConfigInput } from '../common/config.ts';
import { launchChromium, trackPeerConnections } from './browser.ts';
import { startTestServer, type TestServer } from './server.ts';
import { spawnWorkers, type WorkersProcess } from './workers.ts';

/** What an end-to-end suite runs against: a real server, the workers process if asked for, and Chromium. */
export interface E2eStage {
  server: TestServer;
  /** The workers process (record, finalize, archive jobs); undefined unless `workers: true`. */
  workers: WorkersProcess | undefined;
  browser: Browser;
  /** A page in a fresh context (its own cookies) on the server, whose RTCPeerConnections are tracked (testkit/browser.ts). */
  newPage(): Promise<Page>;
  /** Closes every context, Chromium, the workers and the server (deleting its data). Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts what an e2e suite needs, in order (server, workers, Chromium); if a step fails, what
 * was started is stopped again before the error is thrown.
 */
export async function startE2e(o: { server?: ConfigInput; serverOptions?: Parameters<typeof startTestServer>[1]; workers?: boolean } = {}): Promise<E2eStage> {
  const contexts: BrowserContext[] = [];
  let workers: WorkersProcess | undefined;
  let browser: Browser | undefined;
  let closed = false;
  const server = await startTestServer(o.server, o.serverOptions);
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await workers?.stop();
    await server.stop();
  };
  try {
    if (o.workers) workers = await spawnWorkers(server.config);
    browser = await launchChromium();
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  const chromium = browser;
  return {
    server,
    workers,
    browser: chromium,
    async newPage() {
      const context = await chromium.newContext({ baseURL: server.url });
      contexts.push(context);
      const page = await context.newPage();
      await trackPeerConnections(page);
      return page;
    },
    close,
  };
}
