import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { benchPage, buildWebClient, bundleBrowserScript, launchChromium } from '../lib/browser.ts';
import { startChild, type ChildHandle } from '../lib/child.ts';
import { goLiveStamped } from '../lib/glass.ts';
import type { SpyglassReady } from '../lib/spyglass.child.ts';
import type { CameraOptions, FirstFrame, Milestone, RequestTiming } from '../lib/stamp.browser.ts';
import { percentiles, type Percentiles } from '../lib/stats.ts';
import { chartDocument } from '../lib/svg.ts';
import type { BenchBody, BenchResult, LatestFigures, RunOptions } from '../types.ts';
import type { RawReady } from './raw.child.ts';

/**
 * Time to first frame: a viewer joins a live broadcast in real Chromium, and the time from
 * the start of the join to the first video frame it presents is measured, for Spyglass and
 * for raw mediasoup (the mediasoup demo's flow with nothing of Spyglass), joins alternating
 * between the two. Both broadcasters are Chromium tabs with the same canvas camera
 * (`lib/stamp.browser.ts`), sending Opus and VP8 in the same three simulcast layers.
 *
 * "Join": the viewer's page is loaded and idle; the join starts when the viewer asks to watch
 * — for Spyglass, a click on a link to `/watch/:id` in the running app (the page mounts,
 * opens its socket.io connection and joins); for raw, a call of `raw.join()` (opens its
 * socket.io connection and consumes). It ends at the first requestVideoFrameCallback of the
 * video element. Both include a new signalling connection, a new Device, transport, ICE,
 * DTLS, the key frame and its decode. See docs/benchmarks.md.
 */

export interface TtffConfig {
  /** Measured joins per path. */
  joins: number;
  /** Joins per path before measuring (the first loads the watch page's code; discarded). */
  warmupJoins: number;
  /** Pause after a viewer left before the next join. */
  pauseMs: number;
  camera: CameraOptions;
  targetP95Ms: number;
  joinTimeoutMs: number;
}

export function ttffConfig(smoke: boolean): TtffConfig {
  const joins = Number(process.env.BENCH_TTFF_JOINS) || undefined;
  const config: TtffConfig = smoke
    ? { joins: 3, warmupJoins: 1, pauseMs: 300, camera: { width: 640, height: 360, fps: 30 }, targetP95Ms: 500, joinTimeoutMs: 15_000 }
    : { joins: 40, warmupJoins: 2, pauseMs: 700, camera: { width: 1280, height: 720, fps: 30 }, targetP95Ms: 500, joinTimeoutMs: 15_000 };
  return joins === undefined ? config : { ...config, joins };
}

/** One join; every time in ms after its start (null: the milestone was not seen). */
export interface JoinSample {
  path: 'spyglass' | 'raw';
  /** Index in the alternating sequence (for the chart). */
  index: number;
  /** The figure: first requestVideoFrameCallback. */
  firstFrameMs: number;
  /** The signalling WebSocket created (the page has started joining). */
  wsNewMs: number | null;
  /** … and open. */
  wsOpenMs: number | null;
  /** The first RTCPeerConnection created: mediasoup-client's Device probes the browser's capabilities with one (after join/capabilities). */
  pcNewMs: number | null;
  /** Its first setRemoteDescription: the first consumer's parameters are in (after `consume`). */
  pcRemoteMs: number | null;
  /** Its first setLocalDescription: after the transport's DTLS parameters went to the server; ICE starts. */
  pcLocalMs: number | null;
  /** ICE and DTLS done (connectionState `connected`). */
  pcConnectedMs: number | null;
  /** The first frame's last packet arrived. */
  firstPacketsMs: number | null;
  width: number;
  height: number;
  /** The join's socket.io requests in order: when sent (ms after the join started) and their round trips (ack − send, ms; null: no ack seen). */
  requests: Array<{ event: string; atMs: number; ms: number | null }>;
}

export interface PathTtff {
  name: 'spyglass' | 'raw';
  joins: number;
  firstFrameMs: Percentiles;
  /** Phases (percentiles of each join's own phase lengths). */
  phases: {
    /** Join start → the first consumer offer applied (setRemoteDescription): page, socket, join, capabilities, transport, consume. */
    signallingMs: Percentiles;
    /** → setLocalDescription: the answer, and the transport's `connect` round trip. */
    answerMs: Percentiles;
    /** → connectionState `connected`: ICE + DTLS. */
    connectMs: Percentiles;
    /** → first frame presented: the key frame (requested by the SFU), its transmission, decode, render. */
    mediaMs: Percentiles;
  };
  /** Join start → its first socket.io request sent (the page mounted; raw: also the socket opened). */
  firstRequestMs: Percentiles;
  /** Per request event: median round trip (ms) seen by the page. */
  requestP50Ms: Record<string, number | null>;
  /** Per join: the sum of its requests' round trips (time spent waiting for the server), percentiles. */
  requestsTotalMs: Percentiles;
  /** First frames' sizes, e.g. { "320x180": 30 }. */
  firstSizes: Record<string, number>;
}

export interface TtffResult extends BenchResult<'ttff', TtffConfig> {
  spyglass: PathTtff;
  raw: PathTtff;
  samples: JoinSample[];
  /** Spyglass p95 ÷ raw p95. */
  ratioP95: number | null;
  targetMet: boolean | null;
}

export async function run(opts: RunOptions): Promise<BenchBody<TtffResult>> {
  const log = opts.log ?? (() => undefined);
  const config = ttffConfig(opts.smoke);
  log(`ttff: ${opts.smoke ? 'smoke' : 'full'} run, ${config.joins} joins per path (+${config.warmupJoins} warm-up), camera ${config.camera.width}x${config.camera.height}`);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'spyglass-bench-ttff-'));
  // Chromium starts while the web client and the raw page build.
  const browserStart = launchChromium();
  browserStart.catch(() => undefined); // awaited below; this only keeps an early failure from being "unhandled"

  const children: ChildHandle[] = [];
  let browser: Browser | undefined;
  let removeWeb: (() => void) | undefined;
  const contexts: BrowserContext[] = [];
  try {
    const [web, rawJs] = await Promise.all([buildWebClient(), bundleBrowserScript(path.join(import.meta.dirname, 'raw.browser.ts'))]);
    removeWeb = web.remove;
    const rawPage = path.join(tmp, 'raw.js');
    writeFileSync(rawPage, rawJs);
    const started = await Promise.allSettled([
      startChild<SpyglassReady>(path.join(import.meta.dirname, '..', 'lib', 'spyglass.child.ts'), { BENCH_WEB_ROOT: web.dir, BENCH_NUM_WORKERS: '1' }),
      startChild<RawReady>(path.join(import.meta.dirname, 'raw.child.ts'), { BENCH_RAW_PAGE_JS: rawPage }),
      browserStart,
    ]);
    const [spyStart, rawStart, browserStarted] = started;
    if (spyStart.status === 'fulfilled') children.push(spyStart.value.child);
    if (rawStart.status === 'fulfilled') children.push(rawStart.value.child);
    if (browserStarted.status === 'fulfilled') browser = browserStarted.value;
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const spy = (spyStart as PromiseFulfilledResult<{ child: ChildHandle; ready: SpyglassReady }>).value;
    const raw = (rawStart as PromiseFulfilledResult<{ child: ChildHandle; ready: RawReady }>).value;

    // The two broadcasters, live side by side for the whole run.
    const spyCaster = await goLiveStamped(browser!, spy.ready.url, config.camera, 'Time to first frame');
    contexts.push(spyCaster.context);
    const broadcastId = spyCaster.id;
    const rawCaster = await benchPage(browser!, raw.ready.url, config.camera);
    contexts.push(rawCaster.context);
    await rawCaster.page.goto('/');
    await rawCaster.page.evaluate(() => window.raw.broadcast());
    const producers = await raw.child.request<number>({ type: 'producers' });
    if (producers !== 2) throw new Error(`raw broadcaster has ${producers} producers, expected 2`);
    log(`ttff: both broadcasters live (Spyglass ${broadcastId})`);

    // The two viewers: pages loaded once, then joining and leaving again and again.
    const spyViewer = await benchPage(browser!, spy.ready.url);
    const rawViewer = await benchPage(browser!, raw.ready.url);
    contexts.push(spyViewer.context, rawViewer.context);
    await spyViewer.page.goto('/');
    await rawViewer.page.goto('/');
    await rawViewer.page.waitForFunction(() => 'raw' in window);

    const joinOnce = (p: 'spyglass' | 'raw', index: number) =>
      (p === 'spyglass' ? joinSpyglass(spyViewer.page, broadcastId, index, config) : joinRaw(rawViewer.page, index, config)).catch((err: unknown) => {
        throw new Error(`${p} join ${index}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      });
    // Give both broadcasters' bandwidth estimation time to ramp up before anyone joins.
    await sleep(opts.smoke ? 500 : 3000);
    for (let i = 0; i < config.warmupJoins; i++) {
      for (const p of ['spyglass', 'raw'] as const) await joinOnce(p, -1);
    }
    const samples: JoinSample[] = [];
    // A B B A A B …: neither path always goes first after the pause.
    for (let i = 0; i < config.joins * 2; i++) {
      const p = (['spyglass', 'raw', 'raw', 'spyglass'] as const)[i % 4]!;
      const s = await joinOnce(p, i);
      samples.push(s);
      if (!opts.smoke && (i + 1) % 10 === 0) log(`ttff: ${i + 1} of ${config.joins * 2} joins`);
    }
    const spyglass = summarise('spyglass', samples);
    const rawPath = summarise('raw', samples);
    log(`ttff: Spyglass p50 ${spyglass.firstFrameMs.p50} / p95 ${spyglass.firstFrameMs.p95} ms; raw p50 ${rawPath.firstFrameMs.p50} / p95 ${rawPath.firstFrameMs.p95} ms`);
    return {
      config,
      spyglass,
      raw: rawPath,
      samples,
      ratioP95: spyglass.firstFrameMs.p95 !== null && rawPath.firstFrameMs.p95 ? round(spyglass.firstFrameMs.p95 / rawPath.firstFrameMs.p95, 2) : null,
      targetMet: spyglass.firstFrameMs.p95 === null ? null : spyglass.firstFrameMs.p95 <= config.targetP95Ms,
    };
  } finally {
    for (const c of contexts) await c.close().catch(() => undefined);
    await (browser ?? (await browserStart.catch(() => undefined)))?.close().catch(() => undefined);
    for (const c of children) await c.stop();
    removeWeb?.();
    rmSync(tmp, { recursive: true, force: true });
  }
}

interface JoinTrace {
  t0: number;
  ff: FirstFrame;
  milestones: Milestone[];
  requests: RequestTiming[];
}

/** Spyglass: a click on a link to the watch page in the running app; leaves by a click on a link home (bench:ingest joins the same way). */
export async function joinSpyglass(page: Page, broadcastId: string, index: number, config: Pick<TtffConfig, 'joinTimeoutMs' | 'pauseMs'>): Promise<JoinSample> {
  const trace = await page.evaluate(
    async ({ href, timeoutMs }) => {
      const a = document.createElement('a');
      a.href = href;
      document.body.append(a);
      const t0 = performance.now();
      a.click();
      a.remove();
      const ff = await window.__bench.firstFrame(() => document.querySelector<HTMLVideoElement>('video[aria-label="Live video"]'), timeoutMs);
      await new Promise((resolve) => setTimeout(resolve, 50)); // the last acks (consumer:resume)
      return { t0, ff, milestones: window.__bench.milestones().filter((m) => m.at >= t0), requests: window.__bench.requests().filter((r) => r.sentAt >= t0) };
    },
    { href: `/watch/${broadcastId}`, timeoutMs: config.joinTimeoutMs },
  );
  await page.evaluate(() => {
    const a = document.createElement('a');
    a.href = '/';
    document.body.append(a);
    a.click();
    a.remove();
  });
  await sleep(config.pauseMs);
  return sample('spyglass', index, trace);
}

/** Raw: `raw.join()` in the loaded page; leaves with `raw.leave()`. */
async function joinRaw(page: Page, index: number, config: TtffConfig): Promise<JoinSample> {
  const trace = await page.evaluate(async (timeoutMs) => {
    const t0 = performance.now();
    const joined = window.raw.join();
    const ff = await Promise.race([
      window.__bench.firstFrame(() => document.querySelector<HTMLVideoElement>('video[aria-label="Raw video"]'), timeoutMs),
      joined.then(() => new Promise<never>(() => undefined)),
    ]);
    await joined;
    await new Promise((resolve) => setTimeout(resolve, 50)); // the last acks (resume)
    return { t0, ff, milestones: window.__bench.milestones().filter((m) => m.at >= t0), requests: window.__bench.requests().filter((r) => r.sentAt >= t0) };
  }, config.joinTimeoutMs);
  await page.evaluate(() => window.raw.leave());
  await sleep(config.pauseMs);
  return sample('raw', index, trace);
}

function sample(p: 'spyglass' | 'raw', index: number, { t0, ff, milestones, requests }: JoinTrace): JoinSample {
  const first = (what: Milestone['what']) => {
    const m = milestones.find((x) => x.what === what);
    return m === undefined ? null : round(m.at - t0);
  };
  return {
    path: p,
    index,
    firstFrameMs: round(ff.at - t0),
    wsNewMs: first('ws-new'),
    wsOpenMs: first('ws-open'),
    pcNewMs: first('pc-new'),
    pcRemoteMs: first('pc-remote'),
    pcLocalMs: first('pc-local'),
    pcConnectedMs: first('pc-connected'),
    firstPacketsMs: ff.receiveTime === null ? null : round(ff.receiveTime - t0),
    width: ff.width,
    height: ff.height,
    requests: requests.map((r) => ({ event: r.event, atMs: round(r.sentAt - t0), ms: r.ackAt === null ? null : round(r.ackAt - r.sentAt) })),
  };
}

function summarise(name: 'spyglass' | 'raw', all: JoinSample[]): PathTtff {
  const samples = all.filter((s) => s.path === name);
  const firstSizes: Record<string, number> = {};
  for (const s of samples) firstSizes[`${s.width}x${s.height}`] = (firstSizes[`${s.width}x${s.height}`] ?? 0) + 1;
  const diffs = (f: (s: JoinSample) => number | null) => percentiles(samples.flatMap((s) => (f(s) === null ? [] : [f(s)!])));
  return {
    name,
    joins: samples.length,
    firstFrameMs: percentiles(samples.map((s) => s.firstFrameMs)),
    phases: {
      signallingMs: diffs((s) => s.pcRemoteMs),
      answerMs: diffs((s) => (s.pcRemoteMs === null || s.pcLocalMs === null ? null : round(s.pcLocalMs - s.pcRemoteMs))),
      connectMs: diffs((s) => (s.pcLocalMs === null || s.pcConnectedMs === null ? null : round(s.pcConnectedMs - s.pcLocalMs))),
      mediaMs: diffs((s) => (s.pcConnectedMs === null ? null : round(s.firstFrameMs - s.pcConnectedMs))),
    },
    firstRequestMs: diffs((s) => s.requests[0]?.atMs ?? null),
    requestP50Ms: Object.fromEntries(
      [...new Set(samples.flatMap((s) => s.requests.map((r) => r.event)))].map((event) => [
        event,
        percentiles(samples.flatMap((s) => s.requests.filter((r) => r.event === event && r.ms !== null).map((r) => r.ms!))).p50,
      ]),
    ),
    requestsTotalMs: percentiles(samples.map((s) => round(s.requests.reduce((a, r) => a + (r.ms ?? 0), 0)))),
    firstSizes,
  };
}

function round(x: number, digits = 1): number {
  return Math.round(x * 10 ** digits) / 10 ** digits;
}

export function chart(r: TtffResult): string {
  const pts = (p: 'spyglass' | 'raw') => r.samples.filter((s) => s.path === p).map((s) => [s.index, s.firstFrameMs] as [number, number]);
  const cdf = (p: 'spyglass' | 'raw'): Array<[number, number]> => {
    const sorted = r.samples.filter((s) => s.path === p).map((s) => s.firstFrameMs).sort((a, b) => a - b);
    return sorted.map((y, i) => [y, round(((i + 1) / sorted.length) * 100)]);
  };
  const phases = (p: PathTtff): Array<[number, number]> => [
    [1, p.phases.signallingMs.p50 ?? 0],
    [2, p.phases.answerMs.p50 ?? 0],
    [3, p.phases.connectMs.p50 ?? 0],
    [4, p.phases.mediaMs.p50 ?? 0],
  ];
  return chartDocument(
    'Time to first frame (viewer join → first presented frame, Chromium)',
    `Spyglass p50 ${r.spyglass.firstFrameMs.p50} / p95 ${r.spyglass.firstFrameMs.p95} ms; raw mediasoup p50 ${r.raw.firstFrameMs.p50} / p95 ${r.raw.firstFrameMs.p95} ms; ` +
      `${r.spyglass.joins} + ${r.raw.joins} joins, alternating; ${r.machine.cores} cores`,
    [
      {
        title: 'Every join',
        xLabel: 'join (in order)',
        yLabel: 'first frame (ms)',
        series: [
          { name: 'Spyglass', points: pts('spyglass'), style: 'dots' },
          { name: 'raw mediasoup', points: pts('raw'), style: 'dots' },
        ],
        hLines: [{ y: r.config.targetP95Ms, label: `target p95 ${r.config.targetP95Ms} ms` }],
      },
      {
        title: 'Distribution',
        xLabel: 'first frame (ms)',
        yLabel: 'joins at or below (%)',
        series: [
          { name: 'Spyglass', points: cdf('spyglass') },
          { name: 'raw mediasoup', points: cdf('raw') },
        ],
        hLines: [{ y: 95, label: 'p95' }],
      },
      {
        title: 'Median phases: 1 signalling, 2 answer+connect, 3 ICE+DTLS, 4 key frame',
        xLabel: 'phase',
        yLabel: 'ms (median)',
        series: [
          { name: 'Spyglass', points: phases(r.spyglass) },
          { name: 'raw mediasoup', points: phases(r.raw) },
        ],
      },
    ],
  );
}

export function summary(r: TtffResult): Partial<LatestFigures> {
  return { ttff: { p95Ms: r.spyglass.firstFrameMs.p95, p50Ms: r.spyglass.firstFrameMs.p50, rawP95Ms: r.raw.firstFrameMs.p95 } };
}

export function describe(r: TtffResult): string[] {
  const line = (p: PathTtff, label: string) =>
    `${label}: first frame p50 ${p.firstFrameMs.p50} ms, p95 ${p.firstFrameMs.p95} ms, max ${p.firstFrameMs.max} ms over ${p.joins} joins; ` +
    `median phases: signalling ${p.phases.signallingMs.p50} ms, answer+connect ${p.phases.answerMs.p50} ms, ICE+DTLS ${p.phases.connectMs.p50} ms, ` +
    `key frame to display ${p.phases.mediaMs.p50} ms; first request sent at ${p.firstRequestMs.p50} ms; ` +
    `requests (median round trips): ${Object.entries(p.requestP50Ms).map(([k, v]) => `${k} ${v}`).join(', ')}, in all ${p.requestsTotalMs.p50} ms; ` +
    `first frame sizes ${Object.entries(p.firstSizes).map(([k, v]) => `${k}×${v}`).join(', ')}`;
  return [
    line(r.spyglass, 'Spyglass'),
    line(r.raw, 'raw mediasoup'),
    `Spyglass p95 ÷ raw p95: ${r.ratioP95}; target p95 ≤ ${r.config.targetP95Ms} ms: ${r.targetMet === null ? 'not measured' : r.targetMet ? 'met' : 'missed'}`,
  ];
}
