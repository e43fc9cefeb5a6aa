import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { types as ms } from 'mediasoup';
import type { RtpParameters } from '../common/protocol/media.ts';

/**
 * The synthetic broadcaster of the benchmarks: ffmpeg encodes a short VP8 + Opus clip from
 * its test sources once (cached in the temp directory), then replays it in a loop, in real
 * time, as RTP with `-c copy`. Encoding live would cost a core on the machine under test;
 * replaying costs ~1 % of one. The encode is deterministic (libvpx `-deadline good`, one
 * thread, bit-exact muxing: the same bytes on every machine and run); libvpx's realtime mode
 * adapts to the wall clock, and its clips differed by up to 28 % in packets per second
 * between runs.
 */

export interface ClipSpec {
  seconds: number;
  size: string;
  fps: number;
  videoKbps: number;
  /** Keyframe interval in frames. */
  gop: number;
  audioKbps: number;
  /** Video codec, VP8 by default; 'h264': Constrained Baseline as browsers send it, in MPEG-TS (SPS/PPS with every keyframe, as WebRTC sends them). */
  codec?: 'vp8' | 'h264';
}

/**
 * ~1 Mbit/s: 720p30 VP8 at 900 kbit/s CBR, a keyframe every 2 s, Opus stereo at 64 kbit/s.
 * 5 s long: any 5 s window of the loop carries the same packets.
 */
export const FULL_CLIP: ClipSpec = { seconds: 5, size: '1280x720', fps: 30, videoKbps: 900, gop: 60, audioKbps: 64 };
/** Smoke tests: small and quick to encode, a keyframe every 0.5 s so viewers start at once. */
export const SMOKE_CLIP: ClipSpec = { seconds: 2, size: '320x180', fps: 30, videoKbps: 300, gop: 15, audioKbps: 32 };

/** Payload types and SSRCs the sender uses, and that the ingest producers declare. */
export const VIDEO_PT = 101;
export const AUDIO_PT = 100;
export const VIDEO_SSRC = 22222222;
export const AUDIO_SSRC = 11111111;

/** Returns the path of the encoded clip, encoding it on first use. */
export async function synthesiseClip(spec: ClipSpec): Promise<string> {
  const dir = path.join(os.tmpdir(), 'spyglass-bench');
  mkdirSync(dir, { recursive: true });
  const h264 = spec.codec === 'h264';
  const name = `clip-${spec.size}-${spec.fps}fps-${spec.seconds}s-v${spec.videoKbps}-g${spec.gop}-a${spec.audioKbps}-good${h264 ? '-h264.ts' : '.webm'}`;
  const file = path.join(dir, name);
  if (existsSync(file)) return file;
  // Encoded under a unique name and renamed: parallel test processes never read half a file.
  const tmp = path.join(dir, `${process.pid}-${Date.now()}-${name}`);
  const kbps = `${spec.videoKbps}k`;
  await promisify(execFile)(
    'ffmpeg',
    [
      '-hide_banner', '-nostdin', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', `testsrc2=size=${spec.size}:rate=${spec.fps}`,
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', String(spec.seconds),
      '-map', '0:v', '-map', '1:a',
      ...(h264
        ? ['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-level', '3.1', '-pix_fmt', 'yuv420p']
        : ['-c:v', 'libvpx', '-deadline', 'good', '-cpu-used', '4', '-threads', '1']),
      '-b:v', kbps, '-minrate', kbps, '-maxrate', kbps, '-bufsize', kbps,
      '-g', String(spec.gop), '-keyint_min', String(spec.gop),
      '-c:a', 'libopus', '-b:a', `${spec.audioKbps}k`, '-ac', '2',
      '-fflags', '+bitexact', '-flags:v', '+bitexact', '-flags:a', '+bitexact',
      ...(h264 ? ['-f', 'mpegts'] : []),
      tmp,
    ],
    { timeout: 120_000 },
  );
  renameSync(tmp, file);
  return file;
}

/** Where the sender sends one track: RTP and RTCP ports on one IP. */
export interface RtpEndpoint {
  ip: string;
  port: number;
  rtcpPort: number;
}

export interface RtpSender {
  readonly pid: number;
  /** The last lines ffmpeg wrote on stderr (for error messages). */
  stderrTail(): string;
  stop(): Promise<void>;
}

/** Replays `clip` in a loop as VP8 (or H.264) and Opus RTP to two endpoints, in real time, until stopped. */
export function startRtpSender(clip: string, video: RtpEndpoint, audio: RtpEndpoint): RtpSender {
  const url = (e: RtpEndpoint) => `rtp://${e.ip}:${e.port}?rtcpport=${e.rtcpPort}&pkt_size=1200`;
  const child: ChildProcess = spawn(
    'ffmpeg',
    [
      '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
      '-re', '-stream_loop', '-1', '-i', clip,
      '-map', '0:v', '-c', 'copy', '-payload_type', String(VIDEO_PT), '-ssrc', String(VIDEO_SSRC), '-f', 'rtp', url(video),
      '-map', '0:a', '-c', 'copy', '-payload_type', String(AUDIO_PT), '-ssrc', String(AUDIO_SSRC), '-f', 'rtp', url(audio),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const tail: string[] = [];
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    tail.push(...chunk.split('\n').filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - 20));
  });
  child.on('error', (err) => tail.push(`ffmpeg: ${err.message}`));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid: child.pid ?? -1,
    stderrTail: () => tail.join('\n'),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The producers' RTP parameters matching {@link startRtpSender} for an H.264 clip (ffmpeg's RTP muxer: packetization-mode 1). */
export const h264VideoProducerRtpParameters = {
  codecs: [
    {
      mimeType: 'video/H264',
      payloadType: VIDEO_PT,
      clockRate: 90000,
      parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
      rtcpFeedback: [{ type: 'nack', parameter: '' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
    },
  ],
  encodings: [{ ssrc: VIDEO_SSRC }],
} satisfies ms.RtpParameters & RtpParameters;

/**
 * The producers' RTP parameters matching {@link startRtpSender}: mediasoup's type (an ingest of
 * its own) and the wire's (`Broadcast.produceRtp`); an absent feedback parameter is '', as
 * mediasoup reads it.
 */
export const videoProducerRtpParameters = {
  codecs: [
    {
      mimeType: 'video/VP8',
      payloadType: VIDEO_PT,
      clockRate: 90000,
      rtcpFeedback: [{ type: 'nack', parameter: '' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
    },
  ],
  encodings: [{ ssrc: VIDEO_SSRC }],
} satisfies ms.RtpParameters & RtpParameters;

export const audioProducerRtpParameters = {
  codecs: [{ mimeType: 'audio/opus', payloadType: AUDIO_PT, clockRate: 48000, channels: 2, parameters: { 'sprop-stereo': 1 } }],
  encodings: [{ ssrc: AUDIO_SSRC }],
} satisfies ms.RtpParameters & RtpParameters;

/** An ingest: two comedia PlainTransports (RTP and RTCP on separate ports, as ffmpeg sends) and their producers. */
export interface Ingest {
  video: ms.Producer;
  audio: ms.Producer;
  endpoints: { video: RtpEndpoint; audio: RtpEndpoint };
  close(): void;
}

/**
 * Opens the ingest of the synthetic broadcaster on `router`. Its sockets get the OS default
 * receive buffer, like Spyglass's WebRtcServer sockets; BENCH_INGEST_RCVBUF=<bytes> asks for
 * another size (capped by net.core.rmem_max), to see what the default costs.
 */
export async function openIngest(router: ms.Router, ip = '127.0.0.1', codec: 'vp8' | 'h264' = 'vp8'): Promise<Ingest> {
  const transports: ms.PlainTransport[] = [];
  const recvBufferSize = Number(process.env.BENCH_INGEST_RCVBUF) || undefined;
  try {
    const open = async (kind: 'video' | 'audio') => {
      const transport = await router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip, ...(recvBufferSize ? { recvBufferSize } : {}) },
        rtcpMux: false,
        comedia: true,
        appData: { role: 'bench-ingest' },
      });
      transports.push(transport);
      const producer = await transport.produce({
        kind,
        rtpParameters: kind === 'video' ? (codec === 'h264' ? h264VideoProducerRtpParameters : videoProducerRtpParameters) : audioProducerRtpParameters,
      });
      const rtcpPort = transport.rtcpTuple?.localPort;
      if (rtcpPort === undefined) throw new Error('ingest transport has no RTCP port');
      return { producer, endpoint: { ip, port: transport.tuple.localPort, rtcpPort } };
    };
    const video = await open('video');
    const audio = await open('audio');
    return {
      video: video.producer,
      audio: audio.producer,
      endpoints: { video: video.endpoint, audio: audio.endpoint },
      close: () => transports.forEach((t) => t.close()),
    };
  } catch (error) {
    transports.forEach((t) => t.close());
    throw error;
  }
}

/** RTP packets a producer has received so far (its inbound stream's counter). */
export async function producerPackets(producer: ms.Producer): Promise<number> {
  const stats = await producer.getStats();
  return stats.reduce((sum, s) => sum + (s.type === 'inbound-rtp' ? s.packetCount : 0), 0);
}

/** An ffmpeg RTMP encoder (OBS's part in the ingest tests and benchmarks): synthetic H.264 + AAC as FLV over RTMP. */
export interface RtmpEncoder {
  readonly pid: number;
  /** Resolves when ffmpeg exits: its exit code (null when killed) and the last lines it wrote. */
  readonly exited: Promise<{ code: number | null; stderr: string }>;
  /** Stops the way OBS's "Stop Streaming" does: ffmpeg ends its output, unpublishing (SIGINT). */
  unpublish(): Promise<void>;
  /** Kills ffmpeg (a lost connection: no unpublish). Idempotent. */
  kill(): Promise<void>;
}

export interface RtmpEncoderOptions {
  /** Keyframe interval in frames at 30 fps (default 30: one a second). */
  gop?: number;
  /** Default 'h264' (x264 baseline, no B-frames); 'flv1': Sorenson H.263, a codec the ingest refuses. */
  videoCodec?: 'h264' | 'flv1';
  /** x264 profile (default baseline). */
  profile?: 'baseline' | 'main' | 'high';
  /** B-frames between references (default 0; needs a profile above baseline). */
  bframes?: number;
  /** No video track at all. */
  audioOnly?: boolean;
  size?: string;
}

/** Every RTMP encoder started and not yet exited: {@link killRtmpEncoders} ends them (test clean-up, even on failure). */
const rtmpEncoders = new Set<RtmpEncoder>();

/** Starts ffmpeg sending a live synthetic stream, in real time, to `url` (`rtmp://host:port/live/<key>`). */
export function startRtmpEncoder(url: string, o: RtmpEncoderOptions = {}): RtmpEncoder {
  const video =
    o.videoCodec === 'flv1'
      ? ['-c:v', 'flv', '-g', String(o.gop ?? 30)]
      : ['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', o.profile ?? 'baseline', '-pix_fmt', 'yuv420p', '-g', String(o.gop ?? 30), '-keyint_min', String(o.gop ?? 30), '-bf', String(o.bframes ?? 0), '-b:v', '600k'];
  const child = spawn(
    'ffmpeg',
    [
      '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
      ...(o.audioOnly ? [] : ['-re', '-f', 'lavfi', '-i', `testsrc2=size=${o.size ?? '320x240'}:rate=30`]),
      '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
      ...(o.audioOnly ? ['-map', '0:a'] : ['-map', '0:v', '-map', '1:a', ...video]),
      '-c:a', 'aac', '-b:a', '96k', '-ac', '2',
      '-f', 'flv', url,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const tail: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    tail.push(...chunk.split('\n').filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - 20));
  });
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => {
    child.once('close', (code) => {
      rtmpEncoders.delete(encoder);
      resolve({ code, stderr: tail.join('\n') });
    });
    child.once('error', (err) => tail.push(`spawn: ${err.message}`));
  });
  const signal = async (s: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(s);
    await exited;
  };
  const encoder: RtmpEncoder = {
    pid: child.pid ?? -1,
    exited,
    unpublish: () => signal('SIGINT'),
    kill: () => signal('SIGKILL'),
  };
  rtmpEncoders.add(encoder);
  return encoder;
}

/** Kills every RTMP encoder still running (afterEach/afterAll). */
export async function killRtmpEncoders(): Promise<void> {
  await Promise.all([...rtmpEncoders].map((e) => e.kill()));
}
