import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runFfmpeg } from '../../../workers/media/ffmpeg.ts';
import { AAC_OUTPUT } from '../../../workers/media/mp4Video.ts';
import { writeRunInfo } from '../../../workers/media/segments.ts';

/** Real media for the media-pipeline tests, made with ffmpeg's test sources. */

export const tmpDir = (prefix: string) => mkdtemp(path.join(os.tmpdir(), `spyglass-${prefix}-`));

/**
 * Writes `seconds` of VP8 or H.264 (640x360 by default, a keyframe every second) + Opus as Matroska
 * segments `seg-%05d.mkv` in `dir`, the way the recorder does (run clock kept: the
 * timestamps start at `startSeconds`, segment numbers at `firstIndex`), and, with `list`,
 * ffmpeg's csv segment list under that name. With `aacList`, the audio also as AAC segments
 * `aac-%05d.mka` listed under that name, as the recorder's second output writes them
 * (recorderArgs `aac`).
 */
export async function writeSegments(
  dir: string,
  opts: {
    seconds: number; segmentSeconds?: number; size?: string; audio?: boolean; startSeconds?: number; firstIndex?: number; list?: string;
    codec?: 'vp8' | 'h264'; aacList?: string;
  },
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const audio = opts.audio ?? true;
  // H.264 as a browser's WebRTC encoder sends it: constrained baseline, no B-frames.
  const video =
    opts.codec === 'h264'
      ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-b:v', '600k', '-g', '30']
      : ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '600k', '-g', '30'];
  await runFfmpeg(
    [
      '-f', 'lavfi', '-i', `testsrc2=size=${opts.size ?? '640x360'}:rate=30`,
      ...(audio ? ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'] : []),
      '-t', String(opts.seconds),
      '-map', '0:v', ...(audio ? ['-map', '1:a'] : []),
      ...video,
      ...(audio ? ['-c:a', 'libopus', '-b:a', '48k'] : []),
      ...(opts.startSeconds ? ['-output_ts_offset', String(opts.startSeconds)] : []),
      '-f', 'segment', '-segment_time', String(opts.segmentSeconds ?? 2), '-segment_format', 'matroska',
      '-reset_timestamps', '0', '-segment_start_number', String(opts.firstIndex ?? 0),
      // ffmpeg's csv segment list, as the recorder writes it (name, start, end).
      ...(opts.list ? ['-segment_list', path.join(dir, opts.list), '-segment_list_type', 'csv'] : []),
      path.join(dir, 'seg-%05d.mkv'),
      ...(audio && opts.aacList
        ? [
          '-t', String(opts.seconds), '-map', '1:a', ...AAC_OUTPUT, '-af', 'aresample=async=1',
          ...(opts.startSeconds ? ['-output_ts_offset', String(opts.startSeconds)] : []),
          '-f', 'segment', '-segment_time', String(opts.segmentSeconds ?? 2), '-segment_format', 'matroska',
          '-reset_timestamps', '0', '-segment_start_number', String(opts.firstIndex ?? 0),
          '-segment_list', path.join(dir, opts.aacList), '-segment_list_type', 'csv',
          path.join(dir, 'aac-%05d.mka'),
        ]
        : []),
    ],
    { timeoutMs: 60_000 },
  );
}

/** A run directory with run.json and segments. */
export async function writeRun(
  recordingDir: string,
  runId: string,
  offsetMs: number,
  segments: Parameters<typeof writeSegments>[1],
): Promise<string> {
  const dir = path.join(recordingDir, runId);
  await writeSegments(dir, segments);
  await writeRunInfo(dir, { runId, offsetMs, startedAt: new Date(1_700_000_000_000 + offsetMs).toISOString() });
  return dir;
}

/** Media time covered by a file's packets: max(pts + duration) − min(pts), in ms. */
export async function packetSpanMs(file: string): Promise<number> {
  const { stdout } = await runFfmpeg(['-v', 'error', '-show_entries', 'packet=pts_time,duration_time', '-of', 'csv=p=0', file], {
    bin: 'ffprobe',
    timeoutMs: 30_000,
  });
  let min = Infinity;
  let max = -Infinity;
  for (const line of stdout.split('\n')) {
    const [pts, dur] = line.split(',').map(Number.parseFloat);
    if (pts === undefined || !Number.isFinite(pts)) continue;
    min = Math.min(min, pts);
    max = Math.max(max, pts + (dur !== undefined && Number.isFinite(dur) ? dur : 0));
  }
  return max > min ? Math.round((max - min) * 1000) : 0;
}

/** Decodes every frame of a file; rejects (FfmpegError) on a decoding error. */
export async function decodeAll(file: string): Promise<void> {
  await runFfmpeg(['-xerror', '-i', file, '-f', 'null', '-'], { timeoutMs: 60_000 });
}

/**
 * A sender like the SFU's PlainTransport: VP8 (payload type 96) or H.264 (102, constrained
 * baseline, packetization mode 1), a keyframe every 2 s, and Opus (111) over SRTP
 * (AES_CM_128_HMAC_SHA1_80 with the given keys) to 127.0.0.1 in real time, for `seconds`
 * (default: until killed).
 */
export function startSender(opts: {
  videoPort: number;
  audioPort: number;
  keys: { video: string; audio: string };
  seconds?: number;
  codec?: 'vp8' | 'h264';
}): ChildProcess {
  const video =
    opts.codec === 'h264'
      ? ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-payload_type', '102']
      : ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '600k', '-payload_type', '96'];
  const t = opts.seconds ? ['-t', String(opts.seconds)] : [];
  const srtp = (port: number, key: string) => [
    '-srtp_out_suite', 'AES_CM_128_HMAC_SHA1_80', '-srtp_out_params', key, `srtp://127.0.0.1:${port}?rtcpport=${port + 1}&pkt_size=1200`,
  ];
  return spawn(
    'ffmpeg',
    [
      '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
      '-re', ...t, '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
      '-re', ...t, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-map', '0:v', ...video, '-g', '60', '-keyint_min', '60', '-ssrc', '1111', '-f', 'rtp', ...srtp(opts.videoPort, opts.keys.video),
      '-map', '1:a', '-c:a', 'libopus', '-b:a', '48k', '-payload_type', '111', '-ssrc', '2222', '-f', 'rtp', ...srtp(opts.audioPort, opts.keys.audio),
    ],
    { stdio: 'ignore' },
  );
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves when `p` settles or after `ms`, telling which. */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
