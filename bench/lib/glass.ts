import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { goLiveInPage } from '../../testkit/liveUi.ts';
import { benchPage, collectStamps, signUpInContext, waitForFrames } from './browser.ts';
import { CpuWindow, round, type CpuReading } from './proc.ts';
import { zeroCounters, type CameraOptions, type RtpCounters, type StampSample } from './stamp.browser.ts';
import { percentiles, type Percentiles } from './stats.ts';

/**
 * Glass-to-glass in real Chromium through Spyglass's own pages, for the latency benchmark (one
 * node) and the cascade benchmark (one node against origin → edge): the broadcaster's `/live`
 * page with the stamped canvas camera (`stamp.browser.ts`), viewers' `/watch/:id` pages that
 * decode the stamp of every frame they present, and the figures of one path.
 */

/** How much to collect per path. */
export interface CollectConfig {
  /** Frames decoded and kept per path. */
  frames: number;
  /** Time after the first decoded frame before collecting starts (bandwidth estimation ramps up, layers switch). */
  warmupMs: number;
  /** Per-path limit for collecting `frames`. */
  collectTimeoutMs: number;
}

export interface PathLatency {
  /** The path, e.g. 'spyglass', 'floor' (bench:latency), 'one-node', 'edge' (bench:cascade). */
  name: string;
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
  /** The viewer's jitter-buffer target (mean per frame, ms), and over the collection: video packets received and lost, NACKs and PLIs it sent, freezes. */
  jitterTargetMs: number | null;
  packetsReceived: number;
  packetsLost: number;
  nacks: number;
  plis: number;
  freezes: number;
}

type Log = (line: string) => void;

/** The sender side's counters when the sender is no browser page: nothing encoded that WebRTC saw. */
const NO_SENDER: RtpCounters = zeroCounters();

/**
 * Signs up in a context of its own on `url` and goes live from `/live` with the stamped
 * camera; resolves with the page (its context closes with `context.close()`) and the broadcast's id.
 */
export async function goLiveStamped(browser: Browser, url: string, camera: CameraOptions, title: string): Promise<{ context: BrowserContext; page: Page; id: string }> {
  const caster = await benchPage(browser, url, camera);
  try {
    await signUpInContext(caster.context, `caster${Date.now().toString(36)}`);
    const id = await goLiveInPage(caster.page, title);
    return { ...caster, id };
  } catch (error) {
    await caster.context.close().catch(() => undefined);
    throw error;
  }
}

/** Opens `/watch/:id` on `url` in a context of its own (signed out) and starts reading the stamps of the frames it presents. */
export async function watchStamped(browser: Browser, url: string, id: string): Promise<{ context: BrowserContext; page: Page }> {
  const viewer = await benchPage(browser, url);
  try {
    await viewer.page.goto(`/watch/${id}`);
    await viewer.page.locator('video[aria-label="Live video"]').waitFor({ state: 'attached', timeout: 15_000 });
    await viewer.page.evaluate(() => window.__bench.readStamps(document.querySelector<HTMLVideoElement>('video[aria-label="Live video"]')!));
    return viewer;
  } catch (error) {
    await viewer.context.close().catch(() => undefined);
    throw error;
  }
}

/**
 * Waits for the viewer's first decoded frames, then `warmupMs`, then collects `frames` stamps
 * from `page` with the sender's and viewer's WebRTC counters around them (and the CPU of
 * `pids`, if any). A sender that is no browser page (`null`: ffmpeg over RTMP) has no counters. Several paths can be collected at once (the same sender, other viewers).
 */
export async function collectPath(name: string, sender: Page | null, page: Page, config: CollectConfig, pids: Map<string, number>, log: Log): Promise<PathLatency> {
  await waitForFrames(page, name, 5, 20_000);
  await sleep(config.warmupMs);
  log(`${name}: collecting ${config.frames} frames`);
  const cpu = pids.size > 0 ? new CpuWindow(pids) : null;
  const counters = () => Promise.all([sender ? sender.evaluate(() => window.__bench.rtpStats()) : NO_SENDER, page.evaluate(() => window.__bench.rtpStats())]);
  const before = await counters();
  cpu?.start();
  const started = performance.now();
  const report = await collectStamps(page, config.frames, config.collectTimeoutMs);
  const seconds = (performance.now() - started) / 1000;
  const cpuReading = cpu?.stop() ?? null;
  const after = await counters();
  const result = summarisePath(name, report.samples, report.undecodable, report.callbacks / seconds, cpuReading, pipelineMeans(before, after));
  log(`${name}: p50 ${result.callbackMs.p50} ms, p95 ${result.callbackMs.p95} ms over ${result.frames} frames (${result.fps} fps, ${result.undecodable} undecodable)`);
  return result;
}

export function pipelineMeans([s0, v0]: [RtpCounters, RtpCounters], [s1, v1]: [RtpCounters, RtpCounters]): PipelineMeans {
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
    jitterTargetMs: per(i1.jitterBufferTargetDelay - i0.jitterBufferTargetDelay, i1.jitterBufferEmittedCount - i0.jitterBufferEmittedCount),
    packetsReceived: i1.packetsReceived - i0.packetsReceived,
    packetsLost: i1.packetsLost - i0.packetsLost,
    nacks: i1.nackCount - i0.nackCount,
    plis: i1.pliCount - i0.pliCount,
    freezes: i1.freezeCount - i0.freezeCount,
  };
}

export function summarisePath(
  name: string,
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
    fps: round(fps, 1),
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

/** The stamp ages of a path, sorted, as [age, % of frames at or below it] (for a chart). */
export function latencyCdf(p: PathLatency): Array<[number, number]> {
  const sorted = p.series.map(([, y]) => y).sort((a, b) => a - b);
  return sorted.map((y, i) => [y, round(((i + 1) / sorted.length) * 100, 1)]);
}

/** One path in words: its percentiles, frames and sizes. */
export function describePath(p: PathLatency, label: string): string {
  return (
    `${label}: p50 ${p.callbackMs.p50} ms, p95 ${p.callbackMs.p95} ms, p99 ${p.callbackMs.p99} ms (at expected display p50 ${p.displayMs.p50} ms; at arrival of the last packet p50 ${p.receiveMs.p50} ms) over ${p.frames} frames at ${p.fps} fps, ` +
    `${p.undecodable} undecodable, ${p.skipped} skipped; sizes ${Object.entries(p.sizes).map(([k, v]) => `${k}×${v}`).join(', ')}`
  );
}

/** Where a path's time goes, in words. */
export function describePipeline(p: PathLatency, label: string): string {
  return (
    `${label} per frame: encode ${p.pipeline?.encodeMs} ms, pacer ${p.pipeline?.packetSendDelayMs} ms/packet, jitter buffer ${p.pipeline?.jitterBufferMs} ms (target ${p.pipeline?.jitterTargetMs} ms), ` +
    `decode ${p.pipeline?.decodeMs} ms, first packet → decoded ${p.pipeline?.processingMs} ms; over the collection ${p.pipeline?.packetsReceived} video packets in, ` +
    `${p.pipeline?.packetsLost} lost, ${p.pipeline?.nacks} NACKs, ${p.pipeline?.plis} PLIs, ${p.pipeline?.freezes} freezes`
  );
}
