import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createWorker, type types as ms } from 'mediasoup';
import { createLogger } from '../../common/logger.ts';
import { EdgeFeed } from '../../sfu/EdgeFeed.ts';
import { mediaCodecs } from '../../sfu/mediaCodecs.ts';
import { OriginPipe } from '../../sfu/OriginPipe.ts';
import { cpuPlan, pin, unpin } from '../lib/cpus.ts';
import { delivery, waitForFlow, waitForIngest, type WindowTiming } from '../lib/flow.ts';
import { openIngest, producerPackets, startRtpSender, synthesiseClip, type ClipSpec, type Ingest, type RtpSender } from '../../testkit/media.ts';
import { CpuWindow, round } from '../lib/proc.ts';
import { RtpRelay } from '../lib/relay.ts';
import { Sinks } from '../lib/sinks.ts';
import { median } from '../lib/stats.ts';
import { attachPlainViewer, consumerPayloadTypes } from '../fanout/plainViewer.ts';

/**
 * What a pipe to an edge costs the origin, against a viewer; and what a viewer costs an edge
 * fed by a pipe, against a viewer on the origin. mediasoup workers with Spyglass's routers
 * (its codecs), the synthetic broadcaster's ingest, and three arms, each with its own ingest
 * and its own workers; one ffmpeg sender feeds one arm at a time through the relay, and their
 * windows alternate (A B C C B A …) as in the fan-out, so that the machine's drift falls on
 * all three alike:
 *
 * - viewers: K plain SRTP viewers (bench/fanout/plainViewer.ts) on the origin's router;
 *   measured: the origin worker;
 * - pipes: K pipes from the origin's router, each to a router of its own on a second worker,
 *   opened with Spyglass's own classes as two nodes open one (sfu/EdgeFeed.ts,
 *   sfu/OriginPipe.ts: PipeTransports with SRTP AEAD_AES_256_GCM and RTX); measured: the
 *   origin worker;
 * - edge: one such pipe from an origin worker to an edge router, and K plain viewers on the
 *   edge router; measured: the edge worker.
 *
 * Each arm is measured first with nothing attached (its baseline: the ingest, or for the edge
 * the pipe coming in), then with its K units. Measured workers are pinned to the first core,
 * everything else (the arms' other workers, sinks, ffmpeg, this process) to the last.
 */

export interface PipeCostConfig extends WindowTiming {
  /** Viewers, pipes, edge viewers: the same K in every arm. */
  units: number;
  /** Windows per arm with nothing attached (then `windows` with the K units). */
  baselineWindows: number;
  clip: ClipSpec;
  attachConcurrency: number;
  pin: boolean;
  rtcMinPort: number;
  rtcMaxPort: number;
}

export type ArmName = 'viewers' | 'pipes' | 'edge';

export interface ArmWindow {
  /** Cores used by the measured worker, the arm's other worker, the sinks, ffmpeg; the machine's busy fraction. */
  measured: number | null;
  other: number | null;
  sinks: number | null;
  sender: number | null;
  machineBusy: number | null;
  seconds: number;
  /** Packets owed and received over the window (viewers: by the sinks; pipes: by the edges' copies of the producers); null with nothing attached. */
  expected: number | null;
  received: number | null;
  /** Bytes the sinks received (viewers and edge arms). */
  bytes: number | null;
  /** Seconds between the two counter readings (the sinks' are the window; the edges' copies are read just outside it). */
  countSeconds: number;
  /** Time to media flowing again after the switch, and how many units had it (of `units`). */
  warmupMs: number;
  flowing: number;
}

export interface ArmResult {
  name: ArmName;
  units: number;
  baseline: ArmWindow[];
  loaded: ArmWindow[];
  /** Medians over the windows: measured worker cores with nothing attached, and with the K units. */
  baselineCores: number | null;
  loadedCores: number | null;
  /** (loaded − baseline) ÷ K: cores one more unit costs the measured worker. */
  perUnitCores: number | null;
  /** K ÷ loaded: units per core of the measured worker, everything it does included (as the fan-out's viewers per core), at the packet rate of the windows (`ppsPerUnit`). */
  unitsPerCore: number | null;
  /**
   * The same per packet, medians over the windows: µs of the measured worker's CPU per packet
   * sent to one unit, beyond the baseline (`usPerPacket`) and everything included
   * (`usPerPacketAllIn`). ffmpeg's `-re` catches up in bursts when it was starved, so the
   * packet rate of a 2.5 s window varies on a busy machine; per packet, it does not matter.
   */
  usPerPacket: number | null;
  usPerPacketAllIn: number | null;
  /** Median cores of the arm's other worker with the K units (the edges' worker; the edge's origin). */
  otherCores: number | null;
  /** 1 − received ÷ expected over the loaded windows (the pipes': a little off either way, see measureWindow). */
  loss: number | null;
  /** RTP packets per second each unit received (the sinks; the edges' copies of the producers). */
  ppsPerUnit: number | null;
  /** Megabits per second each viewer received (the sinks' bytes, SRTP; null for the pipes). */
  mbpsPerUnit: number | null;
  machineBusy: number | null;
  /** A loaded window had the measured worker or the machine at ≥ 95 %. */
  saturated: boolean;
}

export interface PipeCostResult {
  config: PipeCostConfig;
  cpuPinning: { measured: number; rest: number } | null;
  viewers: ArmResult;
  pipes: ArmResult;
  edge: ArmResult;
  /** Origin worker CPU per pipe ÷ per viewer (medians of the windows' CPU, as measured). */
  pipeVsViewer: number | null;
  /** The same per packet sent (usPerPacket of the pipes ÷ of the viewers). */
  pipeVsViewerPerPacket: number | null;
  /** Viewers per core of the worker: on an edge fed by one pipe, on the origin directly, and the ratio. */
  edgeViewersPerCore: number | null;
  originViewersPerCore: number | null;
  edgeVsOrigin: number | null;
  /** The same per packet: the origin worker's all-in CPU per packet sent ÷ the edge worker's. */
  edgeVsOriginPerPacket: number | null;
}

interface Arm {
  name: ArmName;
  ingest: Ingest;
  measured: ms.Worker;
  other: ms.Worker | null;
  attached: number;
  /** Sink numbers of the arm's viewers. */
  sinkOf: number[];
  /** The pipes arm: the edges' copies of the origin's producers. */
  copies: ms.Producer[];
  attach(n: number): Promise<void>;
  /** The producers whose packets show that media flows before anything is attached. */
  idleFlow: ms.Producer[];
  baseline: ArmWindow[];
  loaded: ArmWindow[];
}

const LISTEN = { listenIp: '127.0.0.1', announcedAddress: '127.0.0.1' };
const logger = createLogger({ level: 'silent' });

/**
 * One pipe from `origin` to `edge` as two Spyglass nodes open it (EdgeRelays + PipeServer do
 * the signalling): the edge's feed first, the origin's end connected to it and consuming
 * every producer, the feed connected back, and the producers re-created on the edge. Producer
 * ids are unique per mediasoup worker: an edge node re-creates them with the origin's ids in
 * its own process, but here many edges share one worker, so each copy gets a new id.
 */
export async function openPipe(origin: ms.Router, producers: ms.Producer[], edge: ms.Router): Promise<ms.Producer[]> {
  const feed = await EdgeFeed.create({ router: edge, ...LISTEN, logger });
  const { pipe, producers: piped } = await OriginPipe.open({ router: origin, ...LISTEN, edge: feed.endpoint, producers, logger });
  try {
    await feed.connect(pipe.endpoint);
    const copies: ms.Producer[] = [];
    for (const p of piped) copies.push(await feed.produce({ ...p, id: randomUUID() }));
    return copies;
  } catch (error) {
    pipe.close();
    feed.close();
    throw error;
  }
}

export async function measurePipeCost(config: PipeCostConfig, log: (line: string) => void): Promise<PipeCostResult> {
  const clip = await synthesiseClip(config.clip);
  const plan = config.pin ? cpuPlan() : null;
  // Pinned first: the sinks, ffmpeg and the workers inherit the last core; measured workers move to the first.
  if (plan) pin(process.pid, plan.load);
  const workers: ms.Worker[] = [];
  const ingests: Ingest[] = [];
  let sinks: Sinks | undefined;
  let relay: RtpRelay | undefined;
  let sender: RtpSender | undefined;
  try {
    const worker = async (measured: boolean) => {
      const w = await createWorker({ logLevel: 'warn', rtcMinPort: config.rtcMinPort, rtcMaxPort: config.rtcMaxPort });
      workers.push(w);
      if (plan) pin(w.pid, measured ? plan.worker(0) : plan.load);
      return w;
    };
    const router = (w: ms.Worker) => w.createRouter({ mediaCodecs });
    const ingestOn = async (r: ms.Router) => {
      const ingest = await openIngest(r);
      ingests.push(ingest);
      return ingest;
    };
    sinks = await Sinks.start();
    relay = await RtpRelay.open();
    sender = startRtpSender(clip, relay.endpoints.video, relay.endpoints.audio);
    const sinksOf = sinks;

    const attachViewers = async (arm: Arm, r: ms.Router, producers: ms.Producer[], n: number) => {
      const first = sinksOf.count;
      const ports = await sinksOf.open(n, consumerPayloadTypes(r));
      for (let i = 0; i < ports.length; i += config.attachConcurrency) {
        await Promise.all(ports.slice(i, i + config.attachConcurrency).map((port) => attachPlainViewer(r, producers, port)));
      }
      arm.sinkOf.push(...ports.map((_, j) => first + j));
    };
    const newArm = (name: ArmName, ingest: Ingest, measured: ms.Worker, other: ms.Worker | null, idleFlow: ms.Producer[], attach: (arm: Arm, n: number) => Promise<void>): Arm => {
      const arm: Arm = { name, ingest, measured, other, attached: 0, sinkOf: [], copies: [], idleFlow, baseline: [], loaded: [], attach: async (n) => {
        await attach(arm, n);
        arm.attached += n;
      } };
      return arm;
    };

    // viewers: K viewers on the origin.
    const o1 = await router(await worker(true));
    const i1 = await ingestOn(o1);
    const viewersArm = newArm('viewers', i1, workers.at(-1)!, null, [i1.video, i1.audio], (arm, n) => attachViewers(arm, o1, [i1.video, i1.audio], n));
    // pipes: K pipes from the origin to routers on another worker.
    const o2 = await router(await worker(true));
    const i2 = await ingestOn(o2);
    const o2Worker = workers.at(-1)!;
    const edgesWorker = await worker(false);
    const pipesArm = newArm('pipes', i2, o2Worker, edgesWorker, [i2.video, i2.audio], async (arm, n) => {
      for (let i = 0; i < n; i += 1) arm.copies.push(...(await openPipe(o2, [i2.video, i2.audio], await router(edgesWorker))));
    });
    // edge: one pipe into an edge router, K viewers on it.
    const o3 = await router(await worker(false));
    const i3 = await ingestOn(o3);
    const o3Worker = workers.at(-1)!;
    const e3Worker = await worker(true);
    const e3 = await router(e3Worker);
    const fed = await openPipe(o3, [i3.video, i3.audio], e3);
    const edgeArm = newArm('edge', i3, e3Worker, o3Worker, fed, (arm, n) => attachViewers(arm, e3, fed, n));
    const arms = [viewersArm, pipesArm, edgeArm];

    for (const arm of arms) {
      relay.target = arm.ingest.endpoints;
      await waitForIngest(arm.ingest, sender);
    }
    relay.target = null;
    await sleep(500);

    const round_ = async (phase: 'baseline' | 'loaded', windows: number) => {
      for (let w = 0; w < windows; w += 1) {
        for (const arm of w % 2 === 0 ? arms : [...arms].reverse()) {
          relay!.target = arm.ingest.endpoints;
          const first = arm[phase].length === 0;
          const warm = await waitForArm(arm, sinksOf, first ? config.settleMs : config.minWarmupMs, config.flowTimeoutMs);
          arm[phase].push({ ...(await measureWindow(arm, sinksOf, sender!, config.windowMs)), warmupMs: warm.ms, flowing: warm.flowing });
          relay!.target = null;
        }
      }
    };
    await round_('baseline', config.baselineWindows);
    for (const arm of arms) {
      const t = performance.now();
      await arm.attach(config.units);
      log(`cascade: ${arm.name} arm: ${config.units} attached in ${Math.round(performance.now() - t)} ms`);
    }
    await round_('loaded', config.windows);

    const [viewers, pipes, edge] = arms.map((a) => armResult(a, config.units)) as [ArmResult, ArmResult, ArmResult];
    for (const a of [viewers, pipes, edge]) {
      log(
        `cascade: ${a.name.padEnd(7)} measured worker ${a.baselineCores} → ${a.loadedCores} cores with ${a.units}, ` +
          `${a.perUnitCores === null ? 'n/a' : round(a.perUnitCores * 1000, 2)} mcores each, loss ${a.loss === null ? 'n/a' : `${round(a.loss * 100, 2)} %`}`,
      );
    }
    const ratio = (x: number | null, y: number | null) => (x !== null && y ? round(x / y, 3) : null);
    return {
      config,
      cpuPinning: plan ? { measured: plan.worker(0), rest: plan.load } : null,
      viewers,
      pipes,
      edge,
      pipeVsViewer: ratio(pipes.perUnitCores, viewers.perUnitCores),
      edgeViewersPerCore: edge.unitsPerCore,
      originViewersPerCore: viewers.unitsPerCore,
      edgeVsOrigin: ratio(edge.unitsPerCore, viewers.unitsPerCore),
      pipeVsViewerPerPacket: ratio(pipes.usPerPacket, viewers.usPerPacket),
      edgeVsOriginPerPacket: ratio(viewers.usPerPacketAllIn, edge.usPerPacketAllIn),
    };
  } finally {
    await sender?.stop();
    relay?.close();
    ingests.forEach((i) => i.close());
    workers.forEach((w) => w.close());
    await sinks?.stop();
    // The cluster part and the next benchmark get every core again.
    if (plan) unpin(process.pid);
  }
}

/** Waits until the arm's media flows again after a switch: its viewers' sinks, else the edges' copies, else its producers. */
async function waitForArm(arm: Arm, sinks: Sinks, minMs: number, timeoutMs: number): Promise<{ ms: number; flowing: number }> {
  if (arm.sinkOf.length > 0) return waitForFlow(sinks, arm.sinkOf, minMs, timeoutMs);
  const producers = arm.copies.length > 0 ? arm.copies : arm.idleFlow;
  const start = performance.now();
  const before = await Promise.all(producers.map(producerPackets));
  await sleep(minMs);
  let flowing = 0;
  while (performance.now() - start < timeoutMs) {
    const now = await Promise.all(producers.map(producerPackets));
    flowing = now.filter((n, i) => n > before[i]!).length;
    if (flowing === producers.length) break;
    await sleep(250);
  }
  // Units: a pipe has two producers (video, audio); with nothing attached, 0 of 0.
  const units = arm.copies.length > 0 ? Math.floor(flowing / 2) : 0;
  return { ms: Math.round(performance.now() - start), flowing: units };
}

async function measureWindow(arm: Arm, sinks: Sinks, sender: RtpSender, windowMs: number): Promise<Omit<ArmWindow, 'warmupMs' | 'flowing'>> {
  const pids = new Map<string, number>([['measured', arm.measured.pid], ['sinks', sinks.pid], ['sender', sender.pid]]);
  if (arm.other) pids.set('other', arm.other.pid);
  // The pipes arm: the origin's producers against the edges' copies, read at once (two
  // workers answering), just outside the window. What is still in flight between them makes
  // a window's loss a little off either way.
  const counters = async () => {
    if (arm.copies.length === 0) return null;
    const [video, audio, ...copies] = await Promise.all([arm.ingest.video, arm.ingest.audio, ...arm.copies].map(producerPackets));
    return { origin: video! + audio!, copies: copies.reduce((x, y) => x + y, 0) };
  };
  const c0 = await counters();
  const t0 = performance.now();
  const cpu = new CpuWindow(pids);
  cpu.start();
  const s0 = arm.sinkOf.length > 0 ? await sinks.snapshot() : null;
  await sleep(windowMs);
  const s1 = s0 ? await sinks.snapshot() : null;
  const r = cpu.stop();
  const c1 = await counters();
  const countSeconds = c1 ? (performance.now() - t0) / 1000 : r.seconds;
  const d = s0 && s1 ? delivery(s0, s1, arm.sinkOf) : null;
  const pipes = c0 && c1 ? { expected: (c1.origin - c0.origin) * arm.attached, received: c1.copies - c0.copies } : null;
  return {
    measured: r.processes.measured ?? null,
    other: r.processes.other ?? null,
    sinks: r.processes.sinks ?? null,
    sender: r.processes.sender ?? null,
    machineBusy: r.machineBusy,
    seconds: r.seconds,
    expected: d?.expected ?? pipes?.expected ?? null,
    received: d?.received ?? pipes?.received ?? null,
    bytes: d?.bytes ?? null,
    countSeconds: round(countSeconds, 3),
  };
}

/** µs of the measured worker's CPU per packet sent to one unit in the loaded windows (medians): beyond `baselineCores`, and all in. */
export function perPacket(loaded: readonly ArmWindow[], baselineCores: number | null): { usPerPacket: number | null; usPerPacketAllIn: number | null } {
  const us = (extra: (w: ArmWindow) => number | null) => {
    const xs = loaded.map((w) => {
      const cores = extra(w);
      // The edges' copies are read just outside the CPU window: their packets scaled to it.
      const packets = w.expected === null ? null : (w.expected * w.seconds) / w.countSeconds;
      return cores === null || !packets ? null : (cores * w.seconds * 1e6) / packets;
    });
    const m = xs.every((x) => x !== null) ? median(xs) : null;
    return m === null ? null : round(m, 2);
  };
  return {
    usPerPacket: baselineCores === null ? null : us((w) => (w.measured === null ? null : w.measured - baselineCores)),
    usPerPacketAllIn: us((w) => w.measured),
  };
}

function armResult(arm: Arm, units: number): ArmResult {
  const med = (ws: ArmWindow[], f: (w: ArmWindow) => number | null) => {
    const xs = ws.map(f);
    const m = xs.every((x) => x !== null) ? median(xs) : null;
    return m === null ? null : round(m, 4);
  };
  const baselineCores = med(arm.baseline, (w) => w.measured);
  const loadedCores = med(arm.loaded, (w) => w.measured);
  const expected = arm.loaded.reduce((s, w) => s + (w.expected ?? 0), 0);
  const received = arm.loaded.reduce((s, w) => s + (w.received ?? 0), 0);
  const seconds = arm.loaded.reduce((s, w) => s + w.countSeconds, 0);
  const bytes = arm.loaded.every((w) => w.bytes !== null) ? arm.loaded.reduce((s, w) => s + w.bytes!, 0) : null;
  return {
    name: arm.name,
    units,
    baseline: arm.baseline,
    loaded: arm.loaded,
    baselineCores,
    loadedCores,
    perUnitCores: baselineCores !== null && loadedCores !== null ? round((loadedCores - baselineCores) / units, 6) : null,
    unitsPerCore: loadedCores ? round(units / loadedCores, 1) : null,
    ...perPacket(arm.loaded, baselineCores),
    otherCores: med(arm.loaded, (w) => w.other),
    loss: expected > 0 ? round(1 - received / expected, 5) : null,
    ppsPerUnit: seconds > 0 ? round(received / seconds / units, 1) : null,
    mbpsPerUnit: bytes !== null && seconds > 0 ? round((bytes * 8) / seconds / units / 1e6, 3) : null,
    machineBusy: med(arm.loaded, (w) => w.machineBusy),
    saturated: arm.loaded.some((w) => (w.measured ?? 0) >= 0.95 || (w.machineBusy ?? 0) >= 0.95),
  };
}
