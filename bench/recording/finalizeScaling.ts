import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { assembleReplay } from '../../workers/media/assemble.ts';
import { RUN_INDEX, SEGMENT_LIST, parseSegmentList, writeRunIndex } from '../../workers/media/runIndex.ts';
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
