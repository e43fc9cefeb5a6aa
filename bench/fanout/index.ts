import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser } from 'playwright-core';
import { ConfigSchema } from '../../common/config.ts';
import { cpuPlan, pin, unpin, type CpuPlan } from '../lib/cpus.ts';
import { FULL_RUN_WINDOWS, waitForIngest, type WindowTiming } from '../lib/flow.ts';
import { FULL_CLIP, SMOKE_CLIP, producerPackets, startRtpSender, synthesiseClip, type ClipSpec, type RtpSender } from '../../testkit/media.ts';
import { CpuWindow, coreCpuTicks, processRssBytes, round, udpReceiveErrors, udpSocketDrops, type CpuReading } from '../lib/proc.ts';
import { RtpRelay } from '../lib/relay.ts';
import { CSinks, countersOf, type CSinkSnapshot } from '../lib/csinks.ts';
import { median } from '../lib/stats.ts';
import { chartDocument } from '../lib/svg.ts';
import type { BenchBody, BenchResult, LatestFigures, RunOptions } from '../types.ts';
import { ensureWebBuilt, launchChromium, type ChromiumViewerResult } from './chromium.ts';
import type { FanoutPath, PathName } from './path.ts';
import { consumerPacketsSent, type PlainViewer, type SrtpSuite } from './plainViewer.ts';
import { openRawPath } from './raw.ts';
import { workerBinaries, type WorkerBinaries } from './workerBin.ts';
import { openSpyglassPath, type SpyglassPath } from './spyglass.ts';

/**
 * Fan-out capacity: one synthetic broadcaster (~1 Mbit/s VP8 + Opus over RTP, paced like a
 * browser) and N viewers receiving SRTP (AEAD_AES_256_GCM, what Chromium gets) into UDP sinks
 * written in C, N stepped up until the worker's core is full, through raw mediasoup and
 * through Spyglass (its signalling server, a real broadcast, sfu/). The paths are up at once
 * with their own viewers; one ffmpeg sender feeds them in turn through a relay, and their
 * measurement windows alternate (A B B A A B …), so that the machine's drift falls on both
 * alike; the idle path's workers wait on the load generator's core, so two measured workers
 * never share one. A window whose worker core had > 5 % steal or foreign load is measured
 * again; one where a sink socket dropped is invalid. The raw path's step at 100 viewers is
 * the calibration: far off the reference, the figures are marked unpublishable. At the
 * Spyglass path's last step, a few real Chromium viewers on the /watch page confirm that
 * viewers decode video from the loaded SFU, and which SRTP suite they got. See docs/benchmarks.md.
 */

export interface FanoutConfig extends WindowTiming {
  steps: number[];
  /** The viewers' SRTP suite (BENCH_FANOUT_SUITE=AES_CM_128_HMAC_SHA1_80 for the second row). */
  srtpSuite: SrtpSuite;
  /** The relay paces the video at this rate, like a browser's pacer (2.5 × the clip's bitrate); null: unpaced. */
  paceBitsPerSecond: number | null;
  /** Viewers per sink socket. */
  viewersPerSinkSocket: number;
  /** The knee: the highest step with loss ≤ this … */
  kneeLoss: number;
  /** … and the busiest worker at ≤ this fraction of its core. */
  kneeCpu: number;
  /** Steal + foreign load on a measured worker's core above which a window is measured again … */
  noiseLimit: number;
  /** … at most this many times (then kept, and flagged). */
  noiseRetries: number;
  /** The calibration: the raw path's µs of worker CPU per packet at `calibrationViewers` … */
  calibrationViewers: number;
  /** … against this reference (this machine class, see docs/benchmarks.md); null: not checked … */
  referenceUsPerPacket: number | null;
  /** … off by more than this factor either way: the figures are not publishable. */
  calibrationTolerance: number;
  clip: ClipSpec;
  numWorkers: number;
  maxViewersPerRouter: number;
  /** Loss above which a path stops stepping (well past the knee: the curve is shown to the full core). */
  lossLimit: number;
  /** Busy fraction of one worker's core that counts as saturated (stepping stops). */
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

/**
 * µs of raw mediasoup worker CPU per packet sent, 100 GCM viewers, on the development machine
 * (2 vCPU, see docs/benchmarks.md), with the stock offline worker build.
 */
const REFERENCE_US_PER_PACKET_GCM = 12;

function srtpSuiteFromEnv(value: string | undefined): SrtpSuite {
  if (value === undefined || value === 'AEAD_AES_256_GCM') return 'AEAD_AES_256_GCM';
  if (value === 'AES_CM_128_HMAC_SHA1_80') return value;
  throw new Error(`BENCH_FANOUT_SUITE: ${value} is not AEAD_AES_256_GCM or AES_CM_128_HMAC_SHA1_80`);
}

export function fanoutConfig(smoke: boolean): FanoutConfig {
  const cores = os.availableParallelism();
  const suite = srtpSuiteFromEnv(process.env.BENCH_FANOUT_SUITE);
  const common = {
    srtpSuite: suite,
    lossLimit: 0.05,
    saturation: 0.98,
    kneeLoss: 0.001,
    kneeCpu: 0.85,
    noiseLimit: 0.05,
    viewersPerSinkSocket: 8,
    calibrationTolerance: 1.5,
    attachConcurrency: 25,
    rtcMinPort: 10000,
    rtcMaxPort: 29999,
  };
  if (smoke) {
    return {
      ...common,
      steps: [4],
      paceBitsPerSecond: SMOKE_CLIP.videoKbps * 1000 * 2.5,
      noiseRetries: 0,
      calibrationViewers: 4,
      referenceUsPerPacket: null,
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
    steps: steps?.length ? steps : [100, 200, 300, 400, 500, 600, 800, 1000, 1200, 1600, 2000, 2400, 3200],
    paceBitsPerSecond: process.env.BENCH_NO_PACING ? null : FULL_CLIP.videoKbps * 1000 * 2.5,
    noiseRetries: 2,
    calibrationViewers: 100,
    // BENCH_FANOUT_REFERENCE_US overrides (another machine class).
    referenceUsPerPacket: Number(process.env.BENCH_FANOUT_REFERENCE_US) || (suite === 'AEAD_AES_256_GCM' ? REFERENCE_US_PER_PACKET_GCM : null),
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
  /** Total measured time (the windows kept). */
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
  /** Of those, on the path's ingest sockets (the broadcaster's packets the worker did not read in time). */
  ingestDrops: number | null;
  /** Per window, in order: ingest drops, loss, and the load generator's core busy (to tell a stall of the source from one of the worker). */
  byWindow: Array<{ ingestDrops: number | null; loss: number; loadCoreBusy: number | null }>;
  /** Of those, on the sink sockets: the load generator could not keep up, so the step is invalid (not loss). */
  sinkDrops: number | null;
  /** Of those, on the relay's sockets (the sender's packets the bench process did not read in time): the step is invalid too. */
  relayDrops: number | null;
  /** No sink or relay socket dropped a datagram in the windows kept. */
  valid: boolean;
  /** Packets per second the SFU sent the viewers (their sequence numbers' advance). */
  sentPps: number;
  deliveredPps: number;
  deliveredMbps: number;
  /** µs of worker CPU (all the path's workers) per packet sent to a viewer. */
  usPerPacket: number | null;
  /** Medians over the windows. */
  cpu: {
    /** mediasoup worker cores, summed over the path's workers. */
    workers: number | null;
    perWorker: Array<number | null>;
    /** The busiest worker's share of its core. */
    busiestWorker: number | null;
    sinks: number | null;
    sender: number | null;
    benchProcess: number | null;
    machineBusy: number | null;
    /** Worker cores in each window. */
    windows: Array<number | null>;
    /** Worker CPU time over all windows. */
    workerSeconds: number | null;
  };
  /**
   * The measured workers' cores (not the load generator's): steal, and foreign load (busy
   * time that is not the path's workers'), as fractions of the core; medians and the worst of
   * the windows kept. Windows above `noiseLimit` were measured again (`remeasured` of them).
   */
  noise: { cores: number[]; steal: number | null; foreign: number | null; worst: number | null; remeasured: number; noisyWindowsKept: number };
  /** Spread of arrival delay over the viewers (audio packets, each viewer minus the earliest, see sink.c), µs: medians of the windows' p50 and p99, the worst max. */
  delaySpread: { p50Us: number; p99Us: number; maxUs: number } | null;
  /** Delivered packets per second per core of worker CPU. */
  packetsPerSecPerCore: number | null;
  /** Viewers per core (100 %) of worker CPU. */
  viewersPerCore: number | null;
  /** perViewerKiB: worker RSS growth since no viewers, per viewer; viewerAgeS: the viewers' mean age at that reading. */
  memory: { workersRssMiB: number | null; perViewerKiB: number | null; viewerAgeS: number };
  layout: { workers: number; routers: number; edges: number; pipeTransports: number };
  /** The busiest worker's core at ≥ `saturation`, or the worker did not answer: stepping stops. */
  saturated: boolean;
  /** Loss within `lossLimit` (stepping goes on). */
  ok: boolean;
  /** Within the knee's criteria: valid, loss ≤ kneeLoss, the busiest worker ≤ kneeCpu of its core. */
  withinKnee: boolean;
}

export interface PathResult {
  name: PathName;
  /** The mediasoup worker binary (null: mediasoup's default). */
  workerBin: string | null;
  /** Worker RSS with the broadcaster's ingest and no viewers. */
  baselineRssMiB: number | null;
  steps: StepResult[];
  /** The knee: the highest step within the knee's criteria, and its figures. */
  maxCleanViewers: number | null;
  viewersPerCore: number | null;
  packetsPerSecPerCore: number | null;
  usPerPacket: number | null;
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

export interface Comparison {
  /** Steps where both paths were within the knee's criteria. */
  cleanSteps: number[];
  /**
   * Spyglass's efficiency ÷ the other path's: packets sent per second of worker CPU, pooled
   * over the windows of `cleanSteps` (the same media in alternating windows, so this is also
   * the ratio of viewers per core). Above 1: Spyglass costs less per viewer.
   */
  ratioVsRawMediasoup: number | null;
  /** Per step: the other path's worker CPU ÷ Spyglass's (medians over the windows). */
  perStep: Array<{ viewers: number; ratio: number | null }>;
  /** The median of perStep over `cleanSteps`. */
  medianStepRatio: number | null;
}

export interface FanoutResult extends BenchResult<'fanout', FanoutConfig> {
  /** Cores the SFU workers and the load generator (sinks, ffmpeg, bench process, idle paths' workers) were pinned to; null: not pinned. */
  cpuPinning: { workers: number[]; loadGenerator: number } | null;
  workerBinaries: WorkerBinaries;
  /** The raw path's µs per packet at the calibration step against the reference; publishable false: far off, do not publish these figures. */
  calibration: { viewers: number; usPerPacket: number | null; referenceUsPerPacket: number | null; ratio: number | null; publishable: boolean; reason: string };
  raw: PathResult;
  spyglass: PathResult;
  /** Raw mediasoup on Spyglass's worker binary (only when BENCH_RAW_WORKER_BIN names another binary). */
  rawSameBinary: PathResult | null;
  chromium: ChromiumCheck | null;
  /** Spyglass against raw mediasoup (each on its binary). */
  comparison: Comparison;
  /** Spyglass against raw mediasoup on the same binary (null: one binary for both, so `comparison` is that). */
  sameBinaryComparison: Comparison | null;
}

/** One path under test, with its viewers (and their transports' source ports) and results so far. */
interface Arm {
  path: FanoutPath;
  viewers: PlainViewer[];
  /** Source port of each viewer's transport: its counters in the sink. */
  portOf: number[];
  /** When each viewer was attached (performance.now()). */
  attachedAt: number[];
  steps: StepResult[];
  baselineRss: number | null;
  alive: boolean;
  stoppedBecause: string;
}

export async function run(opts: RunOptions): Promise<BenchBody<FanoutResult>> {
  const log = opts.log ?? (() => undefined);
  const config = fanoutConfig(opts.smoke);
  const bins = workerBinaries();
  log(
    `fanout: ${opts.smoke ? 'smoke' : 'full'} run, steps ${config.steps.join(', ')}, ${config.windows} × ${config.windowMs / 1000} s windows per path and step, ` +
      `${config.srtpSuite}, video paced at ${config.paceBitsPerSecond ? `${config.paceBitsPerSecond / 1e6} Mbit/s` : 'no rate (unpaced)'}, ` +
      `workers: raw ${bins.raw ?? 'default'}, spyglass ${bins.spyglass ?? 'default'}`,
  );
  const [clip] = await Promise.all([synthesiseClip(config.clip), ensureWebBuilt()]);
  const ports = { rtcMinPort: config.rtcMinPort, rtcMaxPort: config.rtcMaxPort };
  // Pinned first: the sinks, ffmpeg and Chromium inherit the load generator's core.
  const plan = config.pin ? cpuPlan() : null;
  if (plan) pin(process.pid, plan.load);
  const arms: Arm[] = [];
  let sinks: CSinks | undefined;
  let relay: RtpRelay | undefined;
  let sender: RtpSender | undefined;
  let browser: Browser | undefined;
  let spyglass: SpyglassPath | undefined;
  let chromium: ChromiumCheck | null = null;
  /** Pins the measured arm's workers to their cores and every other arm's to the load generator's. */
  const pinFor = (measured: Arm | null) => {
    if (!plan) return;
    for (const arm of arms) {
      if (!arm.alive) continue;
      arm.path.workerPids().forEach((pid, i) => pin(pid, arm === measured ? plan.worker(i) : plan.load));
    }
  };
  try {
    sinks = await CSinks.start(config.viewersPerSinkSocket);
    relay = await RtpRelay.open(config.paceBitsPerSecond);
    sender = startRtpSender(clip, relay.endpoints.video, relay.endpoints.audio);
    browser = await launchChromium();
    arms.push(newArm(await openRawPath(ports, config.srtpSuite, bins.raw, 'raw')));
    if (bins.raw !== bins.spyglass) arms.push(newArm(await openRawPath(ports, config.srtpSuite, bins.spyglass, 'raw-same-binary')));
    spyglass = await openSpyglassPath({
      numWorkers: config.numWorkers,
      maxViewersPerRouter: config.maxViewersPerRouter,
      browser,
      srtpSuite: config.srtpSuite,
      workerBin: bins.spyglass,
      ...ports,
    });
    arms.push(newArm(spyglass));
    for (const { path } of arms) {
      await sinks.countPayloadTypes(path.payloadTypes);
      relay.target = path.ingest.endpoints;
      await waitForIngest(path.ingest, sender);
      relay.target = null;
    }
    pinFor(null);
    await sleep(500);
    for (const arm of arms) arm.baselineRss = sumOrNull(arm.path.workerPids().map(processRssBytes));

    for (const n of config.steps) {
      const live = arms.filter((a) => a.alive);
      if (live.length === 0) break;
      // A path that fails (its broadcast closed, its worker refused a request) stops there with
      // the reason; the other paths and the steps already measured are kept.
      const fail = async (arm: Arm, error: unknown) => {
        arm.alive = false;
        arm.stoppedBecause = `failed at ${n} viewers: ${error instanceof Error ? error.message : String(error)}`;
        log(`fanout ${arm.path.name}: ${arm.stoppedBecause}`);
        await arm.path.close().catch(() => undefined);
      };
      const attachMs = new Map<Arm, number>();
      for (const arm of live) {
        try {
          attachMs.set(arm, await attach(arm, n, sinks, config));
        } catch (error) {
          await fail(arm, error);
        }
      }
      const windows = new Map<Arm, WindowData[]>(live.map((a) => [a, []]));
      const remeasured = new Map<Arm, number>(live.map((a) => [a, 0]));
      const [csinks, crelay, csender] = [sinks, relay, sender];
      const measureWindows = async (arm: Arm): Promise<void> => {
        for (let attempt = 0; ; attempt += 1) {
          const first = windows.get(arm)!.length === 0 && attempt === 0;
          const warm = await waitForFlow(csinks, arm.portOf, first ? config.settleMs : config.minWarmupMs, config.flowTimeoutMs);
          debug(`${arm.path.name} ${n}: ${warm.flowing}/${n} flowing after ${warm.ms} ms`);
          const w = { ...(await measureWindow(arm, csinks, crelay, csender, plan, config)), warm };
          if (w.noise.total !== null && w.noise.total > config.noiseLimit && attempt < config.noiseRetries) {
            remeasured.set(arm, remeasured.get(arm)! + 1);
            debug(`${arm.path.name} ${n}: window again, steal ${w.noise.steal} + foreign ${w.noise.foreign} on its core`);
            continue;
          }
          windows.get(arm)!.push(w);
          break;
        }
      };
      for (const arm of schedule(live, config.windows)) {
        if (!arm.alive) continue;
        pinFor(arm);
        relay.target = arm.path.ingest.endpoints;
        try {
          await measureWindows(arm);
        } catch (error) {
          await fail(arm, error);
        }
        relay.target = null;
      }
      pinFor(null);
      for (const arm of live.filter((a) => a.alive)) {
        const step = aggregate(arm, windows.get(arm)!, attachMs.get(arm)!, remeasured.get(arm)!, config);
        arm.steps.push(step);
        log(
          `fanout ${arm.path.name.padEnd(15)} ${String(n).padStart(5)} viewers: loss ${(step.loss * 100).toFixed(3)} %, ` +
            `busiest worker ${fmt(step.cpu.busiestWorker && step.cpu.busiestWorker * 100)} %, workers ${fmt(step.cpu.workers)} cores, ` +
            `${fmt(step.usPerPacket)} µs/packet, ${step.sentPps} packets/s, ${fmt(step.viewersPerCore)} viewers/core, ` +
            `${fmt(step.memory.perViewerKiB)} KiB/viewer at ${step.memory.viewerAgeS} s, delay p99 ${step.delaySpread?.p99Us ?? 'n/a'} µs, ` +
            `steal ${fmt(step.noise.steal)} foreign ${fmt(step.noise.foreign)} (${step.noise.remeasured} again), sink drops ${step.sinkDrops ?? 'n/a'}, relay drops ${step.relayDrops ?? 'n/a'}, ingest drops ${step.ingestDrops ?? 'n/a'}`,
        );
        if (!step.ok) arm.stoppedBecause = `loss ${(step.loss * 100).toFixed(2)} % > ${config.lossLimit * 100} % at ${n} viewers (${lossCause(step)})`;
        else if (step.saturated) arm.stoppedBecause = `CPU saturated at ${n} viewers (${saturationCause(step, config)})`;
        const last = !step.ok || step.saturated || n === config.steps[config.steps.length - 1];
        if (last && arm.path === spyglass) {
          pinFor(arm);
          relay.target = spyglass.ingest.endpoints;
          chromium = await checkInChromium(spyglass, n, config);
          relay.target = null;
          pinFor(null);
          log(`fanout spyglass ${String(n).padStart(5)} viewers: ${describeChromium(chromium)}`);
        }
        if (!step.ok || step.saturated) {
          arm.alive = false;
          // Its workers would only take CPU from the other path's windows.
          await arm.path.close();
        }
      }
    }
    const results = new Map(arms.map((a) => [a.path.name, result(a, a.path.name === 'spyglass' ? bins.spyglass : a.path.name === 'raw' ? bins.raw : bins.spyglass)]));
    const raw = results.get('raw')!;
    const spy = results.get('spyglass')!;
    const same = results.get('raw-same-binary') ?? null;
    return {
      config,
      cpuPinning: plan ? { workers: Array.from({ length: config.numWorkers }, (_, i) => plan.worker(i)), loadGenerator: plan.load } : null,
      workerBinaries: bins,
      calibration: calibrate(raw, config),
      raw,
      spyglass: spy,
      rawSameBinary: same,
      chromium,
      comparison: compare(raw, spy),
      sameBinaryComparison: same ? compare(same, spy) : null,
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
  return { path, viewers: [], portOf: [], attachedAt: [], steps: [], baselineRss: null, alive: true, stoppedBecause: 'all steps done' };
}

/** The calibration: the raw path's µs per packet at `calibrationViewers` against the reference. */
function calibrate(raw: PathResult, config: FanoutConfig): FanoutResult['calibration'] {
  const step = raw.steps.find((s) => s.viewers === config.calibrationViewers);
  const us = step?.usPerPacket ?? null;
  const ref = config.referenceUsPerPacket;
  const ratio = us !== null && ref !== null ? round(us / ref, 3) : null;
  const base = { viewers: config.calibrationViewers, usPerPacket: us, referenceUsPerPacket: ref, ratio };
  if (!step || us === null) return { ...base, publishable: false, reason: `no raw step at ${config.calibrationViewers} viewers with a CPU reading` };
  if (!step.valid) return { ...base, publishable: false, reason: 'the sinks or the relay dropped datagrams at the calibration step' };
  if (step.noise.noisyWindowsKept > 0) {
    return { ...base, publishable: false, reason: `${step.noise.noisyWindowsKept} windows of the calibration step had > ${config.noiseLimit * 100} % steal or foreign load on the worker's core (worst ${step.noise.worst})` };
  }
  if (step.loss > config.kneeLoss) return { ...base, publishable: false, reason: `loss ${step.loss} at the calibration step` };
  if (ratio === null) return { ...base, publishable: false, reason: 'no reference for this suite (BENCH_FANOUT_REFERENCE_US)' };
  if (ratio > config.calibrationTolerance || ratio < 1 / config.calibrationTolerance) {
    return { ...base, publishable: false, reason: `${us} µs per packet is ${ratio} × the reference ${ref} µs: the machine is far off its reference` };
  }
  return { ...base, publishable: true, reason: `${us} µs per packet, ${ratio} × the reference ${ref} µs` };
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

/** Window order: A B B A A B … for two paths (linear drift cancels), A B C C B A … for three, A A A for one. */
function schedule(live: Arm[], windows: number): Arm[] {
  const order: Arm[] = [];
  for (let w = 0; w < windows; w += 1) order.push(...(w % 2 === 0 ? live : [...live].reverse()));
  return order;
}

/** Attaches viewers until the path has `n`; returns how long that took. */
async function attach(arm: Arm, n: number, sinks: CSinks, config: FanoutConfig): Promise<number> {
  const start = performance.now();
  const ports = await sinks.open(n - arm.viewers.length);
  for (let i = 0; i < ports.length; i += config.attachConcurrency) {
    const batch = ports.slice(i, i + config.attachConcurrency);
    const attached = await Promise.all(batch.map((port, j) => arm.path.addViewer(`v${arm.viewers.length + j}`, port)));
    arm.viewers.push(...attached);
    arm.portOf.push(...attached.map((v) => v.transport.tuple.localPort));
    arm.attachedAt.push(...attached.map(() => performance.now()));
  }
  const ms = Math.round(performance.now() - start);
  debug(`${arm.path.name} ${n}: attached in ${ms} ms`);
  return ms;
}

/** After a switch of the relay: waits `minMs`, then until every viewer got video and audio again (or `timeoutMs`). */
async function waitForFlow(sinks: CSinks, portOf: readonly number[], minMs: number, timeoutMs: number): Promise<{ ms: number; flowing: number }> {
  const start = performance.now();
  const before = await sinks.snapshot();
  await sleep(minMs);
  let flowing = 0;
  while (performance.now() - start < timeoutMs) {
    const now = await sinks.snapshot();
    flowing = portOf.filter((p) => {
      const a = countersOf(before, p);
      const b = countersOf(now, p);
      return b.video > a.video && b.audio > a.audio;
    }).length;
    if (flowing === portOf.length) break;
    await sleep(250);
  }
  return { ms: Math.round(performance.now() - start), flowing };
}

/**
 * Per viewer: the packets the SFU sent it — the advance of the RTP sequence numbers its sink
 * saw (the SFU keeps the broadcaster's gaps, so packets lost on the way in count too) —
 * against the packets the sink counted; both read by the sink at one moment. A viewer that got
 * nothing is owed what the others were sent.
 */
function delivery(a: CSinkSnapshot, b: CSinkSnapshot, portOf: readonly number[]): { expected: number; received: number; worst: number; bytes: number } {
  const advance = (from: number, to: number) => (from >= 0 && to >= from ? to - from : 0);
  const got: number[] = [];
  const sent: number[] = [];
  let bytes = 0;
  for (const p of portOf) {
    const x = countersOf(a, p);
    const y = countersOf(b, p);
    got.push(y.video - x.video + (y.audio - x.audio));
    sent.push(advance(x.videoSeq, y.videoSeq) + advance(x.audioSeq, y.audioSeq));
    bytes += y.bytes - x.bytes;
  }
  const fullShare = Math.max(0, ...sent);
  let expected = 0;
  let received = 0;
  let worst = 0;
  for (let i = 0; i < portOf.length; i += 1) {
    const owed = got[i] === 0 ? fullShare : Math.max(sent[i]!, got[i]!);
    expected += owed;
    received += got[i]!;
    worst = Math.max(worst, owed > 0 ? 1 - got[i]! / owed : 0);
  }
  return { expected, received, worst, bytes };
}

/** Packets the video and audio producers received, and each sampled viewer's consumers sent. */
type WorkerStats = [video: number, audio: number, sampled: number[]];

interface Snapshot {
  sink: CSinkSnapshot;
  udp: ReturnType<typeof udpReceiveErrors>;
  sinkDrops: number | null;
  relayDrops: number | null;
  ingestDrops: number | null;
  /** Ticks of the measured workers' cores. */
  cores: Array<ReturnType<typeof coreCpuTicks>>;
  /** Ticks of the load generator's core (null unpinned). */
  loadCore: ReturnType<typeof coreCpuTicks>;
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
  /** Steal and foreign load on the measured workers' cores (the worst core), fractions of a core. */
  noise: { cores: number[]; steal: number | null; foreign: number | null; total: number | null };
}

/** The cores the arm's workers are measured on: the load generator's core is never one (it is busy by design). */
function measuredCores(arm: Arm, plan: CpuPlan | null): number[] {
  if (!plan) return [];
  const cores = new Set(arm.path.workerPids().map((_, i) => plan.worker(i)));
  cores.delete(plan.load);
  return [...cores];
}

async function measureWindow(
  arm: Arm,
  sinks: CSinks,
  relay: RtpRelay,
  sender: RtpSender,
  plan: CpuPlan | null,
  config: FanoutConfig,
): Promise<Omit<WindowData, 'warm'>> {
  const { path, viewers } = arm;
  const n = viewers.length;
  const workerPids = path.workerPids();
  const pids = new Map<string, number>([...workerPids.map((pid, i) => [`worker${i}`, pid] as const), ['sinks', sinks.pid], ['sender', sender.pid]]);
  const cores = measuredCores(arm, plan);
  const ingestPorts = [path.ingest.endpoints.video, path.ingest.endpoints.audio].flatMap((e) => [e.port, e.rtcpPort]);
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
  const relayPorts = relay.ports;
  const kernel = () => ({
    udp: udpReceiveErrors(),
    sinkDrops: sinks.drops(),
    relayDrops: udpSocketDrops(relayPorts),
    ingestDrops: udpSocketDrops(ingestPorts),
    cores: cores.map(coreCpuTicks),
    loadCore: plan ? coreCpuTicks(plan.load) : null,
  });
  // The sinks' counters are read inside the CPU window, right after it opens and right before
  // it closes: the packets counted and the CPU they cost cover the same time. The worker's
  // stats come before and after (they may be slow).
  const workerA = await stats();
  const workerAtA = performance.now();
  const cpu = new CpuWindow(pids);
  cpu.start();
  const a: Snapshot = { sink: await sinks.snapshot(), ...kernel(), worker: workerA, workerAt: workerAtA };
  await sleep(config.windowMs);
  const sinkB = await sinks.snapshot();
  const kernelB = kernel();
  const reading = cpu.stop();
  const workerB = await stats();
  const b: Snapshot = { sink: sinkB, ...kernelB, worker: workerB, workerAt: performance.now() };
  return { a, b, cpu: reading, sample, noise: coreNoise(arm, cores, plan, a, b, reading) };
}

/**
 * Steal and foreign load on the measured cores over a window: steal from /proc/stat; foreign =
 * the core's busy time − the CPU of the path's workers pinned to it (interrupts and softirqs
 * on that core count as foreign, so this errs high).
 */
function coreNoise(arm: Arm, cores: number[], plan: CpuPlan | null, a: Snapshot, b: Snapshot, reading: CpuReading): WindowData['noise'] {
  if (!plan || cores.length === 0) return { cores, steal: null, foreign: null, total: null };
  let steal = 0;
  let foreign = 0;
  for (const [j, core] of cores.entries()) {
    const x = a.cores[j];
    const y = b.cores[j];
    if (!x || !y || y.total <= x.total) return { cores, steal: null, foreign: null, total: null };
    const total = y.total - x.total;
    const workers = arm.path.workerPids().reduce((acc, _, i) => acc + (plan.worker(i) === core ? (reading.processes[`worker${i}`] ?? 0) : 0), 0);
    steal = Math.max(steal, (y.steal - x.steal) / total);
    foreign = Math.max(foreign, Math.max(0, (y.busy - x.busy) / total - workers));
  }
  return { cores, steal: round(steal, 3), foreign: round(foreign, 3), total: round(steal + foreign, 3) };
}

/** One step of one path from its windows: loss over all of them, CPU as the median. */
function aggregate(arm: Arm, windows: WindowData[], attachMs: number, remeasured: number, config: FanoutConfig): StepResult {
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
  let sinkDrops: number | null = 0;
  let relayDrops: number | null = 0;
  let ingestDrops: number | null = 0;
  const diff = (acc: number | null, x: number | null, y: number | null) => (acc !== null && x !== null && y !== null ? acc + y - x : null);
  const byWindow: StepResult['byWindow'] = [];
  for (const { a, b, cpu, sample } of windows) {
    seconds += cpu.seconds;
    statsSeconds += (b.workerAt - a.workerAt) / 1000;
    const d = delivery(a.sink, b.sink, arm.portOf);
    expected += d.expected;
    received += d.received;
    worst = Math.max(worst, d.worst);
    bytes += d.bytes;
    udp = diff(udp, a.udp?.rcvbufErrors ?? null, b.udp?.rcvbufErrors ?? null);
    sinkDrops = diff(sinkDrops, a.sinkDrops, b.sinkDrops);
    relayDrops = diff(relayDrops, a.relayDrops, b.relayDrops);
    ingestDrops = diff(ingestDrops, a.ingestDrops, b.ingestDrops);
    byWindow.push({
      ingestDrops: diff(0, a.ingestDrops, b.ingestDrops),
      loss: d.expected > 0 ? round(1 - d.received / d.expected, 5) : 0,
      loadCoreBusy: a.loadCore && b.loadCore && b.loadCore.total > a.loadCore.total ? round((b.loadCore.busy - a.loadCore.busy) / (b.loadCore.total - a.loadCore.total), 3) : null,
    });
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
  const medOf = (xs: Array<number | null>, digits = 3): number | null => {
    const ok = xs.filter((x): x is number => x !== null);
    const m = median(ok);
    return ok.length === xs.length && m !== null ? round(m, digits) : null;
  };
  const med = (f: (r: CpuReading) => number | null): number | null => medOf(readings.map(f));
  const workersOf = (r: CpuReading) => sumOrNull(workerPids.map((_, i) => r.processes[`worker${i}`] ?? null));
  const perWorker = workerPids.map((_, i) => med((r) => r.processes[`worker${i}`] ?? null));
  const workers = med(workersOf);
  const busiestWorker = perWorker.some((c) => c === null) ? null : Math.max(...(perWorker as number[]));
  const machineBusy = med((r) => r.machineBusy);
  const rss = sumOrNull(workerPids.map(processRssBytes));
  const now = performance.now();
  const viewerAgeS = n > 0 ? round(arm.attachedAt.reduce((acc, t) => acc + (now - t), 0) / n / 1000, 1) : 0;
  const workerXs = readings.map((r) => workersOf(r));
  const workerSeconds = workerXs.some((x) => x === null) ? null : round(readings.reduce((acc, r, i) => acc + workerXs[i]! * r.seconds, 0), 3);
  const deliveredPps = seconds > 0 ? received / seconds : 0;
  const saturated = (busiestWorker ?? 0) >= config.saturation || !workerAnswered;
  const valid = sinkDrops === 0 && relayDrops === 0;
  const delays = windows.map((w) => w.b.sink.delay);
  const noise = windows.map((w) => w.noise);
  const worstNoise = noise.some((x) => x.total === null) ? null : Math.max(...noise.map((x) => x.total!));
  const ok = loss <= config.lossLimit;
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
    ingestDrops,
    byWindow,
    sinkDrops,
    relayDrops,
    valid,
    sentPps: seconds > 0 ? Math.round(expected / seconds) : 0,
    deliveredPps: Math.round(deliveredPps),
    deliveredMbps: seconds > 0 ? round((bytes * 8) / seconds / 1e6, 1) : 0,
    usPerPacket: workerSeconds !== null && expected > 0 ? round((workerSeconds / expected) * 1e6, 2) : null,
    cpu: {
      workers,
      perWorker,
      busiestWorker,
      sinks: med((r) => r.processes.sinks ?? null),
      sender: med((r) => r.processes.sender ?? null),
      benchProcess: med((r) => r.benchProcess),
      machineBusy,
      windows: workerXs.map((w) => (w === null ? null : round(w, 3))),
      workerSeconds,
    },
    noise: {
      cores: windows[0]?.noise.cores ?? [],
      steal: medOf(noise.map((x) => x.steal)),
      foreign: medOf(noise.map((x) => x.foreign)),
      worst: worstNoise === null ? null : round(worstNoise, 3),
      remeasured,
      noisyWindowsKept: noise.filter((x) => x.total !== null && x.total > config.noiseLimit).length,
    },
    delaySpread: delays.every((d) => d !== null)
      ? {
          p50Us: Math.round(median(delays.map((d) => d.p50Us)) ?? 0),
          p99Us: Math.round(median(delays.map((d) => d.p99Us)) ?? 0),
          maxUs: Math.max(...delays.map((d) => d.maxUs)),
        }
      : null,
    packetsPerSecPerCore: workers ? Math.round(deliveredPps / workers) : null,
    viewersPerCore: workers ? Math.round(n / workers) : null,
    memory: {
      workersRssMiB: rss === null ? null : round(rss / 2 ** 20, 1),
      perViewerKiB: rss !== null && arm.baselineRss !== null ? round((rss - arm.baselineRss) / n / 1024, 1) : null,
      viewerAgeS,
    },
    layout: arm.path.layout(),
    saturated,
    ok,
    withinKnee: valid && loss <= config.kneeLoss && busiestWorker !== null && busiestWorker <= config.kneeCpu,
  };
}

function result(arm: Arm, workerBin: string | null): PathResult {
  const knee = [...arm.steps].reverse().find((s) => s.withinKnee);
  return {
    name: arm.path.name,
    workerBin,
    baselineRssMiB: arm.baselineRss === null ? null : round(arm.baselineRss / 2 ** 20, 1),
    steps: arm.steps,
    maxCleanViewers: knee?.viewers ?? null,
    viewersPerCore: knee?.viewersPerCore ?? null,
    packetsPerSecPerCore: knee?.packetsPerSecPerCore ?? null,
    usPerPacket: knee?.usPerPacket ?? null,
    memoryPerViewerKiB: knee?.memory.perViewerKiB ?? null,
    stoppedBecause: arm.stoppedBecause,
  };
}

/** Where the packets were lost, from the worker's stats and the kernel's counters. */
function lossCause(s: StepResult): string {
  const parts: string[] = [];
  if (s.sfuLossSampled !== null) parts.push(`the SFU's consumers sent ${((1 - s.sfuLossSampled) * 100).toFixed(1)} % of what the producers got`);
  if (!s.workerAnswered) parts.push('the worker answered no stats within the timeout');
  if (s.ingestDrops) parts.push(`${s.ingestDrops} datagrams dropped on the ingest sockets`);
  if (s.sinkDrops) parts.push(`${s.sinkDrops} datagrams dropped on the sink sockets (invalid step)`);
  if (s.relayDrops) parts.push(`${s.relayDrops} datagrams dropped on the relay's sockets (invalid step)`);
  parts.push(`busiest worker ${fmt(s.cpu.busiestWorker && s.cpu.busiestWorker * 100)} % of its core, machine ${fmt(s.cpu.machineBusy && s.cpu.machineBusy * 100)} % busy`);
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

function compare(raw: PathResult, spy: PathResult): Comparison {
  const pairs = spy.steps.flatMap((s) => {
    const r = raw.steps.find((x) => x.viewers === s.viewers);
    return r ? [{ r, s }] : [];
  });
  const perStep = pairs.map(({ r, s }) => ({
    viewers: s.viewers,
    ratio: r.cpu.workers && s.cpu.workers ? round(r.cpu.workers / s.cpu.workers, 3) : null,
  }));
  const clean = pairs.filter(({ r, s }) => r.withinKnee && s.withinKnee && r.cpu.workerSeconds && s.cpu.workerSeconds);
  // Packets sent per worker CPU-second, pooled over the clean steps' windows.
  const efficiency = (steps: StepResult[]) =>
    steps.reduce((acc, x) => acc + x.expectedPackets, 0) / steps.reduce((acc, x) => acc + x.cpu.workerSeconds!, 0);
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

/** The figures for latest.json; none when the calibration says the machine is far off its reference (or has none). */
export function summary(r: FanoutResult): Partial<LatestFigures> {
  if (!r.calibration.publishable) return {};
  return { fanout: { viewersPerCore: r.spyglass.viewersPerCore, ratioVsRawMediasoup: r.comparison.ratioVsRawMediasoup } };
}

const LABEL: Record<PathName, string> = { raw: 'raw mediasoup', spyglass: 'Spyglass', 'raw-same-binary': "raw mediasoup on Spyglass's binary" };

export function describe(r: FanoutResult): string[] {
  const c = r.config;
  const line = (p: PathResult) =>
    `${LABEL[p.name]}${p.workerBin ? ` (${p.workerBin})` : ''}: knee ${p.maxCleanViewers ?? 'none'} viewers ` +
    `(loss ≤ ${c.kneeLoss * 100} %, busiest worker ≤ ${c.kneeCpu * 100} % of its core), ${p.viewersPerCore ?? 'n/a'} viewers per 100 % core, ` +
    `${p.usPerPacket ?? 'n/a'} µs of worker CPU per packet, ${p.packetsPerSecPerCore ?? 'n/a'} packets/s per core, ` +
    `${p.memoryPerViewerKiB ?? 'n/a'} KiB/viewer; stopped: ${p.stoppedBecause}`;
  const ratio = (label: string, x: Comparison) =>
    `Spyglass ÷ ${label}, packets (= viewers) per core: ${x.ratioVsRawMediasoup ?? 'n/a'} ` +
    `(pooled over the steps both kept within the knee: ${x.cleanSteps.join(', ') || 'none'}; per step ` +
    `${x.perStep.map((p) => `${p.viewers}: ${p.ratio ?? 'n/a'}`).join(', ')})`;
  return [
    `${c.srtpSuite}; video paced at ${c.paceBitsPerSecond ? `${c.paceBitsPerSecond / 1e6} Mbit/s` : 'no rate'}; calibration: ${r.calibration.publishable ? 'publishable' : 'NOT PUBLISHABLE'} (${r.calibration.reason})`,
    line(r.spyglass),
    line(r.raw),
    ...(r.rawSameBinary ? [line(r.rawSameBinary)] : []),
    ratio('raw mediasoup', r.comparison),
    ...(r.sameBinaryComparison ? [ratio("raw mediasoup on Spyglass's binary", r.sameBinaryComparison)] : []),
    ...(r.chromium ? [describeChromium(r.chromium)] : []),
  ];
}

function describeChromium(c: ChromiumCheck): string {
  const head = `Chromium on the /watch page, beside the Spyglass path's ${c.plainViewers} viewers`;
  if (c.error !== null) return `${head}: not measured (${c.error})`;
  const each = c.viewers.map((v) =>
    v.error !== null && v.framesDecoded === 0
      ? `no frame (${v.error})`
      : `${v.fps} fps at ${v.width}×${v.height}, first frame after ${v.firstFrameMs ?? 'n/a'} ms, SRTP ${v.srtpCipher ?? 'n/a'}`,
  );
  return `${head}: ${c.decoding} of ${c.viewers.length} decoded video (${each.join('; ')})`;
}

export function chart(r: FanoutResult): string {
  const series = (f: (s: StepResult) => number | null) =>
    [r.spyglass, r.raw, ...(r.rawSameBinary ? [r.rawSameBinary] : [])].map((p) => ({
      name: LABEL[p.name],
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
      {
        title: 'Busiest mediasoup worker',
        xLabel: 'viewers',
        yLabel: '% of its core',
        xLog2: true,
        series: series((s) => s.cpu.busiestWorker && round(s.cpu.busiestWorker * 100, 1)),
        hLines: [{ y: r.config.kneeCpu * 100, label: 'knee' }],
      },
      { title: 'Worker CPU per packet sent', xLabel: 'viewers', yLabel: 'µs / packet', xLog2: true, series: series((s) => s.usPerPacket) },
      {
        title: 'Loss (1 − received / sent)',
        xLabel: 'viewers',
        yLabel: '%',
        xLog2: true,
        series: series((s) => round(s.loss * 100, 3)),
        hLines: [{ y: r.config.kneeLoss * 100, label: 'knee' }],
      },
      { title: 'Viewers per core of worker CPU', xLabel: 'viewers', yLabel: 'viewers / core', xLog2: true, series: series((s) => s.viewersPerCore) },
      { title: 'Worker memory per viewer', xLabel: 'viewers', yLabel: 'KiB / viewer', xLog2: true, series: series((s) => s.memory.perViewerKiB) },
      { title: 'Spread of arrival delay over the viewers, p99', xLabel: 'viewers', yLabel: 'µs', xLog2: true, series: series((s) => s.delaySpread?.p99Us ?? null) },
    ],
  );
}
