import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { types as ms } from 'mediasoup';
import { loadConfig, type Config } from '../../common/config.ts';
import { createLogger } from '../../common/logger.ts';
import type { RtpParameters } from '../../common/protocol/media.ts';
import { startSpyglass, type RunningSpyglass } from '../../signaling/server.ts';
import { connect, dropQueues, ok, signUp, testQueuePrefix } from '../../test/helpers/server.ts';
import { spawnWorkers, type WorkersProcess } from '../../test/helpers/workers.ts';
import { machineInfo, type MachineInfo } from '../lib/machine.ts';
import { FULL_CLIP, SMOKE_CLIP, VIDEO_PT, openIngest, startRtpSender, synthesiseClip, type ClipSpec, type Ingest } from '../lib/media.ts';
import { round, udpReceiveErrors } from '../lib/proc.ts';
import { chartDocument } from '../lib/svg.ts';
import type { BenchResult, LatestFigures, RunOptions } from '../types.ts';
import { FrameRelay, type SentFrame } from './frameRelay.ts';
import { finalizeScaling, type FinalizeScalingPoint } from './finalizeScaling.ts';
import { BENCH_LIMITS } from '../lib/limits.ts';

/**
 * Recording fidelity: a real Spyglass (signalling, mediasoup) and the real workers process
 * (record and finalize jobs, ffmpeg) record a broadcast from the synthetic broadcaster; every
 * VP8 frame sent is counted on the way in and matched, by size and order, against the frames
 * of the replay's WebM (the recording, copied without transcoding); the MP4's frames are
 * counted too. Then how long after the broadcast ends the replay is watchable (`preview`: the
 * WebM) and complete (`ready`: MP4 and HLS). See docs/benchmarks.md.
 */

const execFileAsync = promisify(execFile);

export type VideoCodecName = 'vp8' | 'h264';

export interface RecordingConfig {
  /**
   * The live broadcasts, in order: VP8 of 60 and 600 s (BENCH_RECORDING_SECONDS=60,120 to
   * change, =0 for none), then H.264 of 600 s (BENCH_RECORDING_H264_SECONDS; smoke: none).
   */
  broadcasts: Array<{ codec: VideoCodecName; seconds: number }>;
  /** Finalize alone over synthetic recordings of these lengths (full: 60, 600, 3600; BENCH_RECORDING_FINALIZE_SECONDS). */
  finalizeS: number[];
  /** Repetitions of each (indexed and probed, alternating; full: 2, BENCH_RECORDING_FINALIZE_REPS). */
  finalizeReps: number;
  clip: ClipSpec;
  /** Pause between the last frame forwarded and `broadcast:stop` (lets the recorder write it). */
  drainMs: number;
  /** Steady-state frames lost; VP8 broadcast end → watchable (WebM); H.264 broadcast end → MP4 ready (a remux). */
  targets: { framesLost: number; previewReadyMs: number; h264ReadyMs: number };
}

export interface BroadcastFidelity {
  codec: VideoCodecName;
  seconds: number;
  broadcastId: string;
  /** VP8 frames the broadcaster sent (forwarded to the SFU), from the first to `stop`. */
  framesSent: number;
  /**
   * Start-up: frames sent before the first frame the recording holds — while the record job
   * opened its tap and ffmpeg, and then until the next keyframe (mediasoup forwards from a
   * keyframe; the synthetic broadcaster, a replayed file, cannot answer the keyframe request,
   * a browser would).
   */
  startup: {
    framesBeforeFirstRecorded: number;
    /** First frame sent → first frame recorded (its send time). */
    ms: number;
    /** Broadcast start (`broadcast:start` ack) → the tap's consumers resumed (the recorder listens). */
    tapResumedAfterMs: number | null;
    /** Tap resumed → the first recorded frame was sent (the wait for a keyframe). */
    keyframeWaitMs: number | null;
  };
  /** Steady state: from the first recorded frame (a keyframe) to the last frame sent. */
  steady: {
    framesSent: number;
    /** Frames of that span missing from the WebM (lost in the SFU, the kernel, ffmpeg or the assembly). */
    framesLost: number;
    /** Of those, missing at the end (after the last recorded frame). */
    framesLostAtEnd: number;
    /** WebM frames that matched no sent frame (should be 0). */
    unmatchedRecorded: number;
  };
  webm: { packets: number; decodedFrames: number; durationS: number; keyframes: number };
  /** The MP4 is transcoded at a constant 30 fps: its frames are the recording's span × 30 (gaps held, not dropped). */
  mp4: { packets: number; decodedFrames: number; durationS: number };
  audio: { packetsSent: number; webmPackets: number };
  /** Recorder runs in the replay's timeline (1 unless the tap restarted). */
  runs: number;
  /** Kernel UDP receive-buffer drops over the broadcast (machine-wide). */
  udpRcvbufErrors: number | null;
  /** `broadcast:stop` → the replay watchable (WebM and poster: state `processing` with a WebM). */
  previewReadyMs: number;
  /** `broadcast:stop` → the replay `ready` (MP4, HLS). */
  replayReadyMs: number;
}

export interface RecordingResult extends BenchResult {
  benchmark: 'recording';
  machine: MachineInfo;
  config: RecordingConfig;
  broadcasts: BroadcastFidelity[];
  /** Steady-state frames lost, summed over the broadcasts. */
  framesLost: number;
  /** Worst over the broadcasts (an H.264 replay has no preview step: watchable when ready). */
  previewReadyMs: number;
  replayReadyMs: number;
  /** Worst `ready` (the MP4, a remux) over the H.264 broadcasts; null without one. */
  h264ReadyMs: number | null;
  targetsMet: { framesLost: boolean; previewReady: boolean; h264Ready: boolean | null };
  /** Finalize alone (finalizeScaling.ts): preview time with the recorder's index and without, by length. */
  finalizeScaling: FinalizeScalingPoint[];
}

function recordingConfig(smoke: boolean): RecordingConfig {
  const list = (v: string | undefined) => (v === undefined ? undefined : v.split(',').map(Number).filter((n) => n > 0));
  const vp8 = smoke ? [3] : (list(process.env.BENCH_RECORDING_SECONDS) ?? [60, 600]);
  // H.264 Constrained Baseline, as a browser that encodes it sends it: the MP4 is a remux.
  const h264 = smoke ? [] : (list(process.env.BENCH_RECORDING_H264_SECONDS) ?? [600]);
  const finalizeEnv = list(process.env.BENCH_RECORDING_FINALIZE_SECONDS);
  return {
    broadcasts: [...vp8.map((seconds) => ({ codec: 'vp8' as const, seconds })), ...h264.map((seconds) => ({ codec: 'h264' as const, seconds }))],
    finalizeS: smoke ? [6] : (finalizeEnv ?? [60, 600, 3600]),
    finalizeReps: smoke ? 1 : Math.max(1, Number(process.env.BENCH_RECORDING_FINALIZE_REPS ?? 2) || 2),
    clip: smoke ? SMOKE_CLIP : FULL_CLIP,
    drainMs: 300,
    targets: { framesLost: 0, previewReadyMs: 5000, h264ReadyMs: 10_000 },
  };
}

// What the "browser" declares (ignored: the producers come from the RTP ingest, see below).
const declared: Record<'video' | 'audio', RtpParameters> = {
  video: {
    mid: '0',
    codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] }],
    encodings: [{ ssrc: 4_000_001 }],
    rtcp: { cname: 'bench' },
  },
  audio: {
    mid: '1',
    codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 } }],
    encodings: [{ ssrc: 4_000_002 }],
    rtcp: { cname: 'bench' },
  },
};

/**
 * The broadcaster's WebRTC leg (ICE, DTLS, SRTP) cannot come from ffmpeg. Everything else is
 * Spyglass's own path: the bench goes live through the protocol, and when `Broadcast.produce`
 * asks the broadcaster's WebRtcTransport for a producer, this hands it the ingest producer (a
 * comedia PlainTransport on the same origin router) instead. Spyglass then registers, pipes,
 * taps and records it as any broadcaster's track.
 */
function emulateBroadcasterLeg(app: RunningSpyglass, tapResumes: number[], codec: 'vp8' | 'h264'): { ingest: () => Promise<Ingest>; dispose: () => void } {
  let ingest: Promise<Ingest> | null = null;
  let ready: (i: Promise<Ingest>) => void = () => undefined;
  const ingestReady = new Promise<Ingest>((resolve, reject) => {
    ready = (i) => {
      i.then(resolve, reject);
    };
  });
  const onRouter = (router: ms.Router) => {
    router.observer.on('newtransport', (transport) => {
      if ((transport.appData as { role?: string }).role === 'recording') {
        transport.observer.on('newconsumer', (c) => c.observer.on('resume', () => tapResumes.push(Date.now())));
        return;
      }
      if (!('iceParameters' in transport)) return;
      const t = transport as ms.WebRtcTransport;
      const produce = async (o: ms.ProducerOptions): Promise<ms.Producer> => {
        if (!ingest) {
          ingest = openIngest(router, '127.0.0.1', codec);
          ready(ingest);
        }
        const i = await ingest;
        return o.kind === 'video' ? i.video : i.audio;
      };
      (t as unknown as { produce: typeof produce }).produce = produce;
    });
  };
  for (const w of app.pool.workers) w.worker.observer.on('newrouter', onRouter);
  return { ingest: () => ingestReady, dispose: () => app.pool.workers.forEach((w) => w.worker.observer.off('newrouter', onRouter)) };
}

export async function run(opts: RunOptions): Promise<RecordingResult> {
  const log = opts.log ?? (() => undefined);
  const startedAt = new Date();
  const t0 = performance.now();
  const config = recordingConfig(opts.smoke);
  log(`recording: ${opts.smoke ? 'smoke' : 'full'} run, broadcasts of ${broadcastList(config)} (${config.clip.size} + Opus)`);
  const clips = new Map<VideoCodecName, string>();
  for (const { codec } of config.broadcasts) if (!clips.has(codec)) clips.set(codec, await synthesiseClip({ ...config.clip, codec }));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-bench-recording-'));
  const serverConfig: Config = loadConfig(
    {},
    {
      mode: 'test',
      dataDir,
      logLevel: 'error',
      queuePrefix: testQueuePrefix(),
      http: { host: '127.0.0.1', port: 0 },
      // One media worker: the other core is left to the workers process (ffmpeg).
      mediasoup: { numWorkers: 1, webRtcPort: 0, logLevel: 'warn' },
      limits: BENCH_LIMITS,
    },
  );
  const app = await startSpyglass(serverConfig, createLogger({ level: 'error', name: 'bench-recording' }), path.join(dataDir, 'no-web'));
  let workers: WorkersProcess | undefined;
  try {
    workers = await spawnWorkers(serverConfig);
    const auth = await signUp(app.url, `rec${Date.now().toString(36)}`);
    const broadcasts: BroadcastFidelity[] = [];
    for (const { codec, seconds } of config.broadcasts) {
      broadcasts.push(await recordOne(app, dataDir, auth.token, clips.get(codec)!, codec, seconds, config, log));
      const b = broadcasts.at(-1)!;
      log(
        `recording: ${codecLabel(codec)} ${seconds} s: ${b.framesSent} frames sent, ${b.startup.framesBeforeFirstRecorded} before the first recorded (start-up), ` +
          `${b.steady.framesLost} of ${b.steady.framesSent} lost in steady state; preview after ${b.previewReadyMs} ms, ready after ${b.replayReadyMs} ms`,
      );
    }
    const scaling = await finalizeScaling({ clip: clips.get('vp8') ?? (await synthesiseClip(config.clip)), clipSeconds: config.clip.seconds, lengthsS: config.finalizeS, reps: config.finalizeReps, workDir: dataDir, log });
    const framesLost = broadcasts.reduce((n, b) => n + b.steady.framesLost, 0);
    const previewReadyMs = broadcasts.length > 0 ? Math.max(...broadcasts.map((b) => b.previewReadyMs)) : 0;
    const replayReadyMs = broadcasts.length > 0 ? Math.max(...broadcasts.map((b) => b.replayReadyMs)) : 0;
    const h264 = broadcasts.filter((b) => b.codec === 'h264');
    const h264ReadyMs = h264.length > 0 ? Math.max(...h264.map((b) => b.replayReadyMs)) : null;
    return {
      benchmark: 'recording',
      smoke: opts.smoke,
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - t0),
      machine: machineInfo(),
      config,
      broadcasts,
      framesLost,
      previewReadyMs,
      replayReadyMs,
      h264ReadyMs,
      targetsMet: {
        framesLost: framesLost <= config.targets.framesLost,
        previewReady: previewReadyMs <= config.targets.previewReadyMs,
        h264Ready: h264ReadyMs === null ? null : h264ReadyMs <= config.targets.h264ReadyMs,
      },
      finalizeScaling: scaling,
    };
  } finally {
    await workers?.stop();
    await app.close();
    await dropQueues(serverConfig.redisUrl, serverConfig.queuePrefix).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function recordOne(
  app: RunningSpyglass,
  dataDir: string,
  token: string,
  clip: string,
  codec: VideoCodecName,
  seconds: number,
  config: RecordingConfig,
  log: (l: string) => void,
): Promise<BroadcastFidelity> {
  const tapResumes: number[] = [];
  const leg = emulateBroadcasterLeg(app, tapResumes, codec);
  const socket = await connect(app.url, token);
  let relay: FrameRelay | undefined;
  let sender: ReturnType<typeof startRtpSender> | undefined;
  try {
    const { broadcast } = await ok(socket, 'broadcast:start', { title: `Recording ${seconds} s`, visibility: 'public', invitees: [] });
    const liveAt = Date.now();
    const id = broadcast.id;
    const transport = await ok(socket, 'transport:create', { broadcastId: id });
    for (const kind of ['video', 'audio'] as const) {
      await ok(socket, 'produce', { broadcastId: id, transportId: transport.id, kind, rtpParameters: declared[kind] });
    }
    const ingest = await leg.ingest();
    relay = await FrameRelay.open(ingest.endpoints, VIDEO_PT, codec);
    const udpBefore = udpReceiveErrors();
    sender = startRtpSender(clip, relay.endpoints.video, relay.endpoints.audio);
    // The broadcast lasts `seconds` from its first frame.
    const until = Date.now() + 10_000;
    while (relay.frames.length === 0) {
      if (Date.now() > until) throw new Error(`the broadcaster sent nothing: ${sender.stderrTail() || '(ffmpeg said nothing)'}`);
      await sleep(20);
    }
    const firstAt = relay.frames[0]!.sentAt;
    let nextLog = firstAt + 60_000;
    while (Date.now() < firstAt + seconds * 1000) {
      await sleep(Math.min(1000, firstAt + seconds * 1000 - Date.now()));
      if (Date.now() >= nextLog) {
        log(`recording: ${seconds} s broadcast, ${Math.round((Date.now() - firstAt) / 1000)} s in, ${relay.frames.length} frames sent`);
        nextLog += 60_000;
      }
    }
    await relay.stop();
    await sender.stop();
    const udpAfter = udpReceiveErrors();
    await sleep(config.drainMs);
    const stoppedAt = Date.now();
    await ok(socket, 'broadcast:stop', { broadcastId: id });

    // Replay state, polled in-process every 20 ms.
    let previewAt: number | null = null;
    let readyAt: number | null = null;
    // Only a bound against hanging: the transcode runs at ~0.35× real time on a quiet machine, several times slower on a busy one.
    const deadline = stoppedAt + 120_000 + seconds * 6000;
    for (;;) {
      const r = await app.stores.replays.get(id);
      if (r?.state === 'failed') throw new Error(`the replay failed: ${r.reason ?? '?'}`);
      if (previewAt === null && r?.webm) previewAt = Date.now();
      if (r?.state === 'ready') {
        readyAt = Date.now();
        previewAt ??= readyAt;
        break;
      }
      if (Date.now() > deadline) throw new Error(`replay not ready ${Math.round((deadline - stoppedAt) / 1000)} s after the broadcast ended (state ${r?.state})`);
      await sleep(20);
    }
    const replay = (await app.stores.replays.get(id))!;
    const replayDir = path.join(dataDir, 'replays', id);
    const webmFile = path.join(replayDir, replay.webm ?? 'video.webm');
    const mp4File = path.join(replayDir, replay.mp4?.name ?? 'replay.mp4');
    const noWebm = { packets: 0, frames: 0, durationS: 0 };
    const [webmFrames, webmVideo, webmAudio, mp4Video] = await Promise.all([
      replay.webm ? probeVideoPackets(webmFile) : [],
      replay.webm ? probeCounts(webmFile, 'v:0') : noWebm,
      replay.webm ? probeCounts(webmFile, 'a:0', false) : noWebm,
      probeCounts(mp4File, 'v:0'),
    ]);
    // H.264: no WebM (it cannot hold H.264); the MP4's video is a copy, so its packets are the
    // recorded frames, from the first keyframe sent after the tap resumed (matched by count).
    const match = codec === 'h264' ? countFrames(relay.frames, mp4Video.packets, tapResumes[0] ?? null) : matchFrames(relay.frames, webmFrames, tapResumes[0] ?? null);
    const first = relay.frames[match.offset];
    return {
      codec,
      seconds,
      broadcastId: id,
      framesSent: relay.frames.length,
      startup: {
        framesBeforeFirstRecorded: match.offset,
        ms: first ? first.sentAt - firstAt : 0,
        tapResumedAfterMs: tapResumes[0] !== undefined ? tapResumes[0] - liveAt : null,
        keyframeWaitMs: tapResumes[0] !== undefined && first ? first.sentAt - tapResumes[0] : null,
      },
      steady: {
        framesSent: relay.frames.length - match.offset,
        framesLost: match.lost,
        framesLostAtEnd: match.lostAtEnd,
        unmatchedRecorded: match.unmatched,
      },
      webm: { packets: webmVideo.packets, decodedFrames: webmVideo.frames, durationS: webmVideo.durationS, keyframes: webmFrames.filter((f) => f.key).length },
      mp4: { packets: mp4Video.packets, decodedFrames: mp4Video.frames, durationS: mp4Video.durationS },
      audio: { packetsSent: relay.audioPackets, webmPackets: webmAudio.packets },
      runs: replay.timeline.length,
      udpRcvbufErrors: udpBefore && udpAfter ? udpAfter.rcvbufErrors - udpBefore.rcvbufErrors : null,
      previewReadyMs: previewAt - stoppedAt,
      replayReadyMs: readyAt - stoppedAt,
    };
  } finally {
    leg.dispose();
    await sender?.stop();
    relay?.close();
    socket.close();
  }
}

interface RecordedFrame {
  size: number;
  key: boolean;
  pts: number;
}

/** The video packets of a file, in order: size, keyframe flag, pts (s). No decoding. */
async function probeVideoPackets(file: string): Promise<RecordedFrame[]> {
  const { stdout } = await execFileAsync(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,size,flags', '-of', 'csv=p=0', file],
    { maxBuffer: 256 << 20 },
  );
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pts, size, flags] = line.split(',');
      return { pts: Number(pts), size: Number(size), key: (flags ?? '').startsWith('K') };
    });
}

/** Packets and decoded frames of one stream (`-count_frames` decodes them all), and its duration. */
async function probeCounts(file: string, stream: string, decode = true): Promise<{ packets: number; frames: number; durationS: number }> {
  const { stdout } = await execFileAsync(
    'ffprobe',
    [
      '-v', 'error', '-select_streams', stream, '-count_packets', ...(decode ? ['-count_frames'] : []),
      '-show_entries', 'stream=nb_read_packets,nb_read_frames:format=duration', '-of', 'json', file,
    ],
    { maxBuffer: 16 << 20 },
  );
  const j = JSON.parse(stdout) as { streams?: Array<{ nb_read_packets?: string; nb_read_frames?: string }>; format?: { duration?: string } };
  const s = j.streams?.[0] ?? {};
  return { packets: Number(s.nb_read_packets ?? 0), frames: Number(s.nb_read_frames ?? 0), durationS: round(Number(j.format?.duration ?? 0), 3) };
}

/**
 * Lines the recorded frames up with the sent ones, by size (VP8 frame sizes differ from frame
 * to frame; the clip repeats every few seconds, and the search starts at the tap's resume time,
 * so the right repetition is found). Both lists are walked in order: a sent frame whose size is
 * not the next recorded one's is lost if the recorded frame (and the one after it) turns up
 * within the next 30 sent frames; otherwise the recorded frame is counted as unmatched.
 */
export function matchFrames(
  sent: readonly Pick<SentFrame, 'size' | 'sentAt'>[],
  recorded: readonly Pick<RecordedFrame, 'size'>[],
  resumedAt: number | null,
): { offset: number; lost: number; lostAtEnd: number; unmatched: number } {
  if (recorded.length === 0) return { offset: sent.length, lost: 0, lostAtEnd: 0, unmatched: 0 };
  // Walks both lists from sent[offset] and recorded[0], for at most `limit` recorded frames.
  const walk = (offset: number, limit: number) => {
    let i = offset;
    let j = 0;
    let lost = 0;
    let unmatched = 0;
    while (i < sent.length && j < Math.min(limit, recorded.length)) {
      if (sent[i]!.size === recorded[j]!.size) {
        i++;
        j++;
        continue;
      }
      let found = -1;
      for (let n = i + 1; n < Math.min(sent.length, i + 31); n++) {
        if (sent[n]!.size === recorded[j]!.size && (j + 1 >= recorded.length || n + 1 >= sent.length || sent[n + 1]!.size === recorded[j + 1]!.size)) {
          found = n;
          break;
        }
      }
      if (found >= 0) {
        lost += found - i;
        i = found;
      } else {
        unmatched += 1;
        j++;
      }
    }
    return { i, j, lost, unmatched };
  };
  // The first recorded frame: among the sent frames of its size since the tap resumed, the
  // earliest from which the next 30 recorded frames line up (nearly) without gaps.
  const k = Math.min(30, recorded.length);
  const from = resumedAt === null ? 0 : Math.max(0, sent.findIndex((f) => f.sentAt >= resumedAt - 100));
  let offset = -1;
  let best = { at: from, matched: -1 };
  for (let o = from; o < sent.length; o++) {
    if (sent[o]!.size !== recorded[0]!.size) continue;
    const w = walk(o, k);
    const matched = w.j - w.unmatched - w.lost;
    if (w.unmatched === 0 && w.lost <= 2) {
      offset = o;
      break;
    }
    if (matched > best.matched) best = { at: o, matched };
  }
  if (offset < 0) offset = best.at;
  const { i, j, lost, unmatched: unmatchedInWalk } = walk(offset, recorded.length);
  let unmatched = unmatchedInWalk;
  const lostAtEnd = sent.length - i;
  unmatched += recorded.length - j;
  return { offset, lost: lost + lostAtEnd, lostAtEnd, unmatched };
}

const codecLabel = (codec: VideoCodecName) => (codec === 'h264' ? 'H.264' : 'VP8');
const broadcastList = (c: RecordingConfig) => c.broadcasts.map((b) => `${codecLabel(b.codec)} ${b.seconds} s`).join(', ');

/**
 * For a copied (H.264) recording: the first recorded frame is the first keyframe sent after
 * the tap resumed; the frames sent from there that the MP4 lacks are lost (by count: the
 * MP4's packets sizes are not the RTP payloads', so they cannot be lined up one by one).
 */
function countFrames(
  sent: readonly Pick<SentFrame, 'key' | 'sentAt'>[],
  recorded: number,
  resumedAt: number | null,
): { offset: number; lost: number; lostAtEnd: number; unmatched: number } {
  let offset = sent.findIndex((f) => f.key && (resumedAt === null || f.sentAt >= resumedAt));
  if (offset < 0) offset = sent.length;
  const steady = sent.length - offset;
  return { offset, lost: Math.max(0, steady - recorded), lostAtEnd: 0, unmatched: Math.max(0, recorded - steady) };
}

export function summary(r: RecordingResult): Partial<LatestFigures> {
  return { recording: { framesLost: r.framesLost, previewReadyMs: r.previewReadyMs, replayReadyMs: r.replayReadyMs, h264ReadyMs: r.h264ReadyMs } };
}

export function describe(r: RecordingResult): string[] {
  const lines = r.broadcasts.map(
    (b) =>
      `${codecLabel(b.codec)} ${b.seconds} s broadcast: ${b.framesSent} frames sent; start-up ${b.startup.framesBeforeFirstRecorded} frames (${b.startup.ms} ms; tap resumed ${b.startup.tapResumedAfterMs ?? '?'} ms after going live, then ${b.startup.keyframeWaitMs ?? '?'} ms to a keyframe); ` +
      `steady state ${b.steady.framesLost} of ${b.steady.framesSent} frames lost (${b.steady.framesLostAtEnd} at the end, ${b.steady.unmatchedRecorded} unmatched); ` +
      `WebM ${b.webm.packets} frames (${b.webm.decodedFrames} decoded), MP4 ${b.mp4.packets} packets, ${b.mp4.decodedFrames} frames over ${b.mp4.durationS} s; audio ${b.audio.webmPackets} of ${b.audio.packetsSent} packets; ${b.runs} run(s); ` +
      `preview after ${b.previewReadyMs} ms, ready after ${b.replayReadyMs} ms`,
  );
  const scaling = r.finalizeScaling.map(
    (p) =>
      `finalize only, ${p.seconds} s in ${p.segments} segments: preview ${p.indexedPreviewMs.join(' / ')} ms with the recorder's index, ` +
      `${p.probedPreviewMs.join(' / ')} ms probing every segment (durations ${p.indexedDurationMs} / ${p.probedDurationMs} ms)`,
  );
  return [
    ...lines,
    ...scaling,
    `frames lost in steady state: ${r.framesLost} (target 0: ${r.targetsMet.framesLost ? 'met' : 'NOT met'}); ` +
      `watchable (preview) ≤ ${r.previewReadyMs} ms after the end (target ≤ ${r.config.targets.previewReadyMs} ms: ${r.targetsMet.previewReady ? 'met' : 'NOT met'}); ready ≤ ${r.replayReadyMs} ms` +
      (r.h264ReadyMs === null ? '' : `; H.264 MP4 ready ≤ ${r.h264ReadyMs} ms after the end (target ≤ ${r.config.targets.h264ReadyMs} ms: ${r.targetsMet.h264Ready ? 'met' : 'NOT met'})`),
  ];
}

export function chart(r: RecordingResult): string {
  const x = (b: BroadcastFidelity) => b.seconds;
  const vp8 = r.broadcasts.filter((b) => b.codec === 'vp8');
  const h264 = r.broadcasts.filter((b) => b.codec === 'h264');
  return chartDocument(
    `Recording fidelity: broadcasts of ${broadcastList(r.config)}`,
    `${r.startedAt} · ${r.machine.cores} × ${r.machine.cpuModel} · ${r.framesLost} frames lost in steady state · preview ≤ ${r.previewReadyMs} ms`,
    [
      {
        title: 'Frames',
        xLabel: 'broadcast length (s)',
        yLabel: 'frames',
        series: [
          { name: 'sent (steady state)', points: r.broadcasts.map((b) => [x(b), b.steady.framesSent] as const), style: 'dots' },
          { name: 'in the WebM', points: r.broadcasts.map((b) => [x(b), b.webm.packets] as const), style: 'dots' },
          { name: 'lost', points: r.broadcasts.map((b) => [x(b), b.steady.framesLost] as const), style: 'dots' },
          { name: 'start-up (not recorded)', points: r.broadcasts.map((b) => [x(b), b.startup.framesBeforeFirstRecorded] as const), style: 'dots' },
        ],
      },
      {
        title: 'Replay after the broadcast ends',
        xLabel: 'broadcast length (s)',
        yLabel: 'ms',
        series: [
          { name: 'VP8: preview (watchable)', points: vp8.map((b) => [x(b), b.previewReadyMs] as const), style: 'dots' },
          { name: 'VP8: ready (MP4 transcoded, HLS)', points: vp8.map((b) => [x(b), b.replayReadyMs] as const), style: 'dots' },
          { name: 'H.264: ready (MP4 remuxed, HLS)', points: h264.map((b) => [x(b), b.replayReadyMs] as const), style: 'dots' },
        ],
        hLines: [
          { y: r.config.targets.previewReadyMs, label: 'target: watchable ≤ 5 s' },
          { y: r.config.targets.h264ReadyMs, label: 'target: H.264 MP4 ≤ 10 s' },
        ],
      },
      {
        title: 'Finalize alone: preview after the broadcast, by length',
        xLabel: 'recording length (s)',
        yLabel: 'ms',
        series: [
          { name: 'with the recorder\'s index', points: r.finalizeScaling.flatMap((p) => p.indexedPreviewMs.map((ms) => [p.seconds, ms] as const)), style: 'dots' },
          { name: 'probing every segment', points: r.finalizeScaling.flatMap((p) => p.probedPreviewMs.map((ms) => [p.seconds, ms] as const)), style: 'dots' },
        ],
        hLines: [{ y: r.config.targets.previewReadyMs, label: 'target: watchable ≤ 5 s' }],
      },
    ],
  );
}
