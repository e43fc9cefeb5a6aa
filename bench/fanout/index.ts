import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser } from 'playwright-core';
import { ConfigSchema } from '../../common/config.ts';
import { cpuPlan, pin, unpin } from '../lib/cpus.ts';
import type { MachineInfo } from '../lib/machine.ts';
import { FULL_RUN_WINDOWS, delivery, waitForFlow, waitForIngest, type WindowTiming } from '../lib/flow.ts';
import { FULL_CLIP, SMOKE_CLIP, producerPackets, startRtpSender, synthesiseClip, type ClipSpec, type RtpSender } from '../lib/media.ts';
import { CpuWindow, processRssBytes, round, udpReceiveErrors, type CpuReading } from '../lib/proc.ts';
import { RtpRelay } from '../lib/relay.ts';
import { startRun } from '../lib/results.ts';
import { Sinks, type SinkSnapshot } from '../lib/sinks.ts';
import { median } from '../lib/stats.ts';
import { chartDocument } from '../lib/svg.ts';
import type { BenchResult, LatestFigures, RunOptions } from '../types.ts';
import { ensureWebBuilt, launchChromium, type ChromiumViewerResult } from './chromium.ts';
import type { FanoutPath } from './path.ts';
import { consumerPacketsSent, type PlainViewer } from './plainViewer.ts';
import { openRawPath } from './raw.ts';
import { openSpyglassPath, type SpyglassPath } from './spyglass.ts';

/**
 * Fan-out capacity: one synthetic broadcaster (~1 Mbit/s VP8 + Opus over RTP) and N viewers
 * receiving SRTP into UDP sinks, N stepped up until loss > 1 % or the CPU saturates, through
 * raw mediasoup and through Spyglass (its signalling server, a real broadcast, sfu/). Both paths
 * are up at once with their own viewers; one ffmpeg sender feeds them in turn through a relay,
 * and their measurement windows alternate (A B B A A B …), so that the machine's drift falls on
 * both alike. At the Spyglass path's last step, a few real Chromium viewers on the /watch page
 * confirm that viewers decode video from the loaded SFU. See docs/benchmarks.md.
 */

export interface FanoutConfig extends WindowTiming {
  steps: number[];
  clip: ClipSpec;
  numWorkers: number;
  maxViewersPerRouter: number;
  /** Loss above which a path stops stepping. */
  lossLimit: number;
  /** CPU busy fraction (the machine, or one worker's core) that counts as saturated. */
  saturation: number;
  /** Viewers whose consumer stats are read each window, to tell SFU-side from sink-side loss. */
  sampledViewers: number;
  /** Viewers attached concurrently. */
  attachConcurrency: number;
  /** How long to wait for the worker's stats; later counts as saturated. */
  statsTimeoutMs: number;
  /** Pin the SFU workers and the load generator to cores (see lib/cpus.ts); BENCH_NO_PIN=1 turns it off. */
  pin: boolean;
  rtcMinPort: number;
  rtcMaxPort: number;
  /** Chromium viewers opened on the /watch page at the Spyglass path's last step. */
  chromiumViewers: number;
  /** How long their decoded frames are counted, after each one's first frame (waited for at most `chromiumFirstFrameTimeoutMs`). */
  chromiumMeasureMs: number;
  chromiumFirstFrameTimeoutMs: number;
}

export function fanoutConfig(smoke: boolean): FanoutConfig {
  const cores = os.availableParallelism();
  const common = { lossLimit: 0.01, saturation: 0.95, attachConcurrency: 25, rtcMinPort: 10000, rtcMaxPort: 29999 };
  if (smoke) {
    return {
      ...common,
      steps: [4],
      windows: 1,
      windowMs: 1500,
      minWarmupMs: 300,
      settleMs: 300,
      flowTimeoutMs: 10_000,
      clip: SMOKE_CLIP,
      numWorkers: Math.min(2, cores),
      // Two viewers per router: the Spyglass path opens an edge and pipes to it.
      maxViewersPerRouter: 2,
      sampledViewers: 4,
      // A busy CI machine must not turn the smoke run's stats into nulls.
      statsTimeoutMs: 15_000,
      pin: false,
      chromiumViewers: 1,
      chromiumMeasureMs: 1000,
      chromiumFirstFrameTimeoutMs: 20_000,
    };
  }
  // BENCH_FANOUT_STEPS=200,300 measures only those steps (to reproduce one point quickly).
  const steps = process.env.BENCH_FANOUT_STEPS?.split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
  return {
    ...common,
    steps: steps?.length ? steps : [50, 100, 200, 250, 300, 400, 600, 800, 1200, 1600, 2400, 3200],
    ...FULL_RUN_WINDOWS,
    clip: FULL_CLIP,
    numWorkers: cores,
    // Spyglass's default; BENCH_MAX_VIEWERS_PER_ROUTER tries another value.
    maxViewersPerRouter: Number(process.env.BENCH_MAX_VIEWERS_PER_ROUTER) || ConfigSchema.parse({}).mediasoup.maxViewersPerRouter,
    sampledViewers: 8,
    statsTimeoutMs: 5000,
    pin: !process.env.BENCH_NO_PIN,
    chromiumViewers: 3,
    chromiumMeasureMs: 5000,
    chromiumFirstFrameTimeoutMs: 30_000,
  };
}

export interface StepResult {
  viewers: number;
  /** Time to attach this step's new viewers. */
  attachMs: number;
  /** Median time from switching the sender to this path to every sink receiving again. */
  warmupMs: number;
  /** Fewest viewers receiving when a window began (should be all). */
  viewersFlowing: number;
  /** Total measured time (all windows). */
  windowS: number;
  /** Packets per second the broadcaster's producers received (video, audio); null if the worker did not answer in time. */
  producerPps: { video: number; audio: number } | null;
  /** Packets the producers received in the windows (null: the worker did not answer in time). */
  producedPackets: number | null;
  /** Packets the viewers were owed: per viewer and window, how far the RTP sequence numbers its sink saw advanced. */
  expectedPackets: number;
  receivedPackets: number;
  /** 1 − received / expected over all viewers and windows: the broadcaster's packets viewers did not get. */
  loss: number;
  /** The worst single viewer's loss in any window. */
  worstViewerLoss: number;
  /** Over the sampled viewers: 1 − packets their consumers sent ÷ packets produced (loss inside the SFU). */
  sfuLossSampled: number | null;
  /** The worker answered every stats request within statsTimeoutMs (a saturated worker answers late). */
  workerAnswered: boolean;
  /** Datagrams the kernel dropped machine-wide because a receive buffer was full, during the windows. */
  udpRcvbufErrors: number | null;
  deliveredPps: number;
  deliveredMbps: number;
  /** Medians over the windows. */
  cpu: {
    /** mediasoup worker cores, summed over the path's workers. */
    workers: number | null;
    perWorker: Array<number | null>;
    sinks: number | null;
    sender: number | null;
    benchProcess: number | null;
    machineBusy: number | null;
    /** Worker cores in each window. */
    windows: Array<number | null>;
    /** Worker CPU time over all windows. */
    workerSeconds: number | null;
  };
  /** Delivered packets per second per core of worker CPU. */
  packetsPerSecPerCore: number | null;
  /** Viewers per core of worker CPU. */
  viewersPerCore: number | null;
  memory: { workersRssMiB: number | null; perViewerKiB: number | null };
  layout: { workers: number; routers: number; edges: number; pipeTransports: number };
  saturated: boolean;
  /** Loss within the limit. */
  ok: boolean;
}

export interface PathResult {
  name: 'raw' | 'spyglass';
  /** Worker RSS with the broadcaster's ingest and no viewers. */
  baselineRssMiB: number | null;
  steps: StepResult[];
  /** The highest step with loss ≤ the limit, and its figures. */
  maxCleanViewers: number | null;
  viewersPerCore: number | null;
  packetsPerSecPerCore: number | null;
  memoryPerViewerKiB: number | null;
  stoppedBecause: string;
}

/** Real Chromium viewers on Spyglass's /watch page, at the Spyglass path's last step. */
export interface ChromiumCheck {
  /** The benchmark's own viewers on the Spyglass path meanwhile (their media flowing). */
  plainViewers: number;
  viewers: ChromiumViewerResult[];
  /** Chromium viewers that decoded frames during the measurement. */
  decoding: number;
  /** Why the check could not run (the fan-out figures stand regardless). */
  error: string | null;
}

export interface FanoutResult extends BenchResult {
  benchmark: 'fanout';
  machine: MachineInfo;
  config: FanoutConfig;
  /** Cores the SFU workers and the load generator (sinks, ffmpeg, bench process) were pinned to; null: not pinned. */
  cpuPinning: { workers: number[]; loadGenerator: number } | null;
  raw: PathResult;
  spyglass: PathResult;
  chromium: ChromiumCheck | null;
  comparison: {
    /** Steps where both paths kept loss within the limit. */
    cleanSteps: number[];
    /**
     * Spyglass's efficiency ÷ raw mediasoup's: packets delivered per second of worker CPU,
     * pooled over the windows of `cleanSteps` (the same media in alternating windows, so this
     * is also the ratio of viewers per core).
     */
    ratioVsRawMediasoup: number | null;
    /** Per step: raw worker CPU ÷ Spyglass worker CPU (medians over the windows). */
    perStep: Array<{ viewers: number; ratio: number | null }>;
    /** The median of perStep over `cleanSteps`. */
    medianStepRatio: number | null;
  };
}

/** One path under test, with its viewers (and their sinks' numbers) and results so far. */
interface Arm {
  path: FanoutPath;
  viewers: PlainViewer[];
  /** Sink number of each viewer. */
  sinkOf: number[];
  steps: StepResult[];
  baselineRss: number | null;
  alive: boolean;
  stoppedBecause: string;
}

export async function run(opts: RunOptions): Promise<FanoutResult> {
  const { log, machine, finished } = startRun('fanout', opts);
  const config = fanoutConfig(opts.smoke);
  log(`fanout: ${opts.smoke ? 'smoke' : 'full'} run, steps ${config.steps.join(', ')}, ${config.windows} × ${config.windowMs / 1000} s windows per path and step`);
  const [clip] = await Promise.all([synthesiseClip(config.clip), ensureWebBuilt()]);
  const ports = { rtcMinPort: config.rtcMinPort, rtcMaxPort: config.rtcMaxPort };
  // Pinned first: the sinks, ffmpeg and Chromium inherit the load generator's core.
  const plan = config.pin ? cpuPlan() : null;
  if (plan) pin(process.pid, plan.load);
  const arms: Arm[] = [];
  let sinks: Sinks | undefined;
  let relay: RtpRelay | undefined;
  let sender: RtpSender | undefined;
  let browser: Browser | undefined;
  let spyglass: SpyglassPath | undefined;
  let chromium: ChromiumCheck | null = null;
  try {
    sinks = await Sinks.start();
    relay = await RtpRelay.open();
    sender = startRtpSender(clip, relay.endpoints.video, relay.endpoints.audio);
    browser = await launchChromium();
    arms.push(newArm(await openRawPath(ports)));
    spyglass = await openSpyglassPath({ numWorkers: config.numWorkers, maxViewersPerRouter: config.maxViewersPerRouter, browser, ...ports });
    arms.push(newArm(spyglass));
    for (const { path } of arms) {
      if (plan) path.workerPids().forEach((pid, i) => pin(pid, plan.worker(i)));
      relay.target = path.ingest.endpoints;
      await waitForIngest(path.ingest, sender);
      relay.target = null;
    }
    await sleep(500);
    for (const arm of arms) arm.baselineRss = sumOrNull(arm.path.workerPids().map(processRssBytes));

    for (const n of config.steps) {
      const live = arms.filter((a) => a.alive);
      if (live.length === 0) break;
      const attachMs = new Map<Arm, number>();
      for (const arm of live) attachMs.set(arm, await attach(arm, n, sinks, config));
      const windows = new Map<Arm, WindowData[]>(live.map((a) => [a, []]));
      for (const arm of schedule(live, config.windows)) {
        relay.target = arm.path.ingest.endpoints;
        const first = windows.get(arm)!.length === 0;
        const warm = await waitForFlow(sinks, arm.sinkOf, first ? config.settleMs : config.minWarmupMs, config.flowTimeoutMs);
        debug(`${arm.path.name} ${n}: ${warm.flowing}/${n} flowing after ${warm.ms} ms`);
        windows.get(arm)!.push({ ...(await measureWindow(arm, sinks, sender, config)), warm });
        relay.target = null;
      }
      for (const arm of live) {
        const step = aggregate(arm, windows.get(arm)!, attachMs.get(arm)!, config);
        arm.steps.push(step);
        log(
          `fanout ${arm.path.name.padEnd(8)} ${String(n).padStart(5)} viewers: loss ${(step.loss * 100).toFixed(2)} %, ` +
            `workers ${fmt(step.cpu.workers)} cores, machine ${fmt(step.cpu.machineBusy && step.cpu.machineBusy * 100)} %, ` +
            `sinks ${fmt(step.cpu.sinks)} cores, ${fmt(step.viewersPerCore)} viewers/core, ${fmt(step.memory.perViewerKiB)} KiB/viewer`,
        );
        if (!step.ok) arm.stoppedBecause = `loss ${(step.loss * 100).toFixed(2)} % > ${config.lossLimit * 100} % at ${n} viewers (${lossCause(step)})`;
        else if (step.saturated) arm.stoppedBecause = `CPU saturated at ${n} viewers (${saturationCause(step, config)})`;
        const last = !step.ok || step.saturated || n === config.steps[config.steps.length - 1];
        if (last && arm.path === spyglass) {
          relay.target = spyglass.ingest.endpoints;
          chromium = await checkInChromium(spyglass, n, config);
          relay.target = null;
          log(`fanout spyglass ${String(n).padStart(5)} viewers: ${describeChromium(chromium)}`);
        }
        if (!step.ok || step.saturated) {
          arm.alive = false;
          // Its workers would only take CPU from the other path's windows.
          await arm.path.close();
        }
      }
    }
    const [raw, spy] = arms.map(result) as [PathResult, PathResult];
    return {
      ...finished(),
      machine,
      config,
      cpuPinning: plan ? { workers: Array.from({ length: config.numWorkers }, (_, i) => plan.worker(i)), loadGenerator: plan.load } : null,
      raw,
      spyglass: spy,
      chromium,
      comparison: compare(raw, spy),
    };
  } finally {
    await sender?.stop();
    relay?.close();
    for (const arm of arms) if (arm.alive) await arm.path.close();
    await browser?.close();
    await sinks?.stop();
    // The next benchmark gets every core again.
    if (plan) unpin(process.pid);
  }
}

function newArm(path: FanoutPath): Arm {
  return { path, viewers: [], sinkOf: [], steps: [], baselineRss: null, alive: true, stoppedBecause: 'all steps done' };
}

/** Real viewers in Chromium on the Spyglass path's /watch page, while its sinks' media flows. */
async function checkInChromium(path: SpyglassPath, plainViewers: number, config: FanoutConfig): Promise<ChromiumCheck> {
  try {
    const viewers = await path.watchInChromium(config.chromiumViewers, {
      firstFrameTimeoutMs: config.chromiumFirstFrameTimeoutMs,
      measureMs: config.chromiumMeasureMs,
    });
    return { plainViewers, viewers, decoding: viewers.filter((v) => v.framesDecoded > 0).length, error: null };
  } catch (error) {
    return { plainViewers, viewers: [], decoding: 0, error: error instanceof Error ? error.message : String(error) };
  }
}

/** Window order: A B B A A B … for two paths (linear drift cancels), A A A for one. */
function schedule(live: Arm[], windows: number): Arm[] {
  const order: Arm[] = [];
  for (let w = 0; w < windows; w += 1) order.push(...(w % 2 === 0 ? live : [...live].reverse()));
  return order;
}

/** Attaches viewers until the path has `n`; returns how long that took. */
async function attach(arm: Arm, n: number, sinks: Sinks, config: FanoutConfig): Promise<number> {
  const start = performance.now();
  const first = sinks.count;
  const ports = await sinks.open(n - arm.viewers.length, arm.path.payloadTypes);
  for (let i = 0; i < ports.length; i += config.attachConcurrency) {
    const batch = ports.slice(i, i + config.attachConcurrency);
    const attached = await Promise.all(batch.map((port, j) => arm.path.addViewer(`v${arm.viewers.length + j}`, port)));
    arm.viewers.push(...attached);
    arm.sinkOf.push(...batch.map((_, j) => first + i + j));
  }
  const ms = Math.round(performance.now() - start);
  debug(`${arm.path.name} ${n}: attached in ${ms} ms`);
  return ms;
}

/** Packets the video and audio producers received, and each sampled viewer's consumers sent. */
type WorkerStats = [video: number, audio: number, sampled: number[]];

interface Snapshot {
  sink: SinkSnapshot;
  udp: ReturnType<typeof udpReceiveErrors>;
  /** Producer counters and the sampled viewers' consumer counters; null when the worker answered late. */
  worker: WorkerStats | null;
  /** When the worker's stats were read. */
  workerAt: number;
}

interface WindowData {
  a: Snapshot;
  b: Snapshot;
  cpu: CpuReading;
  sample: number[];
  warm: { ms: number; flowing: number };
}

async function measureWindow(arm: Arm, sinks: Sinks, sender: RtpSender, config: FanoutConfig): Promise<Omit<WindowData, 'warm'>> {
  const { path, viewers } = arm;
  const n = viewers.length;
  const workerPids = path.workerPids();
  const pids = new Map<string, number>([...workerPids.map((pid, i) => [`worker${i}`, pid] as const), ['sinks', sinks.pid], ['sender', sender.pid]]);
  // Spread the sample over the viewers (origin and edges alike).
  const k = Math.min(config.sampledViewers, n);
  const sample = Array.from({ length: k }, (_, i) => Math.floor(((i + 0.5) * n) / k));
  // The sinks answer at once; a saturated worker may take seconds to answer stats requests,
  // so those are diagnostics only (null when late), never needed for the loss.
  const stats = () =>
    withTimeout<WorkerStats>(
      Promise.all([
        producerPackets(path.ingest.video),
        producerPackets(path.ingest.audio),
        Promise.all(sample.map(async (i) => sumOrNull(await Promise.all(viewers[i]!.consumers.map(consumerPacketsSent))) ?? 0)),
      ]),
      config.statsTimeoutMs,
    );
  // The sinks' counters are read inside the CPU window, right after it opens and right before
  // it closes: the packets counted and the CPU they cost cover the same time. The worker's
  // stats come before and after (they may be slow).
  const workerA = await stats();
  const workerAtA = performance.now();
  const cpu = new CpuWindow(pids);
  cpu.start();
  const a: Snapshot = { sink: await sinks.snapshot(), udp: udpReceiveErrors(), worker: workerA, workerAt: workerAtA };
  await sleep(config.windowMs);
  const sinkB = await sinks.snapshot();
  const udpB = udpReceiveErrors();
  const reading = cpu.stop();
  const workerB = await stats();
  const b: Snapshot = { sink: sinkB, udp: udpB, worker: workerB, workerAt: performance.now() };
  return { a, b, cpu: reading, sample };
}

/** One step of one path from its windows: loss over all of them, CPU as the median. */
function aggregate(arm: Arm, windows: WindowData[], attachMs: number, config: FanoutConfig): StepResult {
  const n = arm.viewers.length;
  const workerPids = arm.path.workerPids();
  let expected = 0;
  let received = 0;
  let worst = 0;
  let bytes = 0;
  let seconds = 0;
  let statsSeconds = 0;
  let produced: number | null = 0;
  let producedVideo = 0;
  let producedAudio = 0;
  let sampleSent = 0;
  let sampleProduced = 0;
  let udp: number | null = 0;
  for (const { a, b, cpu, sample } of windows) {
    seconds += cpu.seconds;
    statsSeconds += (b.workerAt - a.workerAt) / 1000;
    const d = delivery(a.sink, b.sink, arm.sinkOf);
    expected += d.expected;
    received += d.received;
    worst = Math.max(worst, d.worst);
    bytes += d.bytes;
    udp = udp !== null && a.udp && b.udp ? udp + b.udp.rcvbufErrors - a.udp.rcvbufErrors : null;
    if (produced !== null && a.worker && b.worker) {
      const [av, aa, as] = a.worker;
      const [bv, ba, bs] = b.worker;
      producedVideo += bv - av;
      producedAudio += ba - aa;
      const p = bv - av + (ba - aa);
      produced += p;
      sampleSent += bs.reduce((acc, x, i) => acc + x - (as[i] ?? 0), 0);
      sampleProduced += p * sample.length;
    } else {
      produced = null;
    }
  }
  const loss = expected > 0 ? 1 - received / expected : 1;
  const workerAnswered = produced !== null;

  const readings = windows.map((w) => w.cpu);
  const med = (f: (r: CpuReading) => number | null): number | null => {
    const xs = readings.map(f).filter((x): x is number => x !== null);
    const m = median(xs);
    return xs.length === readings.length && m !== null ? round(m, 3) : null;
  };
  const workersOf = (r: CpuReading) => sumOrNull(workerPids.map((_, i) => r.processes[`worker${i}`] ?? null));
  const perWorker = workerPids.map((_, i) => med((r) => r.processes[`worker${i}`] ?? null));
  const workers = med(workersOf);
  const machineBusy = med((r) => r.machineBusy);
  const rss = sumOrNull(workerPids.map(processRssBytes));
  const deliveredPps = seconds > 0 ? received / seconds : 0;
  const saturated =
    (machineBusy ?? 0) >= config.saturation || perWorker.some((c) => c !== null && c >= config.saturation) || !workerAnswered;
  return {
    viewers: n,
    attachMs,
    warmupMs: Math.round(median(windows.map((w) => w.warm.ms)) ?? 0),
    viewersFlowing: Math.min(...windows.map((w) => w.warm.flowing)),
    windowS: round(seconds, 3),
    producerPps: workerAnswered ? { video: round(producedVideo / statsSeconds, 1), audio: round(producedAudio / statsSeconds, 1) } : null,
    producedPackets: produced,
    expectedPackets: expected,
    receivedPackets: received,
    loss: round(loss, 5),
    worstViewerLoss: round(worst, 5),
    sfuLossSampled: workerAnswered && sampleProduced > 0 ? round(1 - sampleSent / sampleProduced, 5) : null,
    workerAnswered,
    udpRcvbufErrors: udp,
    deliveredPps: Math.round(deliveredPps),
    deliveredMbps: seconds > 0 ? round((bytes * 8) / seconds / 1e6, 1) : 0,
    cpu: {
      workers,
      perWorker,
      sinks: med((r) => r.processes.sinks ?? null),
      sender: med((r) => r.processes.sender ?? null),
      benchProcess: med((r) => r.benchProcess),
      machineBusy,
      windows: readings.map((r) => {
        const w = workersOf(r);
        return w === null ? null : round(w, 3);
      }),
      workerSeconds: (() => {
        const xs = readings.map((r) => workersOf(r));
        return xs.some((x) => x === null) ? null : round(readings.reduce((acc, r, i) => acc + xs[i]! * r.seconds, 0), 3);
      })(),
    },
    packetsPerSecPerCore: workers ? Math.round(deliveredPps / workers) : null,
    viewersPerCore: workers ? Math.round(n / workers) : null,
    memory: {
      workersRssMiB: rss === null ? null : round(rss / 2 ** 20, 1),
      perViewerKiB: rss !== null && arm.baselineRss !== null ? round((rss - arm.baselineRss) / n / 1024, 1) : null,
    },
    layout: arm.path.layout(),
    saturated,
    ok: loss <= config.lossLimit,
  };
}

function result(arm: Arm): PathResult {
  const best = [...arm.steps].reverse().find((s) => s.ok);
  return {
    name: arm.path.name,
    baselineRssMiB: arm.baselineRss === null ? null : round(arm.baselineRss / 2 ** 20, 1),
    steps: arm.steps,
    maxCleanViewers: best?.viewers ?? null,
    viewersPerCore: best?.viewersPerCore ?? null,
    packetsPerSecPerCore: best?.packetsPerSecPerCore ?? null,
    memoryPerViewerKiB: best?.memory.perViewerKiB ?? null,
    stoppedBecause: arm.stoppedBecause,
  };
}

/** Where the packets were lost, from the worker's stats and the kernel's counters. */
function lossCause(s: StepResult): string {
  const parts: string[] = [];
  if (s.sfuLossSampled !== null) parts.push(`the SFU's consumers sent ${((1 - s.sfuLossSampled) * 100).toFixed(1)} % of what the producers got`);
  if (!s.workerAnswered) parts.push('the worker answered no stats within the timeout');
  if (s.udpRcvbufErrors) parts.push(`${s.udpRcvbufErrors} datagrams dropped on full receive buffers`);
  parts.push(`worker ${fmt(s.cpu.workers)} cores, machine ${fmt(s.cpu.machineBusy && s.cpu.machineBusy * 100)} % busy`);
  return parts.join(', ');
}

function saturationCause(s: StepResult, config: FanoutConfig): string {
  const hot = s.cpu.perWorker.flatMap((c, i) => (c !== null && c >= config.saturation ? [`worker ${i} at ${c} cores`] : []));
  return [
    ...hot,
    ...(s.workerAnswered ? [] : [`no stats from the worker within ${config.statsTimeoutMs} ms`]),
    `machine ${fmt(s.cpu.machineBusy && s.cpu.machineBusy * 100)} % busy`,
    `workers ${fmt(s.cpu.workers)} + sinks ${fmt(s.cpu.sinks)} + bench ${fmt(s.cpu.benchProcess)} cores`,
  ].join(', ');
}

function compare(raw: PathResult, spy: PathResult): FanoutResult['comparison'] {
  const pairs = spy.steps.flatMap((s) => {
    const r = raw.steps.find((x) => x.viewers === s.viewers);
    return r ? [{ r, s }] : [];
  });
  const perStep = pairs.map(({ r, s }) => ({
    viewers: s.viewers,
    ratio: r.cpu.workers && s.cpu.workers ? round(r.cpu.workers / s.cpu.workers, 3) : null,
  }));
  const clean = pairs.filter(({ r, s }) => r.ok && s.ok && r.cpu.workerSeconds && s.cpu.workerSeconds);
  // Packets delivered per worker CPU-second, pooled over the clean steps' windows.
  const efficiency = (steps: StepResult[]) =>
    steps.reduce((acc, x) => acc + x.receivedPackets, 0) / steps.reduce((acc, x) => acc + x.cpu.workerSeconds!, 0);
  const pooled = clean.length > 0 ? round(efficiency(clean.map((p) => p.s)) / efficiency(clean.map((p) => p.r)), 3) : null;
  const cleanRatios = perStep.filter((p) => clean.some((c) => c.s.viewers === p.viewers) && p.ratio !== null).map((p) => p.ratio!);
  const med = median(cleanRatios);
  return {
    cleanSteps: clean.map((p) => p.s.viewers),
    ratioVsRawMediasoup: pooled,
    medianStepRatio: med === null ? null : round(med, 3),
    perStep,
  };
}

/** BENCH_DEBUG=1 prints each phase. */
function debug(line: string): void {
  if (process.env.BENCH_DEBUG) console.error(`[bench:debug] ${line}`);
}

/** Resolves with `p`'s value, or null if it takes longer than `ms` (a late answer is ignored). */
async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  p.catch(() => undefined);
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

function sumOrNull(xs: ReadonlyArray<number | null>): number | null {
  return xs.length === 0 || xs.some((x) => x === null) ? null : (xs as number[]).reduce((a, b) => a + b, 0);
}

function fmt(x: number | null): string {
  return x === null ? 'n/a' : String(round(x, x < 10 ? 2 : 0));
}

// ------------------------------------------------------------------ output --

export function summary(r: FanoutResult): Partial<LatestFigures> {
  return { fanout: { viewersPerCore: r.spyglass.viewersPerCore, ratioVsRawMediasoup: r.comparison.ratioVsRawMediasoup } };
}

export function describe(r: FanoutResult): string[] {
  const line = (p: PathResult) =>
    `${p.name === 'raw' ? 'raw mediasoup' : 'Spyglass'}: ${p.maxCleanViewers ?? 'no'} viewers with loss ≤ ${r.config.lossLimit * 100} %, ` +
    `${p.viewersPerCore ?? 'n/a'} viewers/core, ${p.packetsPerSecPerCore ?? 'n/a'} packets/s per core, ` +
    `${p.memoryPerViewerKiB ?? 'n/a'} KiB/viewer; stopped: ${p.stoppedBecause}`;
  return [
    line(r.spyglass),
    line(r.raw),
    `Spyglass ÷ raw mediasoup, packets (= viewers) per core: ${r.comparison.ratioVsRawMediasoup ?? 'n/a'} ` +
      `(pooled over the steps both kept clean: ${r.comparison.cleanSteps.join(', ') || 'none'}; per step ` +
      `${r.comparison.perStep.map((p) => `${p.viewers}: ${p.ratio ?? 'n/a'}`).join(', ')})`,
    ...(r.chromium ? [describeChromium(r.chromium)] : []),
  ];
}

function describeChromium(c: ChromiumCheck): string {
  const head = `Chromium on the /watch page, beside the Spyglass path's ${c.plainViewers} viewers`;
  if (c.error !== null) return `${head}: not measured (${c.error})`;
  const each = c.viewers.map((v) =>
    v.error !== null && v.framesDecoded === 0
      ? `no frame (${v.error})`
      : `${v.fps} fps at ${v.width}×${v.height}, first frame after ${v.firstFrameMs ?? 'n/a'} ms`,
  );
  return `${head}: ${c.decoding} of ${c.viewers.length} decoded video (${each.join('; ')})`;
}

export function chart(r: FanoutResult): string {
  const series = (f: (s: StepResult) => number | null) =>
    [r.spyglass, r.raw].map((p) => ({
      name: p.name === 'raw' ? 'raw mediasoup' : 'Spyglass',
      points: p.steps.flatMap((s) => {
        const y = f(s);
        return y === null ? [] : [[s.viewers, y] as const];
      }),
    }));
  const m = r.machine;
  return chartDocument(
    `Fan-out: 1 broadcaster (~1 Mbit/s VP8 + Opus) → N SRTP viewers`,
    `${r.startedAt} · ${m.cores} × ${m.cpuModel} · Spyglass ÷ raw mediasoup, viewers per core: ${r.comparison.ratioVsRawMediasoup ?? 'n/a'}`,
    [
      { title: 'mediasoup worker CPU', xLabel: 'viewers', yLabel: 'cores', xLog2: true, series: series((s) => s.cpu.workers) },
      {
        title: 'Loss (1 − received / sent)',
        xLabel: 'viewers',
        yLabel: '%',
        xLog2: true,
        series: series((s) => round(s.loss * 100, 3)),
        hLines: [{ y: r.config.lossLimit * 100, label: 'limit' }],
      },
      { title: 'Viewers per core of worker CPU', xLabel: 'viewers', yLabel: 'viewers / core', xLog2: true, series: series((s) => s.viewersPerCore) },
      { title: 'Worker memory per viewer', xLabel: 'viewers', yLabel: 'KiB / viewer', xLog2: true, series: series((s) => s.memory.perViewerKiB) },
    ],
  );
}
