import { execFile } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { types as ms } from 'mediasoup';
import { createLogger } from '../../common/logger.ts';
import type { Broadcast } from '../../sfu/index.ts';
import {
  FULL_CLIP,
  SMOKE_CLIP,
  VIDEO_PT,
  audioProducerRtpParameters,
  h264VideoProducerRtpParameters,
  startRtpSender,
  synthesiseClip,
  videoProducerRtpParameters,
  type ClipSpec,
} from '../../testkit/media.ts';
import { connect, ok, signUp, startTestServer, type TestServer } from '../../testkit/server.ts';
import { spawnWorkers, type WorkersProcess } from '../../testkit/workers.ts';
import { round, udpReceiveErrors } from '../lib/proc.ts';
import { chartDocument } from '../lib/svg.ts';
import type { BenchBody, BenchResult, LatestFigures, RunOptions } from '../types.ts';
import { FrameRelay, type SentFrame } from './frameRelay.ts';
import { finalizeScaling, h264FinalizeScaling, type FinalizeScalingPoint, type H264FinalizePoint } from './finalizeScaling.ts';

/**
 * Recording fidelity: a real Spyglass (signalling, mediasoup) and the real workers process
 * (record and finalize jobs, ffmpeg) record a broadcast from the synthetic broadcaster; every
 * VP8 frame sent is counted on the way in and matched, by size and order, against the frames
 * of the replay's WebM (the recording, copied without transcoding); the MP4's frames are
 * counted too. Then how long after the broadcast ends the replay is watchable (`preview`: the
 * WebM of a VP8 broadcast, the MP4 with Opus of an H.264 one) and complete (`ready`: MP4 and HLS). See docs/benchmarks.md.
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
  /**
   * H.264 finalize alone over synthetic recordings of these lengths, with the AAC recorded
   * alongside and without it (full: 60, 600, 3600; BENCH_RECORDING_H264_FINALIZE_SECONDS, =0 for none; smoke: 6).
   */
  h264FinalizeS: number[];
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
  /** `broadcast:stop` → the replay watchable (its preview and poster: state `processing` with a WebM or an MP4 with Opus). */
  previewReadyMs: number;
  /** `broadcast:stop` → the replay `ready` (MP4, HLS). */
  replayReadyMs: number;
}

export interface RecordingResult extends BenchResult<'recording', RecordingConfig> {
  broadcasts: BroadcastFidelity[];
  /** Steady-state frames lost, summed over the broadcasts. */
  framesLost: number;
  /** Worst over the broadcasts (VP8: the WebM; H.264: the MP4 with Opus). */
  previewReadyMs: number;
  replayReadyMs: number;
  /** Worst `ready` (the MP4, a remux) over the H.264 broadcasts; null without one. */
  h264ReadyMs: number | null;
  targetsMet: { framesLost: boolean; previewReady: boolean; h264Ready: boolean | null };
  /** Finalize alone (finalizeScaling.ts): preview time with the recorder's index and without, by length. */
  finalizeScaling: FinalizeScalingPoint[];
  /** H.264 finalize alone (finalizeScaling.ts): MP4 and `ready` with the recorded AAC copied and with the audio encoded, by length. */
  h264FinalizeScaling: H264FinalizePoint[];
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
    h264FinalizeS: smoke ? [6] : (list(process.env.BENCH_RECORDING_H264_FINALIZE_SECONDS) ?? [60, 600, 3600]),
    clip: smoke ? SMOKE_CLIP : FULL_CLIP,
    drainMs: 300,
    targets: { framesLost: 0, previewReadyMs: 5000, h264ReadyMs: 10_000 },
  };
}

/**
 * The recording tap's consumers of the broadcast on `media`'s origin router resumed at these
 * times (the recorder listens from then on): watched through mediasoup's observer.
 */
function watchTapResumes(media: Broadcast, tapResumes: number[]): () => void {
  const origin = media.routers[0]?.router;
  if (!origin) throw new Error('the broadcast has no origin router');
  const onTransport = (transport: ms.Transport) => {
    if ((transport.appData as { role?: string }).role !== 'recording') return;
    transport.observer.on('newconsumer', (c) => c.observer.on('resume', () => tapResumes.push(Date.now())));
  };
  origin.observer.on('newtransport', onTransport);
  return () => origin.observer.off('newtransport', onTransport);
}

export async function run(opts: RunOptions): Promise<BenchBody<RecordingResult>> {
  const log = opts.log ?? (() => undefined);
  const config = recordingConfig(opts.smoke);
  log(`recording: ${opts.smoke ? 'smoke' : 'full'} run, broadcasts of ${broadcastList(config)} (${config.clip.size} + Opus)`);
  const clips = new Map<VideoCodecName, string>();
  for (const { codec } of config.broadcasts) if (!clips.has(codec)) clips.set(codec, await synthesiseClip({ ...config.clip, codec }));
  const app = await startTestServer(
    {
      logLevel: 'error',
      http: { host: '127.0.0.1' },
      // One media worker: the other core is left to the workers process (ffmpeg).
      mediasoup: { numWorkers: 1, logLevel: 'warn' },
    },
    { logger: createLogger({ level: 'error', name: 'bench-recording' }) },
  );
  const dataDir = app.dataDir;
  let workers: WorkersProcess | undefined;
  try {
    workers = await spawnWorkers(app.config);
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
    const h264Clip = config.h264FinalizeS.length > 0 ? (clips.get('h264') ?? (await synthesiseClip({ ...config.clip, codec: 'h264' }))) : null;
    const h264Scaling = h264Clip
      ? await h264FinalizeScaling({ clip: h264Clip, clipSeconds: config.clip.seconds, lengthsS: config.h264FinalizeS, reps: config.finalizeReps, workDir: dataDir, log })
      : [];
    const framesLost = broadcasts.reduce((n, b) => n + b.steady.framesLost, 0);
    const previewReadyMs = broadcasts.length > 0 ? Math.max(...broadcasts.map((b) => b.previewReadyMs)) : 0;
    const replayReadyMs = broadcasts.length > 0 ? Math.max(...broadcasts.map((b) => b.replayReadyMs)) : 0;
    const h264 = broadcasts.filter((b) => b.codec === 'h264');
    const h264ReadyMs = h264.length > 0 ? Math.max(...h264.map((b) => b.replayReadyMs)) : null;
    return {
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
      h264FinalizeScaling: h264Scaling,
    };
  } finally {
    await workers?.stop();
    await app.stop();
  }
}

async function recordOne(
  app: TestServer,
  dataDir: string,
  token: string,
  clip: string,
  codec: VideoCodecName,
  seconds: number,
  config: RecordingConfig,
  log: (l: string) => void,
): Promise<BroadcastFidelity> {
  const tapResumes: number[] = [];
  let unwatch: (() => void) | undefined;
  const socket = await connect(app.url, token);
  let relay: FrameRelay | undefined;
  let sender: ReturnType<typeof startRtpSender> | undefined;
  try {
    const { broadcast } = await ok(socket, 'broadcast:start', { title: `Recording ${seconds} s`, visibility: 'public', invitees: [] });
    const liveAt = Date.now();
    const id = broadcast.id;
    // The broadcaster's tracks come as plain RTP (ffmpeg cannot do WebRTC's ICE, DTLS and SRTP);
    // from there on everything is Spyglass's own path: the producers are the broadcast's, tapped
    // and recorded like any broadcaster's.
    const media = app.live.onAir(id)?.media;
    if (!media) throw new Error(`broadcast ${id} is not on air`);
    unwatch = watchTapResumes(media, tapResumes);
    const video = await media.produceRtp({ kind: 'video', rtpParameters: codec === 'h264' ? h264VideoProducerRtpParameters : videoProducerRtpParameters });
    const audio = await media.produceRtp({ kind: 'audio', rtpParameters: audioProducerRtpParameters });
    relay = await FrameRelay.open({ video: video.rtp, audio: audio.rtp }, VIDEO_PT, codec);
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
      if (previewAt === null && (r?.webm || r?.videoMp4)) previewAt = Date.now();
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
    unwatch?.();
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
  const seconds = Math.max(0, ...r.finalizeScaling.map((p) => p.seconds), ...r.h264FinalizeScaling.map((p) => p.seconds));
  const worst = (ms: number[] | undefined) => (ms && ms.length > 0 ? Math.max(...ms) : null);
  const longestFinalizePreview =
    seconds > 0
      ? {
          seconds,
          vp8Ms: worst(r.finalizeScaling.find((p) => p.seconds === seconds)?.indexedPreviewMs),
          h264Ms: worst(r.h264FinalizeScaling.find((p) => p.seconds === seconds)?.previewMs),
        }
      : null;
  return { recording: { framesLost: r.framesLost, previewReadyMs: r.previewReadyMs, replayReadyMs: r.replayReadyMs, h264ReadyMs: r.h264ReadyMs, longestFinalizePreview } };
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
  const h264Scaling = r.h264FinalizeScaling.map(
    (p) =>
      `H.264 finalize only, ${p.seconds} s in ${p.segments} segments (+${p.aacSegments} AAC): preview ${p.previewMs.join(' / ')} ms, MP4 ${p.aacCopiedMp4Ms.join(' / ')} ms, ready ${p.aacCopiedReadyMs.join(' / ')} ms with the AAC recorded alongside copied (${p.audio.aacCopied}); ` +
      `MP4 ${p.encodedMp4Ms.join(' / ')} ms, ready ${p.encodedReadyMs.join(' / ')} ms encoding the audio at finalize (${p.audio.encoded})`,
  );
  return [
    ...lines,
    ...scaling,
    ...h264Scaling,
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
          { name: 'H.264: preview (watchable)', points: h264.map((b) => [x(b), b.previewReadyMs] as const), style: 'dots' },
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
          { name: 'H.264 (MP4 with Opus), with the index', points: r.h264FinalizeScaling.flatMap((p) => p.previewMs.map((ms) => [p.seconds, ms] as const)), style: 'dots' },
        ],
        hLines: [{ y: r.config.targets.previewReadyMs, label: 'target: watchable ≤ 5 s' }],
      },
    ],
  );
}
