import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { inboundStats, trackPeerConnections } from '../../testkit/browser.ts';
export { launchChromium } from '../../testkit/browser.ts';

/**
 * Real Chromium for the fan-out benchmark (Debian's, through playwright-core, with the flags
 * of testkit/browser.ts): viewers on the real /watch page whose decoded frames, and the SRTP
 * suite they negotiated, are read from WebRTC stats.
 */

const repoRoot = path.join(import.meta.dirname, '..', '..');
/** The built web client that the signalling server serves. */
export const WEB_ROOT = path.join(repoRoot, 'web', 'dist');

/** Builds the web client (`npm run build:web`) unless it is built already. */
export async function ensureWebBuilt(): Promise<void> {
  if (existsSync(path.join(WEB_ROOT, 'index.html'))) return;
  await promisify(execFile)(path.join(repoRoot, 'node_modules', '.bin', 'vite'), ['build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], {
    cwd: repoRoot,
    timeout: 180_000,
  });
}

/** A page whose RTCPeerConnections are kept in `window.__pcs`, so that their stats can be read. */
async function trackedPage(browser: Browser, baseURL: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  await trackPeerConnections(page);
  return { context, page };
}

/**
 * Polls `check` every 100 ms until it is true; throws `message` after `timeoutMs`. (Not
 * page.waitForFunction: it does not await a predicate's promise, and getStats() is async.)
 */
async function until(timeoutMs: number, message: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`${message} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** What one Chromium viewer decoded. */
export interface ChromiumViewerResult {
  /** From opening /watch/<id> to the first decoded frame (null: none within the timeout). */
  firstFrameMs: number | null;
  /** Frames decoded and audio packets received during the measurement. */
  framesDecoded: number;
  fps: number;
  width: number;
  height: number;
  audioPackets: number;
  /** The SRTP suite its peer connection negotiated (`srtpCipher` of the transport in getStats()); null: not reported. */
  srtpCipher: string | null;
  error: string | null;
}

/** The `srtpCipher` of the page's open peer connections' transports (the first one reported). */
function srtpCipherOf(page: Page): Promise<string | null> {
  return page.evaluate(async () => {
    for (const pc of (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs) {
      if (pc.connectionState === 'closed') continue;
      const ciphers: string[] = [];
      (await pc.getStats()).forEach((s: Record<string, unknown>) => {
        if (s.type === 'transport' && typeof s.srtpCipher === 'string') ciphers.push(s.srtpCipher);
      });
      if (ciphers[0]) return ciphers[0];
    }
    return null;
  });
}

/**
 * Opens `count` viewers on /watch/<broadcastId> at once, waits for each one's first decoded
 * frame, then counts what they decode over `measureMs`. A viewer that fails reports its error.
 */
export async function watchInChromium(
  browser: Browser,
  url: string,
  broadcastId: string,
  count: number,
  opts: { firstFrameTimeoutMs: number; measureMs: number },
): Promise<ChromiumViewerResult[]> {
  const contexts: BrowserContext[] = [];
  try {
    const viewers = await Promise.all(
      Array.from({ length: count }, async () => {
        const { context, page } = await trackedPage(browser, url);
        contexts.push(context);
        const start = performance.now();
        try {
          await page.goto(`/watch/${broadcastId}`);
          await until(opts.firstFrameTimeoutMs, 'no frame decoded', async () => (await inboundStats(page)).framesDecoded > 0);
          return { page, firstFrameMs: Math.round(performance.now() - start), error: null };
        } catch (error) {
          return { page, firstFrameMs: null, error: error instanceof Error ? error.message.split('\n')[0]! : String(error) };
        }
      }),
    );
    const before = await Promise.all(viewers.map((v) => inboundStats(v.page)));
    const t0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, opts.measureMs));
    const after = await Promise.all(viewers.map((v) => inboundStats(v.page)));
    const seconds = (performance.now() - t0) / 1000;
    const ciphers = await Promise.all(viewers.map((v) => srtpCipherOf(v.page).catch(() => null)));
    return viewers.map((v, i) => {
      const a = before[i]!;
      const b = after[i]!;
      const frames = b.framesDecoded - a.framesDecoded;
      return {
        firstFrameMs: v.firstFrameMs,
        framesDecoded: frames,
        fps: Math.round((frames / seconds) * 10) / 10,
        width: b.frameWidth,
        height: b.frameHeight,
        audioPackets: b.audioPackets - a.audioPackets,
        srtpCipher: ciphers[i] ?? null,
        error: v.error,
      };
    });
  } finally {
    await Promise.all(contexts.map((c) => c.close().catch(() => undefined)));
  }
}
