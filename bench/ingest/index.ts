import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { signUp } from '../../testkit/server.ts';
import { publishWhip, unpublishWhip } from '../../testkit/whipClient.ts';
import { benchPage, buildWebClient, launchChromium } from '../lib/browser.ts';
import { startChild, type ChildHandle } from '../lib/child.ts';
import { collectPath, describePath, goLiveStamped, latencyCdf, watchStamped, type CollectConfig, type PathLatency } from '../lib/glass.ts';
import { round } from '../lib/proc.ts';
import type { SpyglassReady } from '../lib/spyglass.child.ts';
import type { CameraOptions } from '../lib/stamp.browser.ts';
import { startStampedEncoder, type StampedEncoder } from '../lib/stampedEncoder.ts';
import { percentiles, type Percentiles } from '../lib/stats.ts';
import { chartDocument } from '../lib/svg.ts';
import { joinSpyglass } from '../ttff/index.ts';
import type { BenchBody, BenchResult, LatestFigures, RunOptions } from '../types.ts';

/**
 * Ingest against the browser: one Spyglass (own process, one media worker, recording off, the
 * RTMP listener on) and one viewer page in Chromium, fed by each source in turn, one at a time
 * on an otherwise idle server:
 *
 * - **browser**: the go-live page `/live`, the stamped canvas camera (`lib/stamp.browser.ts`);
 * - **whip**: a Chromium page sending the same canvas over WHIP (`testkit/whipClient.ts`, H.264,
 *   no simulcast, as OBS sends) with a stream key;
 * - **rtmp**: ffmpeg (x264 zero-latency, baseline, no B-frames, AAC) fed the same stamp drawn in
 *   Node (`lib/stampedEncoder.ts`), over RTMP with a stream key: the SFU copies its H.264 and
 *   transcodes AAC to Opus.
 *
 * For each: glass-to-glass (the stamp's age when the viewer's `/watch/:id` presents a frame,
 * `lib/glass.ts`) and time to first frame (a click on a link to `/watch/:id` → the first
 * presented frame, as bench:ttff measures Spyglass). See docs/benchmarks.md and docs/ingest.md.
 */

export type Source = 'browser' | 'whip' | 'rtmp';
const SOURCES: readonly Source[] = ['browser', 'whip', 'rtmp'];

export interface IngestConfig extends CollectConfig {
  camera: CameraOptions;
  /** Measured joins per source (after `warmupJoins`). */
  joins: number;
  warmupJoins: number;
  pauseMs: number;
  joinTimeoutMs: number;
  /** The RTMP encoder's keyframe interval (OBS's advised 2 s); a new viewer of an RTMP broadcast waits for the next one. */
  rtmpKeyframeSeconds: number;
}

export function ingestConfig(smoke: boolean): IngestConfig {
  return smoke
    ? { frames: 20, warmupMs: 500, collectTimeoutMs: 30_000, camera: { width: 640, height: 360, fps: 30 }, joins: 2, warmupJoins: 1, pauseMs: 300, joinTimeoutMs: 15_000, rtmpKeyframeSeconds: 1 }
    : { frames: 600, warmupMs: 4000, collectTimeoutMs: 60_000, camera: { width: 1280, height: 720, fps: 30 }, joins: 20, warmupJoins: 2, pauseMs: 700, joinTimeoutMs: 15_000, rtmpKeyframeSeconds: 2 };
}

export interface SourceResult {
  source: Source;
  broadcastId: string;
  glass: PathLatency;
  /** Join → first presented frame, over `joins` joins. */
  firstFrameMs: Percentiles;
  /** Peer connection connected → first presented frame: the wait for a key frame and its decode. */
  keyFrameWaitMs: Percentiles;
}

export interface IngestResult extends BenchResult<'ingest', IngestConfig> {
  sources: Record<Source, SourceResult>;
  /** p50 glass-to-glass of WHIP and RTMP ÷ the browser's. */
  glassP50VsBrowser: { whip: number | null; rtmp: number | null };
  /** p95 time to first frame of WHIP and RTMP ÷ the browser's. */
  ttffP95VsBrowser: { whip: number | null; rtmp: number | null };
}

type Log = (line: string) => void;

/** One source on air: its broadcast, the page that sends (null for ffmpeg), and how to stop it. */
interface OnAir {
  broadcastId: string;
  sender: Page | null;
  stop: () => Promise<void>;
}

export async function run(opts: RunOptions): Promise<BenchBody<IngestResult>> {
  const log: Log = opts.log ?? (() => undefined);
  const config = ingestConfig(opts.smoke);
  log(`ingest: ${opts.smoke ? 'smoke' : 'full'} run, ${config.frames} frames and ${config.joins} joins per source, camera ${config.camera.width}x${config.camera.height}@${config.camera.fps}`);
  const browserStart = launchChromium();
  browserStart.catch(() => undefined); // awaited below; this only keeps an early failure from being "unhandled"
  let browser: Browser | undefined;
  let web: { dir: string; remove: () => void } | undefined;
  let server: ChildHandle | undefined;
  const contexts: BrowserContext[] = [];
  try {
    web = await buildWebClient();
    const started = await startChild<SpyglassReady>(path.join(import.meta.dirname, '..', 'lib', 'spyglass.child.ts'), { BENCH_WEB_ROOT: web.dir, BENCH_NUM_WORKERS: '1', BENCH_RTMP: '1' });
    server = started.child;
    const { url, rtmpPort, workerPids } = started.ready;
    if (rtmpPort === null) throw new Error('the server under test has no RTMP listener');
    browser = await browserStart;
    const pids = new Map([['worker', workerPids[0]!], ['signalling', server.pid]]);
    const viewer = await benchPage(browser, url);
    contexts.push(viewer.context);

    const results = {} as Record<Source, SourceResult>;
    for (const source of SOURCES) {
      const onAir = await goLive(source, browser, url, rtmpPort, config, contexts);
      try {
        log(`ingest: ${source} live (${onAir.broadcastId})`);
        const watcher = await watchStamped(browser, url, onAir.broadcastId);
        let glass: PathLatency;
        try {
          glass = await collectPath(source, onAir.sender, watcher.page, config, pids, log);
        } finally {
          await watcher.context.close();
        }
        await viewer.page.goto('/');
        for (let i = 0; i < config.warmupJoins; i++) await joinSpyglass(viewer.page, onAir.broadcastId, -1, config);
        const joins = [];
        for (let i = 0; i < config.joins; i++) joins.push(await joinSpyglass(viewer.page, onAir.broadcastId, i, config));
        results[source] = {
          source,
          broadcastId: onAir.broadcastId,
          glass,
          firstFrameMs: percentiles(joins.map((j) => j.firstFrameMs)),
          keyFrameWaitMs: percentiles(joins.flatMap((j) => (j.pcConnectedMs === null ? [] : [j.firstFrameMs - j.pcConnectedMs]))),
        };
        log(`ingest: ${source}: glass p50 ${glass.callbackMs.p50} ms, first frame p50 ${results[source].firstFrameMs.p50} / p95 ${results[source].firstFrameMs.p95} ms`);
      } finally {
        await onAir.stop();
      }
    }
    const ratio = (a: number | null, b: number | null) => (a !== null && b ? round(a / b, 2) : null);
    return {
      config,
      sources: results,
      glassP50VsBrowser: { whip: ratio(results.whip.glass.callbackMs.p50, results.browser.glass.callbackMs.p50), rtmp: ratio(results.rtmp.glass.callbackMs.p50, results.browser.glass.callbackMs.p50) },
      ttffP95VsBrowser: { whip: ratio(results.whip.firstFrameMs.p95, results.browser.firstFrameMs.p95), rtmp: ratio(results.rtmp.firstFrameMs.p95, results.browser.firstFrameMs.p95) },
    };
  } finally {
    for (const c of contexts) await c.close().catch(() => undefined);
    await (browser ?? (await browserStart.catch(() => undefined)))?.close().catch(() => undefined);
    await server?.stop();
    web?.remove();
  }
}

/** Puts `source` on air as a user of its own; resolves once its broadcast is live. */
async function goLive(source: Source, browser: Browser, url: string, rtmpPort: number, config: IngestConfig, contexts: BrowserContext[]): Promise<OnAir> {
  if (source === 'browser') {
    const caster = await goLiveStamped(browser, url, config.camera, 'Ingest: browser');
    contexts.push(caster.context);
    return { broadcastId: caster.id, sender: caster.page, stop: () => caster.context.close() };
  }
  const user = await signUp(url, `${source}${Date.now().toString(36)}`);
  const key = await createStreamKey(url, user.cookie, `Ingest: ${source}`);
  if (source === 'whip') {
    const caster = await benchPage(browser, url, config.camera);
    contexts.push(caster.context);
    await caster.page.goto('/');
    const published = await publishWhip(caster.page, { endpoint: `${url}/whip`, key, codec: 'H264' });
    const broadcastId = await liveBroadcastOf(url, user.cookie);
    return {
      broadcastId,
      sender: caster.page,
      stop: async () => {
        await unpublishWhip(caster.page, published, key).catch(() => undefined);
        await caster.context.close();
      },
    };
  }
  const encoder: StampedEncoder = startStampedEncoder({ camera: config.camera, keyframeSeconds: config.rtmpKeyframeSeconds, url: `rtmp://127.0.0.1:${rtmpPort}/live/${key}` });
  try {
    return { broadcastId: await liveBroadcastOf(url, user.cookie), sender: null, stop: () => encoder.stop() };
  } catch (error) {
    await encoder.stop();
    throw new Error(`RTMP encoder: ${error instanceof Error ? error.message : String(error)}; ffmpeg: ${encoder.errors()}`, { cause: error });
  }
}

/** A new stream key of the signed-in user (its secret). */
async function createStreamKey(url: string, cookie: string, title: string): Promise<string> {
  const res = await fetch(`${url}/api/stream-keys`, {
    method: 'POST',
    headers: { cookie, origin: url, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', title }),
  });
  if (res.status !== 201) throw new Error(`creating a stream key: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { secret: string }).secret;
}

/** The id of the user's broadcast an encoder started, once it is live (polls `GET /api/stream-keys` for 15 s). */
async function liveBroadcastOf(url: string, cookie: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const res = await fetch(`${url}/api/stream-keys`, { headers: { cookie } });
    const body = (await res.json()) as { live: { id: string; status: string } | null };
    if (body.live?.status === 'live') return body.live.id;
    await sleep(100);
  }
  throw new Error('the encoder’s broadcast did not go live within 15 s');
}

export function chart(r: IngestResult): string {
  const name = (s: Source) => ({ browser: 'browser (/live)', whip: 'WHIP (Chromium, H.264)', rtmp: 'RTMP (ffmpeg x264)' })[s];
  return chartDocument(
    'Ingest: glass-to-glass and time to first frame by source (Chromium viewer)',
    SOURCES.map((s) => `${s} glass p50 ${r.sources[s].glass.callbackMs.p50} ms, first frame p95 ${r.sources[s].firstFrameMs.p95} ms`).join('; ') + `; ${r.machine.cores} cores`,
    [
      {
        title: 'Glass-to-glass',
        xLabel: 'stamp age at the viewer (ms)',
        yLabel: 'frames at or below (%)',
        series: SOURCES.map((s) => ({ name: name(s), points: latencyCdf(r.sources[s].glass) })),
        hLines: [{ y: 95, label: 'p95' }],
      },
      {
        title: 'Time to first frame (p50, p95, max)',
        xLabel: 'percentile (50, 95, 100)',
        yLabel: 'ms',
        series: SOURCES.map((s) => ({
          name: name(s),
          points: [
            [50, r.sources[s].firstFrameMs.p50 ?? 0],
            [95, r.sources[s].firstFrameMs.p95 ?? 0],
            [100, r.sources[s].firstFrameMs.max ?? 0],
          ] as Array<[number, number]>,
        })),
      },
    ],
  );
}

export function summary(r: IngestResult): Partial<LatestFigures> {
  const s = r.sources;
  return {
    ingest: {
      glassBrowserP50Ms: s.browser.glass.callbackMs.p50,
      glassWhipP50Ms: s.whip.glass.callbackMs.p50,
      glassRtmpP50Ms: s.rtmp.glass.callbackMs.p50,
      ttffBrowserP95Ms: s.browser.firstFrameMs.p95,
      ttffWhipP95Ms: s.whip.firstFrameMs.p95,
      ttffRtmpP95Ms: s.rtmp.firstFrameMs.p95,
    },
  };
}

export function describe(r: IngestResult): string[] {
  return [
    ...SOURCES.map(
      (s) =>
        `${describePath(r.sources[s].glass, s)}; first frame p50 ${r.sources[s].firstFrameMs.p50} ms, p95 ${r.sources[s].firstFrameMs.p95} ms over ${r.sources[s].firstFrameMs.count} joins ` +
        `(connected → first frame p50 ${r.sources[s].keyFrameWaitMs.p50} ms)`,
    ),
    `glass p50 ÷ browser: WHIP ${r.glassP50VsBrowser.whip}, RTMP ${r.glassP50VsBrowser.rtmp}; first frame p95 ÷ browser: WHIP ${r.ttffP95VsBrowser.whip}, RTMP ${r.ttffP95VsBrowser.rtmp} ` +
      `(RTMP keyframes every ${r.config.rtmpKeyframeSeconds} s: a new viewer waits for the next one)`,
  ];
}
