import path from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { benchPage, buildWebClient, launchChromium } from '../lib/browser.ts';
import { startChild, type ChildHandle } from '../lib/child.ts';
import { collectPath, describePath, describePipeline, goLiveStamped, latencyCdf, watchStamped, type CollectConfig, type PathLatency } from '../lib/glass.ts';
import { round } from '../lib/proc.ts';
import type { SpyglassReady } from '../lib/spyglass.child.ts';
import type { CameraOptions } from '../lib/stamp.browser.ts';
import { chartDocument } from '../lib/svg.ts';
import type { BenchBody, BenchResult, LatestFigures, RunOptions } from '../types.ts';

/**
 * Glass-to-glass latency in real Chromium. The broadcaster's camera is a canvas on which the
 * wall-clock time is drawn as black/white blocks 30 times a second (`lib/stamp.browser.ts`);
 * the viewer decodes the blocks of every frame it presents (requestVideoFrameCallback) and
 * records how old the stamp is. Two paths, one after the other:
 *
 * - **Spyglass**: a real server (own process, SQLite, recording off, one media worker) and
 *   Spyglass's own pages — `/live` in one browser context (its getUserMedia returns the
 *   canvas), `/watch/:id` in another.
 * - **floor**: the same canvas sent from one page to another over a direct
 *   RTCPeerConnection (loopback, no SFU), decoded the same way.
 *
 * See docs/benchmarks.md.
 */

export interface LatencyConfig extends CollectConfig {
  camera: CameraOptions;
  targetP95Ms: number;
}

export function latencyConfig(smoke: boolean): LatencyConfig {
  return smoke
    ? { frames: 20, warmupMs: 500, camera: { width: 640, height: 360, fps: 30 }, targetP95Ms: 150, collectTimeoutMs: 20_000 }
    : { frames: 600, warmupMs: 4000, camera: { width: 1280, height: 720, fps: 30 }, targetP95Ms: 150, collectTimeoutMs: 60_000 };
}

export interface LatencyResult extends BenchResult<'latency', LatencyConfig> {
  /** Paths 'spyglass' and 'floor'. */
  spyglass: PathLatency;
  floor: PathLatency;
  /** Spyglass p95 − floor p95: what the SFU path adds. */
  addedP95Ms: number | null;
  targetMet: boolean | null;
}

export async function run(opts: RunOptions): Promise<BenchBody<LatencyResult>> {
  const log = opts.log ?? (() => undefined);
  const config = latencyConfig(opts.smoke);
  log(`latency: ${opts.smoke ? 'smoke' : 'full'} run, ${config.frames} frames per path, camera ${config.camera.width}x${config.camera.height}@${config.camera.fps}`);
  // Chromium starts while the web client builds and the server starts.
  const browserStart = launchChromium();
  browserStart.catch(() => undefined); // awaited below; this only keeps an early failure from being "unhandled"
  let browser: Browser | undefined;
  let web: { dir: string; remove: () => void } | undefined;
  let server: ChildHandle | undefined;
  try {
    web = await buildWebClient();
    const started = await startChild<SpyglassReady>(path.join(import.meta.dirname, '..', 'lib', 'spyglass.child.ts'), {
      BENCH_WEB_ROOT: web.dir,
      BENCH_NUM_WORKERS: '1',
    });
    server = started.child;
    const ready = started.ready;
    browser = await browserStart;
    const serverPid = server.pid;
    const pids = (extra: number[]) => new Map<string, number>([...extra.map((pid, i) => [`worker${i}`, pid] as const), ['server', serverPid]]);
    const spyglass = await measureSpyglass(browser, ready.url, config, pids(ready.workerPids), log);
    const floor = await measureFloor(browser, ready.url, config, log);
    const addedP95Ms = spyglass.callbackMs.p95 !== null && floor.callbackMs.p95 !== null ? round(spyglass.callbackMs.p95 - floor.callbackMs.p95, 1) : null;
    return {
      config,
      spyglass,
      floor,
      addedP95Ms,
      targetMet: spyglass.callbackMs.p95 === null ? null : spyglass.callbackMs.p95 <= config.targetP95Ms,
    };
  } finally {
    await (browser ?? (await browserStart.catch(() => undefined)))?.close().catch(() => undefined);
    await server?.stop();
    web?.remove();
  }
}

type Log = (line: string) => void;

async function measureSpyglass(browser: Browser, url: string, config: LatencyConfig, pids: Map<string, number>, log: Log): Promise<PathLatency> {
  const contexts: BrowserContext[] = [];
  try {
    const caster = await goLiveStamped(browser, url, config.camera, 'Latency');
    contexts.push(caster.context);
    log(`latency: broadcast ${caster.id} live`);
    const viewer = await watchStamped(browser, url, caster.id);
    contexts.push(viewer.context);
    return await collectPath('spyglass', caster.page, viewer.page, config, pids, prefixed(log));
  } finally {
    for (const c of contexts) await c.close().catch(() => undefined);
  }
}

async function measureFloor(browser: Browser, url: string, config: LatencyConfig, log: Log): Promise<PathLatency> {
  const contexts: BrowserContext[] = [];
  try {
    const sender = await benchPage(browser, url, config.camera);
    const receiver = await benchPage(browser, url);
    contexts.push(sender.context, receiver.context);
    // Any page of the server's origin will do (a secure context for getUserMedia): the health check.
    await Promise.all([sender.page.goto('/healthz'), receiver.page.goto('/healthz')]);
    const offer = await sender.page.evaluate(() => window.__bench.floorOffer());
    const answer = await receiver.page.evaluate((sdp) => window.__bench.floorAnswer(sdp), offer);
    await sender.page.evaluate((sdp) => window.__bench.floorAccept(sdp), answer);
    log('latency: floor peer connection up');
    return await collectPath('floor', sender.page, receiver.page, config, new Map(), prefixed(log));
  } finally {
    for (const c of contexts) await c.close().catch(() => undefined);
  }
}

/** collectPath's lines as this benchmark's. */
function prefixed(log: Log): Log {
  return (line) => log(`latency: ${line}`);
}

export function chart(r: LatencyResult): string {
  return chartDocument(
    'Glass-to-glass latency (Chromium → Chromium)',
    `${r.config.camera.width}×${r.config.camera.height}@${r.config.camera.fps} canvas camera; Spyglass p50 ${r.spyglass.callbackMs.p50} / p95 ${r.spyglass.callbackMs.p95} ms; ` +
      `direct RTCPeerConnection p50 ${r.floor.callbackMs.p50} / p95 ${r.floor.callbackMs.p95} ms; ${r.machine.cores} cores`,
    [
      {
        title: 'Latency of every frame',
        xLabel: 'time (s)',
        yLabel: 'stamp age at the viewer (ms)',
        series: [
          { name: 'Spyglass', points: r.spyglass.series, style: 'dots' },
          { name: 'direct PC (floor)', points: r.floor.series, style: 'dots' },
        ],
        hLines: [{ y: r.config.targetP95Ms, label: `target p95 ${r.config.targetP95Ms} ms` }],
      },
      {
        title: 'Distribution',
        xLabel: 'stamp age at the viewer (ms)',
        yLabel: 'frames at or below (%)',
        series: [
          { name: 'Spyglass', points: latencyCdf(r.spyglass) },
          { name: 'direct PC (floor)', points: latencyCdf(r.floor) },
        ],
        hLines: [{ y: 95, label: 'p95' }],
      },
    ],
  );
}

export function summary(r: LatencyResult): Partial<LatestFigures> {
  return { latency: { p50Ms: r.spyglass.callbackMs.p50, p95Ms: r.spyglass.callbackMs.p95, floorP95Ms: r.floor.callbackMs.p95 } };
}

export function describe(r: LatencyResult): string[] {
  return [
    describePath(r.spyglass, 'Spyglass'),
    describePath(r.floor, 'direct RTCPeerConnection (floor)'),
    describePipeline(r.spyglass, 'Spyglass'),
    describePipeline(r.floor, 'floor'),
    `Spyglass adds ${r.addedP95Ms} ms at p95; target p95 ≤ ${r.config.targetP95Ms} ms: ${r.targetMet === null ? 'not measured' : r.targetMet ? 'met' : 'missed'}`,
  ];
}
