import { setTimeout as sleep } from 'node:timers/promises';
import { FULL_CLIP, producerPackets, type Ingest, type RtpSender } from '../../testkit/media.ts';
import type { Sinks, SinkSnapshot } from './sinks.ts';

/**
 * Is the media flowing, and how much of it arrived: what the fan-out and cascade benchmarks
 * check before and during a measurement window (ingest producers, UDP sinks).
 */

/**
 * Measurement windows that alternate between arms fed in turn by one sender through the relay
 * (lib/relay.ts), as the fan-out and cascade benchmarks run them.
 */
export interface WindowTiming {
  /** Windows per arm (and step), each `windowMs` long (half the clip's loop: two windows carry the same media). */
  windows: number;
  windowMs: number;
  /**
   * After switching the sender to an arm, wait at least this long (`settleMs` the first time
   * after new viewers were attached: their consumers' buffers fill up first) …
   */
  minWarmupMs: number;
  settleMs: number;
  /** … and until every one of its sinks receives video and audio again, at most this long. */
  flowTimeoutMs: number;
}

/**
 * Full runs: short windows, many of them, alternating — the machine's noise comes and goes
 * within seconds. A window is half the synthetic clip's loop (two windows carry the same media).
 */
export const FULL_RUN_WINDOWS: WindowTiming = {
  windows: 6,
  windowMs: (FULL_CLIP.seconds * 1000) / 2,
  minWarmupMs: 300,
  settleMs: 3000,
  flowTimeoutMs: 15_000,
};

/** Waits until the ingest's producers receive the sender's packets (ffmpeg needs ~0.5 s to start). */
export async function waitForIngest(ingest: Ingest, sender: RtpSender): Promise<void> {
  const deadline = performance.now() + 15_000;
  while (performance.now() < deadline) {
    const [v, a] = await Promise.all([producerPackets(ingest.video), producerPackets(ingest.audio)]);
    if (v > 0 && a > 0) return;
    await sleep(100);
  }
  throw new Error(`the RTP sender's packets do not reach the producers; ffmpeg says: ${sender.stderrTail() || '(nothing)'}`);
}

/** After a switch of the relay: waits `minMs`, then until every sink of `sinkOf` got video and audio again (or `timeoutMs`). */
export async function waitForFlow(sinks: Sinks, sinkOf: readonly number[], minMs: number, timeoutMs: number): Promise<{ ms: number; flowing: number }> {
  const start = performance.now();
  const before = await sinks.snapshot();
  await sleep(minMs);
  let flowing = 0;
  while (performance.now() - start < timeoutMs) {
    const now = await sinks.snapshot();
    flowing = sinkOf.filter((k) => now.video[k]! > before.video[k]! && now.audio[k]! > before.audio[k]!).length;
    if (flowing === sinkOf.length) break;
    await sleep(250);
  }
  return { ms: Math.round(performance.now() - start), flowing };
}

/** What the sinks of some viewers received between two snapshots, against what they were owed. */
export interface Delivery {
  expected: number;
  received: number;
  /** The worst single viewer's loss. */
  worst: number;
  bytes: number;
}

/**
 * Per viewer: the packets the SFU sent it — the advance of the RTP sequence numbers its sink
 * saw (the SFU keeps the broadcaster's gaps, so packets lost on the way in count too) —
 * against the packets the sink counted; both read by the sink at one moment, however far
 * behind it runs. A viewer that got nothing is owed what the others were sent.
 */
export function delivery(a: SinkSnapshot, b: SinkSnapshot, sinkOf: readonly number[]): Delivery {
  const advance = (from: number, to: number) => (from >= 0 && to >= from ? to - from : 0);
  const got: number[] = [];
  const sent: number[] = [];
  let bytes = 0;
  for (const k of sinkOf) {
    got.push(b.video[k]! - a.video[k]! + (b.audio[k]! - a.audio[k]!));
    sent.push(advance(a.videoSeq[k]!, b.videoSeq[k]!) + advance(a.audioSeq[k]!, b.audioSeq[k]!));
    bytes += b.bytes[k]! - a.bytes[k]!;
  }
  const fullShare = Math.max(0, ...sent);
  let expected = 0;
  let received = 0;
  let worst = 0;
  for (let i = 0; i < sinkOf.length; i += 1) {
    const owed = got[i] === 0 ? fullShare : Math.max(sent[i]!, got[i]!);
    expected += owed;
    received += got[i]!;
    worst = Math.max(worst, owed > 0 ? 1 - got[i]! / owed : 0);
  }
  return { expected, received, worst, bytes };
}
