/**
 * How the replay's MP4 gets its video: by copy (remux) when every run was recorded in H.264,
 * else by transcoding to H.264 (assemble.ts, transcodeArgs). The codec is derived from the
 * recording itself (the streams ffprobe finds in each run), so finalize needs no database
 * column and a recording made before H.264 broadcasts existed is handled as it always was.
 *
 * Remuxing keeps the broadcaster's frames as sent: its frame size (also when mediasoup
 * switched simulcast layers mid-run: WebRTC repeats SPS/PPS before every keyframe, so the
 * stream carries each size's parameter sets in-band), its frame rate and its keyframes
 * (the SFU asks for one every 2 s while recording, so HLS still cuts every ~2–4 s). Only the
 * audio (Opus, which MP4 players outside browsers do not all play) is encoded to AAC, ~1 %
 * of a video transcode's work. See docs/recording.md ("The MP4: remux or transcode").
 */

/**
 * The MP4's audio: AAC 48 kHz stereo at 128 kbit/s, with ffmpeg's fast coder. The audio encode
 * is the critical path of an H.264 replay (its video is copied): 600 s of Opus took 10.6–12.2 s
 * of CPU with the default coder (twoloop) and 5.3 s with `fast` (2 interleaved runs on the
 * development VM, docs/recording.md); the quality difference at 128 kbit/s is not what a
 * replay of a live broadcast is judged by.
 */
export const AAC_OUTPUT: readonly string[] = ['-c:a', 'aac', '-aac_coder', 'fast', '-b:a', '128k', '-ar', '48000', '-ac', '2'];

const THREAD_QUEUE = ['-thread_queue_size', '1024'];

/** 'copy': every run's video is H.264 and is copied; 'transcode': libx264 re-encodes it. */
export type Mp4Video = 'copy' | 'transcode';
/**
 * The MP4's audio. 'copy': every run's audio is the AAC the recorder encoded while recording
 * (recorderArgs `aac`, H.264 runs), copied; 'encode': encoded from the recorded Opus at
 * finalize (VP8, recordings made before the recorder wrote AAC, runs without audio);
 * 'mixed': some runs each way.
 */
export type Mp4Audio = 'copy' | 'encode' | 'mixed';

/** A run as the assembler knows it: its stream codecs in order (e.g. 'h264,opus') and length. */
export interface RunStreams {
  /** Codec names in stream order, as ffprobe names them ('h264', 'vp8', 'opus', ...). */
  layout: string;
  durationMs: number;
  hasAudio: boolean;
  video: { width: number; height: number } | null;
}

/**
 * 'copy' when every run has exactly one video stream, H.264, and at most one audio stream;
 * otherwise 'transcode' (VP8 broadcasts, a run without video — it needs black frames
 * encoded —, or runs that mix codecs after the broadcaster's tracks changed).
 */
export function mp4Video(runs: readonly RunStreams[]): Mp4Video {
  if (runs.length === 0) return 'transcode';
  const copyable = runs.every((r) => {
    const codecs = r.layout.split(',');
    const video = codecs.filter((c) => ['h264', 'vp8', 'vp9', 'av1', 'hevc'].includes(c));
    return r.video !== null && video.length === 1 && video[0] === 'h264' && codecs.length - video.length <= 1;
  });
  return copyable ? 'copy' : 'transcode';
}

/**
 * ffmpeg argv that turns one H.264 run (read by `input`, e.g. `['-i', run.mkv]`) into an
 * MPEG-TS part of its duration with the video copied: the same part transcodeArgs writes
 * for other runs, so the parts are joined and cut into HLS the same way. With `aacInput` (the
 * AAC the recorder encoded while recording, on the run's clock) the audio is copied too: no
 * encode at all. Otherwise the audio is encoded to AAC 48 kHz stereo with gaps filled with
 * silence (`aresample=async=1`, as for a transcode); a run without audio gets silence.
 */
export function remuxPartArgs(
  input: readonly string[],
  run: Pick<RunStreams, 'durationMs' | 'hasAudio'>,
  out: string,
  aacInput: readonly string[] | null = null,
): string[] {
  if (!Number.isFinite(run.durationMs) || run.durationMs <= 0) throw new Error(`run duration must be > 0 ms, got ${run.durationMs}`);
  const inputs = [...input];
  const outputs = ['-map', '0:v:0', '-c:v', 'copy'];
  if (aacInput) {
    // Two inputs: ffmpeg reads each on its own thread, handing packets over a queue of 8 by
    // default; with 1024 an hour of H.264 + AAC reads in 4.4 s instead of 5.4 s (1.8 s for the
    // video alone: the hand-overs still cost the rest, docs/recording.md).
    inputs.unshift(...THREAD_QUEUE);
    inputs.push(...THREAD_QUEUE, ...aacInput);
    outputs.push('-map', '1:a:0', '-c:a', 'copy');
    return [...inputs, ...outputs, '-t', (run.durationMs / 1000).toFixed(3), '-f', 'mpegts', out];
  }
  if (run.hasAudio) {
    outputs.push('-map', '0:a:0', '-af', 'aresample=async=1:first_pts=0,apad');
  } else {
    inputs.push('-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=stereo');
    outputs.push('-map', '1:a:0');
  }
  outputs.push(...AAC_OUTPUT);
  return [...inputs, ...outputs, '-t', (run.durationMs / 1000).toFixed(3), '-f', 'mpegts', out];
}
