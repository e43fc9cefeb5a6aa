import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build as esbuild } from 'esbuild';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium as launchTestChromium } from '../../testkit/browser.ts';
import type { CameraOptions, StampReport } from './stamp.browser.ts';

/**
 * The browser side of the latency and time-to-first-frame benchmarks: Debian's Chromium
 * (headless, like the e2e tests), the web client built into a temp dir, and the bundled
 * page helpers of `stamp.browser.ts`.
 */

const repoRoot = path.join(import.meta.dirname, '..', '..');

/** Chromium for pages that bring their own (stamped) media, none of them throttled. */
export function launchChromium(): Promise<Browser> {
  return launchTestChromium({ fakeDevices: false, unthrottled: true });
}

/** Bundles a browser entry (TypeScript, with its npm imports) into one IIFE script. */
export async function bundleBrowserScript(entry: string): Promise<string> {
  const out = await esbuild({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: false,
    logLevel: 'silent',
  });
  const file = out.outputFiles[0];
  if (!file) throw new Error(`esbuild produced nothing for ${entry}`);
  return file.text;
}

let stampScript: Promise<string> | undefined;

/** The bundled `stamp.browser.ts` (defines `window.__bench`). */
export function stampScriptSource(): Promise<string> {
  stampScript ??= bundleBrowserScript(path.join(import.meta.dirname, 'stamp.browser.ts'));
  return stampScript;
}

/**
 * Builds the web client (`web/`) with Vite into a fresh temp dir, so the benchmark measures
 * the current source, never a stale `web/dist`; ~3 s. Returns the dir and a cleanup.
 */
export async function buildWebClient(): Promise<{ dir: string; remove: () => void }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-bench-web-'));
  const { build } = await import('vite');
  await build({
    configFile: path.join(repoRoot, 'web', 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir: dir, emptyOutDir: true, sourcemap: false },
  });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A page in a context of its own, with `window.__bench` and (if given) the stamped camera installed before any page script. */
export async function benchPage(browser: Browser, baseURL: string, camera?: CameraOptions): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const source = await stampScriptSource();
  await page.addInitScript({ content: camera ? `${source}\nwindow.__bench.installCamera(${JSON.stringify(camera)});` : source });
  return { context, page };
}

/** Signs up over HTTP from the context (its cookie jar keeps the session). */
export async function signUpInContext(context: BrowserContext, username: string): Promise<void> {
  const res = await context.request.post('/api/auth/signup', { data: { username, password: 'a good long password' } });
  if (res.status() !== 201) throw new Error(`signup ${username}: ${res.status()} ${await res.text()}`);
}

/** Waits until the page's stamp reader (`readStamps`) has decoded `minFrames` frames; clears what it collected. */
export async function waitForFrames(page: Page, what: string, minFrames = 10, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await page.evaluate(() => window.__bench.takeStamps());
    if (r.samples.length >= minFrames) return;
    await page.waitForTimeout(200);
  }
  throw new Error(`${what}: no decodable frames within ${timeoutMs} ms`);
}

/** Collects decoded stamps from `page` until `frames` samples are in (or the time runs out). */
export async function collectStamps(page: Page, frames: number, timeoutMs: number): Promise<StampReport> {
  const total: StampReport = { samples: [], undecodable: 0, callbacks: 0 };
  await page.evaluate(() => window.__bench.takeStamps());
  const deadline = Date.now() + timeoutMs;
  while (total.samples.length < frames) {
    if (Date.now() > deadline) throw new Error(`only ${total.samples.length} of ${frames} frames decoded within ${timeoutMs} ms`);
    await page.waitForTimeout(250);
    const r = await page.evaluate(() => window.__bench.takeStamps());
    total.samples.push(...r.samples);
    total.undecodable += r.undecodable;
    total.callbacks += r.callbacks;
  }
  total.samples.splice(frames);
  return total;
}
