import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildTimeline, timelineDurationMs } from '../../common/replay/timeline.ts';
import type { ReplayOutput } from '../../common/jobs/results.ts';
import { FfmpegError, probe, runFfmpeg } from './ffmpeg.ts';
import { AAC_OUTPUT, mp4Video, remuxPartArgs, type Mp4Audio, type Mp4Video } from './mp4Video.ts';
import { readRunIndex, type RunIndex } from './runIndex.ts';
import { listRuns, type RunListing } from './segments.ts';

/** Nothing decodable was recorded: bad input, retrying will not help. */
export class NoMediaError extends Error {
  override readonly name = 'NoMediaError';
  constructor() {
    super('no media was recorded');
  }
}

/** A file of a run, played for `durationMs` before the next one starts. */
interface Piece {
  file: string;
  durationMs: number;
  /**
   * The time of the file's first packet on its run's clock, when the index gives it exactly (a
   * segment after the run's first): the concat demuxer then places the file by it instead of
   * probing it (writeConcatList).
   */
  startMs?: number;
}

/** One run: its segments as the index gives them, or (no usable index) remuxed into one file. */
interface RunMedia {
  offsetMs: number;
  /** The run's files back to back: its segments (indexed), or its remux (one piece). */
  pieces: Piece[];
  /** ffmpeg input arguments that read the whole run (`-i <remux>` or a concat list of its segments). */
  input: string[];
  durationMs: number;
  video: { width: number; height: number } | null;
  hasAudio: boolean;
  /** Codec names in stream order, e.g. 'vp8,opus': runs with the same layout can be joined by copy. */
  layout: string;
  /**
   * The run's audio as the recorder encoded it to AAC (its `aac-NNNNN.mka` segments, complete in
   * its index): ffmpeg input arguments that read it on the run's clock as `input` reads the run
   * (an `-itsoffset` lines the two up). Null: none recorded, or not all of it indexed.
   */
  aacInput: string[] | null;
}

interface Size {
  width: number;
  height: number;
}

const POSTER = 'poster.jpg';
const WEBM = 'video.webm';
const VIDEO_MP4 = 'video.mp4';
const MP4 = 'replay.mp4';
const HLS_DIR = 'hls';
const HLS_PLAYLIST = `${HLS_DIR}/index.m3u8`;
/** The replay is scaled to fit this box (long side × short side). */
const MAX_LONG_SIDE = 1920;
const MAX_SHORT_SIDE = 1080;
const FPS = 30;

/** `replay.mp4` → `replay.partial.mp4`: outputs are written there and renamed when complete. */
const partial = (name: string) => name.replace(/(\.[^.]+)?$/, '.partial$1');

/**
 * Turns a recording (runs of Matroska segments, see segments.ts) into the replay in
 * `replayDir`:
 *
 * 1. each run's segments are placed by the run's index (`index.json`, written while recording:
 *    no segment is probed, nothing is copied); a run without a complete index (recorded
 *    before it existed, or cut by a crash) is repaired as before: every segment probed, the
 *    decodable ones joined by copy into `work/run-<i>.mkv` (a segment cut short by a crash is
 *    read up to where it ends; a run with nothing decodable is skipped);
 * 2. the runs are laid back to back on the timeline (common/replay/timeline.ts);
 * 3. `poster.jpg` and the preview, when every run has the same streams: `video.webm` for
 *    VP8/VP9 + Opus, `video.mp4` for H.264 (+ Opus) (every run's pieces joined by copy in one
 *    pass: watchable seconds after the broadcast); then `onPreview`;
 * 4. each run is transcoded to H.264/AAC at one common size (pauses inside a run become a
 *    frozen frame and silence) — or, when every run is H.264, its video copied and its audio
 *    copied or encoded (mp4Video.ts) — and the parts are joined into `replay.mp4` (faststart),
 *    then `hls/index.m3u8` + `hls/seg-NNN.ts` by copy from it.
 *
 * Every output is written under a temporary name and renamed when complete, so running
 * it again (a retried job) is safe and gives the same output (and a byte-identical MP4).
 * `work/` is removed at the end.
 * @throws NoMediaError when no run has decodable media; FfmpegError when ffmpeg fails.
 */
export async function assembleReplay(opts: {
  recordingDir: string;
  replayDir: string;
  signal?: AbortSignal;
  onPreview?: (o: ReplayOutput) => Promise<void>;
  /**
   * Called once the MP4 is written: whether its video was copied (H.264 runs) or transcoded,
   * whether its audio was copied from the AAC recorded with the runs or encoded here, and how long the MP4 took.
   */
  onMp4?: (info: { video: Mp4Video; audio: Mp4Audio; ms: number }) => void;
}): Promise<ReplayOutput> {
  const { replayDir, signal } = opts;
  const at = (name: string) => path.join(replayDir, name);
  const work = at('work');
  const run = (args: string[], timeoutMs: number, bin: 'ffmpeg' | 'ffprobe' = 'ffmpeg') =>
    runFfmpeg(args, { timeoutMs, bin, ...(signal ? { signal } : {}) });

  await mkdir(replayDir, { recursive: true });
  await cleanUp(replayDir);
  await mkdir(work, { recursive: true });
  try {
    // 1. Runs, each remuxed into one file.
    const { runs } = await listRuns(opts.recordingDir);
    const media: RunMedia[] = [];
    for (const listing of runs) {
      const base = path.join(work, `run-${media.length}`);
      const m = (await indexedRun(listing, base, signal)) ?? (await remuxRun(listing, base, run, signal));
      if (m) media.push(m);
    }
    if (media.length === 0) throw new NoMediaError();

    // 2. Timeline: spans[k] is media[k] (both in offset order, all durations > 0).
    const timeline = buildTimeline(media);
    const durationMs = timelineDurationMs(timeline);

    // 3. Poster and the preview: the recorded streams joined by copy in a container browsers play.
    signal?.throwIfAborted();
    const firstVideo = media.find((m) => m.video);
    const poster = firstVideo ? await makePoster(firstVideo, at(POSTER), run) : null;
    if (!poster) await rm(at(POSTER), { force: true });
    const preview = previewFile(media);
    for (const name of [WEBM, VIDEO_MP4]) if (name !== preview) await rm(at(name), { force: true });
    if (preview) {
      // One pass over every run's pieces (segments or remux), each placed by its duration.
      const list = await writeConcatList(path.join(work, 'runs.txt'), media.flatMap((m) => m.pieces));
      const format = preview === WEBM ? ['-f', 'webm'] : ['-movflags', '+faststart', '-f', 'mp4'];
      await run(['-f', 'concat', '-safe', '0', '-i', list, '-map', '0', '-c', 'copy', ...format, at(partial(preview))], 60_000 + durationMs);
      await rename(at(partial(preview)), at(preview));
    }
    const webm = preview === WEBM ? WEBM : null;
    const videoMp4 = preview === VIDEO_MP4 ? VIDEO_MP4 : null;
    // The preview's size is the runs' (the largest stream); the MP4's size, which reads every
    // keyframe (seconds for a long broadcast), comes after it.
    if (preview && opts.onPreview) {
      const largest = largestVideo(media);
      await opts.onPreview({ durationMs, width: largest?.width ?? null, height: largest?.height ?? null, timeline, poster, webm, videoMp4, hls: null, mp4: null });
    }
    // H.264 runs are copied (mp4Video.ts): the size is the largest the runs start with, as recorded.
    const video = mp4Video(media);
    const size = video === 'copy' ? largestVideo(media) : await replaySize(media, run);
    const base = { durationMs, width: size?.width ?? null, height: size?.height ?? null, timeline, poster, webm, videoMp4 };

    // 4. MP4 (one H.264/AAC part per run: video copied or normalised; joined by copy), then HLS from it.
    const mp4Started = Date.now();
    const parts: Array<{ file: string; durationMs: number }> = [];
    let audioCopied = 0;
    for (const [i, m] of media.entries()) {
      signal?.throwIfAborted();
      const file = path.join(work, `part-${i}.ts`);
      // The AAC recorded with an H.264 run is copied; without it (older recordings, a run
      // without audio, an index cut by a crash) the audio is encoded as before.
      const aac = video === 'copy' && m.hasAudio ? m.aacInput : null;
      if (video === 'copy') await run(remuxPartArgs(m.input, m, file, aac), 60_000 + m.durationMs);
      else await run(transcodeArgs(m, size, file), 60_000 + 4 * m.durationMs);
      if (aac) audioCopied++;
      parts.push({ file, durationMs: m.durationMs });
    }
    const audio: Mp4Audio = audioCopied === 0 ? 'encode' : audioCopied === media.length ? 'copy' : 'mixed';
    const partsList = await writeConcatList(path.join(work, 'parts.txt'), parts);
    await run(['-f', 'concat', '-safe', '0', '-i', partsList, '-map', '0', '-c', 'copy', '-movflags', '+faststart', '-f', 'mp4', at(partial(MP4))], 60_000 + durationMs);
    await rename(at(partial(MP4)), at(MP4));
    opts.onMp4?.({ video, audio, ms: Date.now() - mp4Started });

    const hlsTmp = at(partial(HLS_DIR));
    await mkdir(hlsTmp, { recursive: true });
    await run(
      ['-i', at(MP4), '-map', '0', '-c', 'copy', '-f', 'hls', '-hls_time', '4', '-hls_playlist_type', 'vod',
        '-hls_segment_filename', path.join(hlsTmp, 'seg-%03d.ts'), path.join(hlsTmp, 'index.m3u8')],
      60_000 + durationMs,
    );
    await replaceDir(hlsTmp, at(HLS_DIR));

    const { size: sizeBytes } = await stat(at(MP4));
    return { ...base, hls: HLS_PLAYLIST, mp4: { name: MP4, sizeBytes, ...(await hashFile(at(MP4))) } };
  } finally {
    await cleanUp(replayDir);
  }
}

type Run = (args: string[], timeoutMs: number, bin?: 'ffmpeg' | 'ffprobe') => Promise<{ stdout: string; stderrTail: string }>;

/**
 * A run as its index gives it, with one probe: the first segment's streams (every segment of
 * a run has the same) and its start time (ffmpeg lists the first segment as starting at 0,
 * whatever its first timestamp; the others start at the keyframe that opened them). Undefined when the index is missing, invalid, or does not name exactly
 * the run's segments (then the run is probed and remuxed: remuxRun).
 */
async function indexedRun(listing: RunListing, base: string, signal: AbortSignal | undefined): Promise<RunMedia | undefined> {
  const read = await readRunIndex(listing.dir);
  if (!('index' in read)) return undefined;
  const entries = read.index.segments;
  const names = listing.segments.map((f) => path.basename(f));
  if (entries.length !== names.length || entries.some((e, k) => e.file !== names[k])) return undefined;
  const first = entries[0];
  const last = entries.at(-1);
  if (!first || !last) return undefined;
  let streams;
  let startMs: number;
  try {
    const p = await probe(path.join(listing.dir, first.file), signal ? { signal } : {});
    streams = p.streams;
    startMs = p.startMs ?? first.startMs;
  } catch (err) {
    if (err instanceof FfmpegError && err.kind === 'exit') return undefined;
    throw err;
  }
  const v = streams.find((s) => s.codecType === 'video' && s.width && s.height);
  const hasAudio = streams.some((s) => s.codecType === 'audio');
  const second = entries[1];
  if ((!v && !hasAudio) || last.endMs <= startMs || (second && second.startMs <= startMs)) return undefined;
  const pieces = indexPieces(listing.dir, entries, startMs);
  const list = await writeConcatList(`${base}.txt`, pieces);
  return {
    offsetMs: listing.offsetMs,
    pieces,
    input: ['-f', 'concat', '-safe', '0', '-i', list],
    durationMs: last.endMs - startMs,
    video: v?.width && v.height ? { width: v.width, height: v.height } : null,
    hasAudio,
    layout: streams.map((s) => s.codecName).join(','),
    aacInput: hasAudio ? await indexedAac(listing, read.index, `${base}-aac`, startMs, signal) : null,
  };
}

/**
 * The run's recorded AAC (recorderArgs `aac`) as an ffmpeg input on the run's clock, when the
 * index names exactly its AAC segments: a concat list placing each by its listed start (the
 * first's from one probe, ffmpeg lists it at 0), and `-itsoffset` = its start − the run's, since
 * each input starts at 0 in ffmpeg. Null otherwise (then finalize encodes the audio).
 */
async function indexedAac(listing: RunListing, index: RunIndex, base: string, runStartMs: number, signal: AbortSignal | undefined): Promise<string[] | null> {
  const entries = index.aac ?? [];
  const names = listing.aacSegments.map((f) => path.basename(f));
  const first = entries[0];
  if (!first || entries.length !== names.length || entries.some((e, k) => e.file !== names[k])) return null;
  let startMs: number | null;
  try {
    const p = await probe(path.join(listing.dir, first.file), signal ? { signal } : {});
    startMs = p.streams.length === 1 && p.streams[0]?.codecName === 'aac' ? p.startMs : null;
  } catch (err) {
    if (err instanceof FfmpegError && err.kind === 'exit') return null;
    throw err;
  }
  if (startMs === null) return null;
  const list = await writeConcatList(`${base}.txt`, indexPieces(listing.dir, entries, startMs));
  return ['-itsoffset', ((startMs - runStartMs) / 1000).toFixed(3), '-f', 'concat', '-safe', '0', '-i', list];
}

/**
 * The index's segments as pieces: each lasts until the next starts, the last until its end; the
 * first starts at `firstStartMs` (probed: ffmpeg lists it at 0), the others where the index says.
 */
function indexPieces(dir: string, segments: RunIndex['segments'], firstStartMs: number): Piece[] {
  return segments.map((e, k) => {
    const start = k === 0 ? firstStartMs : e.startMs;
    const next = segments[k + 1];
    return { file: path.join(dir, e.file), durationMs: Math.max(0, (next ? next.startMs : e.endMs) - start), ...(k === 0 ? {} : { startMs: e.startMs }) };
  });
}

/** Joins a run's decodable segments into `<base>.mkv`; null when nothing in it decodes. */
async function remuxRun(listing: RunListing, base: string, run: Run, signal: AbortSignal | undefined): Promise<RunMedia | null> {
  // Segments keep the run's clock (recorderArgs: -reset_timestamps 0): their start times
  // place them, so a pause across a segment boundary stays a pause.
  const probed = await mapLimit(listing.segments, 4, async (file) => {
    try {
      const p = await probe(file, signal ? { signal } : {});
      return p.streams.length > 0 && p.startMs !== null ? { file, startMs: p.startMs } : null;
    } catch (err) {
      if (err instanceof FfmpegError && err.kind === 'exit') return null; // not decodable
      throw err;
    }
  });
  const segments = probed.filter((s): s is { file: string; startMs: number } => s !== null);
  if (segments.length === 0) return null;
  const list = await writeConcatList(
    `${base}.txt`,
    segments.map((s, k) => {
      const next = segments[k + 1];
      return { file: s.file, durationMs: next && next.startMs > s.startMs ? next.startMs - s.startMs : null };
    }),
  );
  const file = `${base}.mkv`;
  // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- segments is not empty (checked above)
  const spanMs = segments[segments.length - 1]!.startMs - segments[0]!.startMs;
  await run(['-f', 'concat', '-safe', '0', '-i', list, '-map', '0', '-c', 'copy', '-f', 'matroska', file], 60_000 + spanMs);
  const p = await probe(file, signal ? { signal } : {});
  const v = p.streams.find((s) => s.codecType === 'video' && s.width && s.height);
  const hasAudio = p.streams.some((s) => s.codecType === 'audio');
  if (!p.durationMs || p.durationMs <= 0 || (!v && !hasAudio)) return null;
  return {
    offsetMs: listing.offsetMs,
    pieces: [{ file, durationMs: p.durationMs }],
    input: ['-i', file],
    durationMs: p.durationMs,
    video: v?.width && v.height ? { width: v.width, height: v.height } : null,
    hasAudio,
    layout: p.streams.map((s) => s.codecName).join(','),
    aacInput: null,
  };
}

/**
 * The replay's frame size: the largest frame any run's keyframes have (a recording may
 * start on a low simulcast layer and switch up, or turn from landscape to portrait),
 * fitted into 1920×1080 (either orientation), even. Null when no run has video.
 */
async function replaySize(media: RunMedia[], run: Run): Promise<Size | null> {
  let best: Size | null = null;
  for (const m of media) {
    if (!m.video) continue;
    const { stdout } = await run(
      ['-v', 'error', '-select_streams', 'v:0', '-skip_frame', 'nokey', '-show_entries', 'frame=width,height', '-of', 'csv=p=0', ...m.input],
      60_000 + m.durationMs,
      'ffprobe',
    );
    const sizes = stdout.split('\n').map((line) => line.split(',').map(Number));
    for (const [width = 0, height = 0] of [...sizes, [m.video.width, m.video.height]]) {
      if (width > 0 && height > 0 && (!best || width * height > best.width * best.height)) best = { width, height };
    }
  }
  if (!best) return null;
  const scale = Math.min(1, MAX_LONG_SIDE / Math.max(best.width, best.height), MAX_SHORT_SIDE / Math.min(best.width, best.height));
  const even = (x: number) => Math.max(2, 2 * Math.floor((x * scale) / 2));
  return { width: even(best.width), height: even(best.height) };
}

/**
 * The preview's file, when every run has the same streams and a browser plays them as recorded:
 * VP8/VP9 + Opus in WebM (`video.webm`), H.264 (+ Opus) in MP4 (`video.mp4`, faststart). Null
 * otherwise (runs with different streams, other codecs): such a replay is watchable at `ready`.
 */
function previewFile(media: RunMedia[]): typeof WEBM | typeof VIDEO_MP4 | null {
  const layout = media[0]?.layout;
  if (layout === undefined || media.some((m) => m.layout !== layout)) return null;
  const codecs = layout.split(',');
  if (codecs.every((c) => ['vp8', 'vp9', 'opus'].includes(c))) return WEBM;
  if (codecs.includes('h264') && codecs.every((c) => ['h264', 'opus'].includes(c))) return VIDEO_MP4;
  return null;
}

/** The largest frame size the runs were probed with (copied video keeps its sizes); null without video. */
function largestVideo(media: RunMedia[]): Size | null {
  return media.reduce<Size | null>((b, m) => (m.video && (!b || m.video.width * m.video.height > b.width * b.height) ? m.video : b), null);
}

/**
 * One frame at ~1 s (or the middle of a shorter first piece; else the first frame), 640 px
 * wide, from the run's first piece (its first segment, or its remux).
 */
async function makePoster(m: RunMedia, dest: string, run: Run): Promise<string | null> {
  const tmp = partial(dest);
  // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- a run has at least one piece
  const piece = m.pieces[0]!;
  for (const atMs of [Math.min(1000, Math.floor(piece.durationMs / 2)), 0]) {
    await rm(tmp, { force: true });
    await run(['-ss', (atMs / 1000).toFixed(3), '-i', piece.file, '-map', '0:v:0', '-frames:v', '1', '-vf', 'scale=640:-2', '-q:v', '4', '-f', 'image2', '-update', '1', tmp], 60_000);
    if (await stat(tmp).then((s) => s.size > 0, () => false)) {
      await rename(tmp, dest);
      return path.basename(dest);
    }
  }
  return null;
}

/**
 * ffmpeg argv that turns one run into an MPEG-TS part of exactly its duration: H.264 at the
 * replay size (letterboxed; the filter graph is rebuilt when the frame size changes, the
 * output size stays), a keyframe every 2 s (HLS cuts there), 30 fps without holes (a pause
 * is the last frame repeated, also across a size change); AAC 48 kHz stereo with gaps
 * filled with silence. A run without video gets black frames, without audio silence.
 */
function transcodeArgs(m: RunMedia, size: Size | null, out: string): string[] {
  const inputs = [...m.input];
  const outputs: string[] = [];
  let next = 1;
  const addSource = (lavfi: string) => (inputs.push('-f', 'lavfi', '-i', lavfi), next++);
  if (size) {
    const { width: w, height: h } = size;
    if (m.video) {
      const vf = `scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:-1:-1:color=black,setsar=1,fps=${FPS},format=yuv420p,tpad=stop=-1:stop_mode=clone`;
      outputs.push('-map', '0:v:0', '-vf', vf);
    } else {
      outputs.push('-map', `${addSource(`color=c=black:s=${w}x${h}:r=${FPS}`)}:v:0`);
    }
    // Constant frame rate at the output too: the fps filter fills a pause with copies of the
    // last frame, but not across a frame size change (the graph, fps filter included, is
    // rebuilt and starts at the next frame), which left a hole in the video that Chromium's
    // native HLS player stalls at; the output's cfr sync fills it whatever the graph did.
    outputs.push('-fps_mode:v', 'cfr', '-r:v', String(FPS));
    outputs.push('-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p', '-force_key_frames', 'expr:gte(t,n_forced*2)');
  }
  if (m.hasAudio) outputs.push('-map', '0:a:0', '-af', 'aresample=async=1:first_pts=0,apad');
  else outputs.push('-map', `${addSource('anullsrc=r=48000:cl=stereo')}:a:0`);
  outputs.push(...AAC_OUTPUT);
  return [...inputs, ...outputs, '-t', (m.durationMs / 1000).toFixed(3), '-f', 'mpegts', out];
}

/**
 * Writes an ffconcat list; `durationMs` places the next file (null: the file's own length).
 *
 * A file with a known `startMs` is not probed: the concat demuxer runs ffmpeg's stream probe on
 * every file it opens, which decodes ~7 frames of H.264 (to guess its reorder delay) with a
 * fresh decoder each time: 13 ms per 4 s segment, 11.6 of the 14 s an hour of H.264 took to
 * read (900 segments, docs/recording.md). `codec_whitelist none` lets no decoder open, and
 * `inpoint` gives the start the probe would have found, so the packets come out exactly as with
 * the probe (checked: byte-identical HLS for an hour), in 1.3 s. The stream parameters are the
 * first file's, which is probed: the concat demuxer takes them from it alone.
 */
async function writeConcatList(file: string, entries: Array<{ file: string; durationMs: number | null; startMs?: number }>): Promise<string> {
  const quote = (p: string) => `'${path.resolve(p).replaceAll("'", "'\\''")}'`;
  const lines = ['ffconcat version 1.0'];
  for (const e of entries) {
    lines.push(`file ${quote(e.file)}`);
    if (e.startMs !== undefined) lines.push('option codec_whitelist none', `inpoint ${(e.startMs / 1000).toFixed(3)}`);
    if (e.durationMs !== null) lines.push(`duration ${(e.durationMs / 1000).toFixed(3)}`);
  }
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

/** Replaces directory `dest` by `src` (the old one is removed after the swap). */
async function replaceDir(src: string, dest: string): Promise<void> {
  const old = `${dest}.old`;
  await rm(old, { recursive: true, force: true });
  await rename(dest, old).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  });
  await rename(src, dest);
  await rm(old, { recursive: true, force: true });
}

/** Removes `work/` and anything a previous attempt left under a temporary name. */
async function cleanUp(replayDir: string): Promise<void> {
  for (const name of ['work', partial(POSTER), partial(WEBM), partial(VIDEO_MP4), partial(MP4), partial(HLS_DIR), `${HLS_DIR}.old`]) {
    await rm(path.join(replayDir, name), { recursive: true, force: true });
  }
}

/**
 * The file's SHA-256 and CRC-32 in one read. The CRC-32 is what the file's STORED zip entry
 * carries: recorded here, an archive does not read the file again for it (docs/archives.md, "Speed").
 */
async function hashFile(file: string): Promise<{ sha256: string; crc32: number }> {
  const hash = createHash('sha256');
  let crc32 = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    crc32 = zlib.crc32(chunk as Buffer, crc32);
  }
  return { sha256: hash.digest('hex'), crc32: crc32 >>> 0 };
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- i < items.length
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
