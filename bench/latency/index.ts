import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { goLiveInPage } from '../../test/helpers/liveUi.ts';
import { benchPage, buildWebClient, collectStamps, launchChromium, signUpInContext, waitForFrames } from '../lib/browser.ts';
import { startChild, type ChildHandle } from '../lib/child.ts';
import { machineInfo, type MachineInfo } from '../lib/machine.ts';
import { CpuWindow, type CpuReading } from '../lib/proc.ts';
import type { SpyglassReady } from '../lib/spyglass.child.ts';
import type { CameraOptions, RtpCounters, StampSample } from '../lib/stamp.browser.ts';
import { percentiles, type Percentiles } from '../lib/stats.ts';
import { chartDocument } from '../lib/svg.ts';
import type { BenchResult, LatestFigures, RunOptions } from '../types.ts';

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

export interface LatencyConfig {
  /** Frames decoded and kept per path. */
  frames: number;
  /** Time after the first decoded frame before collecting starts (bandwidth estimation ramps up, layers switch). */
  warmupMs: number;
  camera: CameraOptions;
  targetP95Ms: number;
  /** Per-path limit for collecting `frames`. */
  collectTimeoutMs: number;
}

export function latencyConfig(smoke: boolean): LatencyConfig {
  return smoke
    ? { frames: 20, warmupMs: 500, camera: { width: 640, height: 360, fps: 30 }, targetP95Ms: 150, collectTimeoutMs: 20_000 }
    : { frames: 600, warmupMs: 4000, camera: { width: 1280, height: 720, fps: 30 }, targetP95Ms: 150, collectTimeoutMs: 60_000 };
}

export interface PathLatency {
  name: 'spyglass' | 'floor';
  /** Frames decoded and kept. */
  frames: number;
  /** Frames presented whose blocks did not decode. */
  undecodable: number;
  /** Presented frames per second over the collection (decoded or not). */
  fps: number;
  /** Frames the sender skipped, from the gaps in its counter (mod 256) between consecutive presented frames. */
  skipped: number;
  /** The figure: stamp age when the viewer's requestVideoFrameCallback ran (Date.now() there − Date.now() at the draw). */
  callbackMs: Percentiles;
  /** Stamp age at the frame's expected display time (metadata.expectedDisplayTime; in headless Chromium often before the callback runs). */
  displayMs: Percentiles;
  /** Stamp age when the frame's last packet arrived at the viewer (sender + network + SFU). */
  receiveMs: Percentiles;
  /** The decoded sizes seen, e.g. { "1280x720": 590, "640x360": 10 }. */
  sizes: Record<string, number>;
  /**
   * Where the time goes, from WebRTC's own counters over the collection (means per frame, ms):
   * the sender's encode time (averaged over its simulcast layers) and pacer delay per packet,
   * the viewer's jitter-buffer delay, decode time and processing delay (first packet of a
   * frame received → frame decoded).
   */
  pipeline: PipelineMeans | null;
  cpu: CpuReading | null;
  /** For the chart: [seconds since the first kept frame, callbackMs]. */
  series: Array<[number, number]>;
}

export interface PipelineMeans {
  encodeMs: number | null;
  packetSendDelayMs: number | null;
  jitterBufferMs: number | null;
  decodeMs: number | null;
  processingMs: number | null;
  framesDecoded: number;
  framesDropped: number;
}

export interface LatencyResult extends BenchResult {
  benchmark: 'latency';
  machine: MachineInfo;
  config: LatencyConfig;
  spyglass: PathLatency;
  floor: PathLatency;
  /** Spyglass p95 − floor p95: what the SFU path adds. */
  addedP95Ms: number | null;
  targetMet: boolean | null;
}

export async function run(opts: RunOptions): Promise<LatencyResult> {
  const log = opts.log ?? (() => undefined);
  const startedAt = new Date();
  const t0 = performance.now();
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
    const addedP95Ms = spyglass.callbackMs.p95 !== null && floor.callbackMs.p95 !== null ? round(spyglass.callbackMs.p95 - floor.callbackMs.p95) : null;
    return {
      benchmark: 'latency',
      smoke: opts.smoke,
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - t0),
      machine: machineInfo(),
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
    const caster = await benchPage(browser, url, config.camera);
    contexts.push(caster.context);
    await signUpInContext(caster.context, `caster${Date.now().toString(36)}`);
    const id = await goLiveInPage(caster.page, 'Latency');
    log(`latency: broadcast ${id} live`);
    const viewer = await benchPage(browser, url);
    contexts.push(viewer.context);
    await viewer.page.goto(`/watch/${id}`);
    await viewer.page.locator('video[aria-label="Live video"]').waitFor({ state: 'attached', timeout: 15_000 });
    await viewer.page.evaluate(() => window.__bench.readStamps(document.querySelector<HTMLVideoElement>('video[aria-label="Live video"]')!));
    return await collectPath('spyglass', caster.page, viewer.page, config, pids, log);
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
    return await collectPath('floor', sender.page, receiver.page, config, new Map(), log);
  } finally {
    for (const c of contexts) await c.close().catch(() => undefined);
  }
}

async function collectPath(
  name: PathLatency['name'],
  sender: Page,
  page: Page,
  config: LatencyConfig,
  pids: Map<string, number>,
  log: Log,
): Promise<PathLatency> {
  await waitForFrames(page, name, 5, 20_000);
  await sleep(config.warmupMs);
  log(`latency: ${name}: collecting ${config.frames} frames`);
  const cpu = pids.size > 0 ? new CpuWindow(pids) : null;
  const counters = () => Promise.all([sender.evaluate(() => window.__bench.rtpStats()), page.evaluate(() => window.__bench.rtpStats())]);
  const before = await counters();
  cpu?.start();
  const started = performance.now();
  const report = await collectStamps(page, config.frames, config.collectTimeoutMs);
  const seconds = (performance.now() - started) / 1000;
  const cpuReading = cpu?.stop() ?? null;
  const after = await counters();
  const samples = report.samples;
  const result = summarise(name, samples, report.undecodable, report.callbacks / seconds, cpuReading, pipelineMeans(before, after));
  log(`latency: ${name}: p50 ${result.callbackMs.p50} ms, p95 ${result.callbackMs.p95} ms over ${result.frames} frames (${result.fps} fps, ${result.undecodable} undecodable)`);
  return result;
}

function pipelineMeans([s0, v0]: [RtpCounters, RtpCounters], [s1, v1]: [RtpCounters, RtpCounters]): PipelineMeans {
  const per = (dt: number, dn: number) => (dn > 0 ? round((dt / dn) * 1000, 2) : null);
  const i0 = v0.inbound;
  const i1 = v1.inbound;
  const decoded = i1.framesDecoded - i0.framesDecoded;
  return {
    encodeMs: per(s1.outbound.totalEncodeTime - s0.outbound.totalEncodeTime, s1.outbound.framesEncoded - s0.outbound.framesEncoded),
    packetSendDelayMs: per(s1.outbound.totalPacketSendDelay - s0.outbound.totalPacketSendDelay, s1.outbound.packetsSent - s0.outbound.packetsSent),
    jitterBufferMs: per(i1.jitterBufferDelay - i0.jitterBufferDelay, i1.jitterBufferEmittedCount - i0.jitterBufferEmittedCount),
    decodeMs: per(i1.totalDecodeTime - i0.totalDecodeTime, decoded),
    processingMs: per(i1.totalProcessingDelay - i0.totalProcessingDelay, decoded),
    framesDecoded: decoded,
    framesDropped: i1.framesDropped - i0.framesDropped,
  };
}

function summarise(
  name: PathLatency['name'],
  samples: StampSample[],
  undecodable: number,
  fps: number,
  cpu: CpuReading | null,
  pipeline: PipelineMeans | null,
): PathLatency {
  const sizes: Record<string, number> = {};
  for (const s of samples) sizes[`${s.width}x${s.height}`] = (sizes[`${s.width}x${s.height}`] ?? 0) + 1;
  let skipped = 0;
  for (let i = 1; i < samples.length; i++) skipped += (((samples[i]!.seq - samples[i - 1]!.seq - 1) % 256) + 256) % 256;
  const first = samples[0]?.drawnAt ?? 0;
  return {
    name,
    frames: samples.length,
    undecodable,
    fps: round(fps),
    skipped,
    displayMs: percentiles(samples.map((s) => s.displayMs)),
    callbackMs: percentiles(samples.map((s) => s.callbackMs)),
    receiveMs: percentiles(samples.flatMap((s) => (s.receiveMs === null ? [] : [s.receiveMs]))),
    sizes,
    pipeline,
    cpu,
    series: samples.map((s) => [round((s.drawnAt - first) / 1000, 3), s.callbackMs]),
  };
}

function round(x: number, digits = 1): number {
  return Math.round(x * 10 ** digits) / 10 ** digits;
}

export function chart(r: LatencyResult): string {
  const cdf = (p: PathLatency): Array<[number, number]> => {
    const sorted = p.series.map(([, y]) => y).sort((a, b) => a - b);
    return sorted.map((y, i) => [y, round(((i + 1) / sorted.length) * 100)]);
  };
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
          { name: 'Spyglass', points: cdf(r.spyglass) },
          { name: 'direct PC (floor)', points: cdf(r.floor) },
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
  const line = (p: PathLatency, label: string) =>
    `${label}: p50 ${p.callbackMs.p50} ms, p95 ${p.callbackMs.p95} ms, p99 ${p.callbackMs.p99} ms (at expected display p50 ${p.displayMs.p50} ms; at arrival of the last packet p50 ${p.receiveMs.p50} ms) over ${p.frames} frames at ${p.fps} fps, ` +
    `${p.undecodable} undecodable, ${p.skipped} skipped; sizes ${Object.entries(p.sizes).map(([k, v]) => `${k}×${v}`).join(', ')}`;
  const pipe = (p: PathLatency, label: string) =>
    `${label} per frame: encode ${p.pipeline?.encodeMs} ms, pacer ${p.pipeline?.packetSendDelayMs} ms/packet, jitter buffer ${p.pipeline?.jitterBufferMs} ms, ` +
    `decode ${p.pipeline?.decodeMs} ms, first packet → decoded ${p.pipeline?.processingMs} ms`;
  return [
    line(r.spyglass, 'Spyglass'),
    line(r.floor, 'direct RTCPeerConnection (floor)'),
    pipe(r.spyglass, 'Spyglass'),
    pipe(r.floor, 'floor'),
    `Spyglass adds ${r.addedP95Ms} ms at p95; target p95 ≤ ${r.config.targetP95Ms} ms: ${r.targetMet === null ? 'not measured' : r.targetMet ? 'met' : 'missed'}`,
  ];
}
