import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { assembleReplay } from '../../workers/media/assemble.ts';
import { AAC_OUTPUT } from '../../workers/media/mp4Video.ts';
import { AAC_SEGMENT_LIST, RUN_INDEX, SEGMENT_LIST, parseSegmentList, writeRunIndex } from '../../workers/media/runIndex.ts';
import { writeRunInfo } from '../../workers/media/segments.ts';

/**
 * Finalize alone, over synthetic recordings of any length: how long from the start of the
 * finalize's media pipeline (`assembleReplay`) to its preview (WebM + poster), with the
 * recorder's segment index and without it (the repair path: every segment probed, the run
 * remuxed, then the WebM — what finalize did for every recording before the index).
 *
 * The recording is the benchmark's clip (720p30 VP8 900 kbit/s + Opus 64 kbit/s) looped by
 * ffmpeg with `-c copy` into the recorder's segments (the segment muxer's options of
 * recorderArgs.ts: Matroska, 4 s, `-segment_time_delta 0.05`, run clock kept, csv list),
 * faster than real time: an hour takes seconds. Finalize sees only files, so what it does with
 * them does not depend on how fast they were written; the live part (ffmpeg writing the list
 * and the recorder storing the index as it records) is measured by the real broadcasts.
 * The index is made from ffmpeg's list as SegmentUploader makes it.
 */

const execFileAsync = promisify(execFile);

export interface FinalizeScalingPoint {
  seconds: number;
  segments: number;
  /** Preview with the index (one probe, one copy pass), per repetition. */
  indexedPreviewMs: number[];
  /** Preview without it (the repair path), per repetition. */
  probedPreviewMs: number[];
  /** The two previews' durations (they must agree). */
  indexedDurationMs: number;
  probedDurationMs: number;
}

async function writeSyntheticRun(clip: string, clipSeconds: number, seconds: number, runDir: string): Promise<number> {
  await mkdir(runDir, { recursive: true });
  await execFileAsync(
    'nice',
    [
      '-n', '10', 'ffmpeg', '-hide_banner', '-nostdin', '-loglevel', 'error', '-y',
      '-stream_loop', String(Math.ceil(seconds / clipSeconds) - 1), '-i', clip, '-t', String(seconds),
      '-map', '0', '-c', 'copy',
      '-f', 'segment', '-segment_time', '4', '-segment_time_delta', '0.05', '-segment_format', 'matroska',
      '-reset_timestamps', '0', '-segment_list', path.join(runDir, SEGMENT_LIST), '-segment_list_type', 'csv',
      path.join(runDir, 'seg-%05d.mkv'),
    ],
    { timeout: 600_000 },
  );
  await writeRunInfo(runDir, { runId: path.basename(runDir), offsetMs: 1000, startedAt: new Date().toISOString() });
  return (await readdir(runDir)).filter((f) => f.endsWith('.mkv')).length;
}

/** Time to `onPreview`; the rest (the MP4 transcode) is aborted. */
async function timePreview(recordingDir: string, replayDir: string): Promise<{ ms: number; durationMs: number }> {
  const ac = new AbortController();
  const t0 = performance.now();
  let result: { ms: number; durationMs: number } | undefined;
  await assembleReplay({
    recordingDir,
    replayDir,
    signal: ac.signal,
    onPreview: async (o) => {
      result = { ms: Math.round(performance.now() - t0), durationMs: o.durationMs };
      ac.abort();
    },
  }).catch((err: unknown) => {
    if (!result) throw err;
  });
  if (!result) throw new Error('no preview');
  await rm(replayDir, { recursive: true, force: true });
  return result;
}

export async function finalizeScaling(opts: { clip: string; clipSeconds: number; lengthsS: number[]; reps: number; workDir: string; log: (l: string) => void }): Promise<FinalizeScalingPoint[]> {
  const points: FinalizeScalingPoint[] = [];
  for (const seconds of opts.lengthsS) {
    const recordingDir = path.join(opts.workDir, `finalize-${seconds}`);
    const runDir = path.join(recordingDir, 'r0000000001000-0000');
    const segments = await writeSyntheticRun(opts.clip, opts.clipSeconds, seconds, runDir);
    const index = { version: 1 as const, segments: parseSegmentList(await readFile(path.join(runDir, SEGMENT_LIST), 'utf8')) };
    const point: FinalizeScalingPoint = { seconds, segments, indexedPreviewMs: [], probedPreviewMs: [], indexedDurationMs: 0, probedDurationMs: 0 };
    // Alternating, so that whatever else the machine does falls on both alike.
    for (let rep = 0; rep < opts.reps; rep++) {
      for (const withIndex of rep % 2 === 0 ? [true, false] : [false, true]) {
        if (withIndex) await writeRunIndex(runDir, index);
        else await rm(path.join(runDir, RUN_INDEX), { force: true });
        const r = await timePreview(recordingDir, path.join(opts.workDir, 'replay'));
        (withIndex ? point.indexedPreviewMs : point.probedPreviewMs).push(r.ms);
        if (withIndex) point.indexedDurationMs = r.durationMs;
        else point.probedDurationMs = r.durationMs;
      }
    }
    opts.log(`recording: finalize-only, ${seconds} s in ${segments} segments: preview with the index ${point.indexedPreviewMs.join(', ')} ms, probing ${point.probedPreviewMs.join(', ')} ms`);
    points.push(point);
    await rm(recordingDir, { recursive: true, force: true });
  }
  return points;
}

export interface H264FinalizePoint {
  seconds: number;
  segments: number;
  aacSegments: number;
  /** `assembleReplay` start → its preview (the H.264 and Opus copied into `video.mp4`: watchable), per run (both modes: it does not depend on the AAC). */
  previewMs: number[];
  /** `assembleReplay` start → its MP4 written / → it returned (MP4, HLS, SHA-256: `ready`), the AAC recorded alongside copied, per repetition. */
  aacCopiedMp4Ms: number[];
  aacCopiedReadyMs: number[];
  /** The same without the recorded AAC in the index: the audio encoded at finalize (recordings made before it). */
  encodedMp4Ms: number[];
  encodedReadyMs: number[];
  /** What finalize reported for the MP4's audio in each mode ('copy' / 'encode': the check that each mode ran what it says). */
  audio: { aacCopied: string; encoded: string };
}

/**
 * H.264 finalize alone: a synthetic H.264 + Opus run of `seconds` (the H.264 clip looped with
 * `-c copy` into the recorder's segments) with the recorder's second output beside it — the
 * audio encoded to AAC segments (`aac-%05d.mka`, AAC_OUTPUT, `aresample=async=1`: recorderArgs
 * with `aac`) — and the index from both of ffmpeg's lists, as SegmentUploader makes it. Then
 * the whole of `assembleReplay` (the preview, `video.mp4`: watchable; then the MP4 and HLS by
 * copy, SHA-256: `ready`) with the AAC in the index (copied) and without (encoded, the path for
 * older recordings), alternating. Faster than real time; the AAC encode the recorder does
 * while recording is in the writing, not in what is timed.
 */
export async function h264FinalizeScaling(opts: { clip: string; clipSeconds: number; lengthsS: number[]; reps: number; workDir: string; log: (l: string) => void }): Promise<H264FinalizePoint[]> {
  const points: H264FinalizePoint[] = [];
  for (const seconds of opts.lengthsS) {
    const recordingDir = path.join(opts.workDir, `finalize-h264-${seconds}`);
    const runDir = path.join(recordingDir, 'r0000000001000-0000');
    await mkdir(runDir, { recursive: true });
    const segmentOptions = (list: string) => [
      '-f', 'segment', '-segment_time', '4', '-segment_time_delta', '0.05', '-segment_format', 'matroska',
      '-reset_timestamps', '0', '-segment_list', path.join(runDir, list), '-segment_list_type', 'csv',
    ];
    await execFileAsync(
      'nice',
      [
        '-n', '10', 'ffmpeg', '-hide_banner', '-nostdin', '-loglevel', 'error', '-y',
        '-stream_loop', String(Math.ceil(seconds / opts.clipSeconds) - 1), '-i', opts.clip,
        '-t', String(seconds), '-map', '0', '-c', 'copy', ...segmentOptions(SEGMENT_LIST), path.join(runDir, 'seg-%05d.mkv'),
        '-t', String(seconds), '-map', '0:a:0', ...AAC_OUTPUT, '-af', 'aresample=async=1', ...segmentOptions(AAC_SEGMENT_LIST), path.join(runDir, 'aac-%05d.mka'),
      ],
      { timeout: 900_000 },
    );
    await writeRunInfo(runDir, { runId: path.basename(runDir), offsetMs: 1000, startedAt: new Date().toISOString() });
    const segments = parseSegmentList(await readFile(path.join(runDir, SEGMENT_LIST), 'utf8'));
    const aac = parseSegmentList(await readFile(path.join(runDir, AAC_SEGMENT_LIST), 'utf8'), 'aac');
    const point: H264FinalizePoint = {
      seconds, segments: segments.length, aacSegments: aac.length,
      previewMs: [], aacCopiedMp4Ms: [], aacCopiedReadyMs: [], encodedMp4Ms: [], encodedReadyMs: [], audio: { aacCopied: '', encoded: '' },
    };
    for (let rep = 0; rep < opts.reps; rep++) {
      for (const copied of rep % 2 === 0 ? [true, false] : [false, true]) {
        await writeRunIndex(runDir, { version: 1, segments, ...(copied ? { aac } : {}) });
        const replayDir = path.join(opts.workDir, 'replay-h264');
        const t0 = performance.now();
        let mp4Ms = 0;
        let audio = '';
        await assembleReplay({
          recordingDir,
          replayDir,
          onPreview: async (o) => {
            if (o.videoMp4 !== 'video.mp4') throw new Error(`the preview is ${o.videoMp4 ?? o.webm ?? 'nothing'}, not video.mp4`);
            point.previewMs.push(Math.round(performance.now() - t0));
          },
          onMp4: (i) => {
            mp4Ms = Math.round(performance.now() - t0);
            audio = i.audio;
          },
        });
        const readyMs = Math.round(performance.now() - t0);
        await rm(replayDir, { recursive: true, force: true });
        if (copied) {
          point.aacCopiedMp4Ms.push(mp4Ms);
          point.aacCopiedReadyMs.push(readyMs);
          point.audio.aacCopied = audio;
        } else {
          point.encodedMp4Ms.push(mp4Ms);
          point.encodedReadyMs.push(readyMs);
          point.audio.encoded = audio;
        }
      }
    }
    opts.log(
      `recording: H.264 finalize-only, ${seconds} s in ${segments.length} segments: preview ${point.previewMs.join(', ')} ms; ready ${point.aacCopiedReadyMs.join(', ')} ms with the recorded AAC copied (${point.audio.aacCopied}), ` +
        `${point.encodedReadyMs.join(', ')} ms encoding it (${point.audio.encoded})`,
    );
    points.push(point);
    await rm(recordingDir, { recursive: true, force: true });
  }
  return points;
}
