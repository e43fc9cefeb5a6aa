import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, open, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplayOutputSchema, type ReplayOutput } from '../../../common/jobs/results.ts';
import { NoMediaError, assembleReplay } from '../../../workers/media/assemble.ts';
import { probe, runFfmpeg } from '../../../workers/media/ffmpeg.ts';
import { RUN_INDEX, parseSegmentList, writeRunIndex } from '../../../workers/media/runIndex.ts';
import { writeRunInfo } from '../../../workers/media/segments.ts';
import { decodeAll, tmpDir, writeRun } from './mediaFixtures.ts';

/** The MD5 of every decoded video frame at its own size (`-autoscale 0 -f framemd5`), in order; `input` e.g. ['-i', file]. */
async function decodedFrameHashes(input: string[]): Promise<string[]> {
  const { stdout } = await runFfmpeg([...input, '-map', '0:v:0', '-autoscale', '0', '-f', 'framemd5', '-'], { timeoutMs: 60_000 });
  return stdout
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(',').at(-1)!.trim());
}

/** The video packets' presentation times (s), sorted. */
async function videoPacketTimes(file: string): Promise<number[]> {
  const { stdout } = await runFfmpeg(['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file], {
    bin: 'ffprobe',
    timeoutMs: 30_000,
  });
  return stdout
    .split('\n')
    .map((l) => Number.parseFloat(l))
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
}

/** Top-level MP4 boxes in file order. */
async function topLevelBoxes(file: string): Promise<string[]> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const boxes: string[] = [];
    const header = Buffer.alloc(16);
    for (let pos = 0; pos + 8 <= size; ) {
      await fh.read(header, 0, 16, pos);
      let len = header.readUInt32BE(0);
      if (len === 1) len = Number(header.readBigUInt64BE(8));
      else if (len === 0) len = size - pos;
      boxes.push(header.toString('latin1', 4, 8));
      if (len < 8) break;
      pos += len;
    }
    return boxes;
  } finally {
    await fh.close();
  }
}

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

describe('assembleReplay', () => {
  let root: string;
  let recordingDir: string;
  let replayDir: string;
  let output: ReplayOutput;
  let preview: { output: ReplayOutput; mp4Existed: boolean; webmProbe: Awaited<ReturnType<typeof probe>> } | undefined;
  let transcodeMs = 0;
  let mp4Info: { video: string; ms: number } | undefined;

  beforeAll(async () => {
    root = await tmpDir('assemble');
    recordingDir = path.join(root, 'recordings', 'b1');
    replayDir = path.join(root, 'replays', 'b1');
    // Two runs: ~4 s at offset 1000 and ~3 s at offset 9000 (2 s segments); the second
    // run's last segment cut to 60 % of its bytes, as a crash would leave it.
    await writeRun(recordingDir, 'r0000000001000-aaaa', 1000, { seconds: 4 });
    const second = await writeRun(recordingDir, 'r0000000009000-bbbb', 9000, { seconds: 3 });
    const last = path.join(second, 'seg-00001.mkv');
    await truncate(last, Math.floor((await stat(last)).size * 0.6));

    const started = Date.now();
    output = await assembleReplay({
      recordingDir,
      replayDir,
      onPreview: async (o) => {
        preview = { output: o, mp4Existed: existsSync(path.join(replayDir, 'replay.mp4')), webmProbe: await probe(path.join(replayDir, o.webm!)) };
      },
      onMp4: (info) => (mp4Info = info),
    });
    transcodeMs = Date.now() - started;
  }, 180_000);

  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('reports a valid output with two spans on the broadcast clock', () => {
    expect(ReplayOutputSchema.parse(output)).toEqual(output);
    const [a, b] = output.timeline;
    expect(output.timeline).toHaveLength(2);
    expect(a).toMatchObject({ offsetMs: 1000, mediaStartMs: 0 });
    expect(b).toMatchObject({ offsetMs: 9000, mediaStartMs: a!.durationMs });
    expect(a!.durationMs).toBeGreaterThan(3700);
    expect(a!.durationMs).toBeLessThan(4300);
    // The truncated run keeps its first segment and part of the second.
    expect(b!.durationMs).toBeGreaterThan(1900);
    expect(b!.durationMs).toBeLessThan(3100);
    expect(output.durationMs).toBe(a!.durationMs + b!.durationMs);
    expect(output).toMatchObject({ width: 640, height: 360, poster: 'poster.jpg', webm: 'video.webm', hls: 'hls/index.m3u8' });
    console.info(`assembleReplay of ${output.durationMs} ms of media took ${transcodeMs} ms`);
  });

  it('writes an H.264/AAC MP4 of the timeline length with its index first', async () => {
    const mp4 = path.join(replayDir, 'replay.mp4');
    const p = await probe(mp4);
    expect(p.streams.map((s) => s.codecName).sort()).toEqual(['aac', 'h264']);
    expect(p.streams.find((s) => s.codecType === 'video')).toMatchObject({ width: 640, height: 360 });
    expect(Math.abs(p.durationMs! - output.durationMs)).toBeLessThanOrEqual(500);
    const boxes = await topLevelBoxes(mp4);
    expect(boxes).toContain('mdat');
    expect(boxes.indexOf('moov')).toBeGreaterThanOrEqual(0);
    expect(boxes.indexOf('moov')).toBeLessThan(boxes.indexOf('mdat'));
    await decodeAll(mp4);
    expect(mp4Info?.video).toBe('transcode'); // VP8 is re-encoded
  });

  it('reports the MP4 size, SHA-256 and CRC-32', async () => {
    const mp4 = path.join(replayDir, 'replay.mp4');
    expect(output.mp4).toEqual({ name: 'replay.mp4', sizeBytes: (await stat(mp4)).size, sha256: await sha256(mp4), crc32: zlib.crc32(await readFile(mp4)) });
  });

  it('writes a VOD HLS playlist whose segments exist', async () => {
    const playlist = await readFile(path.join(replayDir, 'hls', 'index.m3u8'), 'utf8');
    expect(playlist).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(playlist).toContain('#EXT-X-ENDLIST');
    const segments = playlist.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(segments.length).toBeGreaterThanOrEqual(2);
    for (const s of segments) expect((await stat(path.join(replayDir, 'hls', s))).size).toBeGreaterThan(0);
    const total = playlist.split('\n').filter((l) => l.startsWith('#EXTINF:')).reduce((sum, l) => sum + Number.parseFloat(l.slice(8)), 0);
    expect(Math.abs(total * 1000 - output.durationMs)).toBeLessThanOrEqual(500);
  });

  it('writes a JPEG poster 640 px wide', async () => {
    const jpeg = await readFile(path.join(replayDir, 'poster.jpg'));
    expect([...jpeg.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect((await probe(path.join(replayDir, 'poster.jpg'))).streams[0]).toMatchObject({ width: 640, height: 360 });
  });

  it('calls onPreview with the WebM before the MP4 exists', async () => {
    expect(preview).toBeDefined();
    expect(preview!.mp4Existed).toBe(false);
    expect(preview!.output).toEqual({ ...output, hls: null, mp4: null });
    expect(preview!.webmProbe.formatName).toContain('webm');
    expect(preview!.webmProbe.streams.map((s) => s.codecName).sort()).toEqual(['opus', 'vp8']);
    expect(Math.abs(preview!.webmProbe.durationMs! - output.durationMs)).toBeLessThanOrEqual(500);
    await decodeAll(path.join(replayDir, 'video.webm'));
  });

  it('leaves only the final outputs', async () => {
    expect((await readdir(replayDir)).sort()).toEqual(['hls', 'poster.jpg', 'replay.mp4', 'video.webm']);
  });

  it('gives the same result when run again (a retried job)', async () => {
    await writeFile(path.join(replayDir, 'replay.partial.mp4'), 'left over by a killed attempt');
    const again = await assembleReplay({ recordingDir, replayDir });
    expect(again).toEqual(output);
    expect((await readdir(replayDir)).sort()).toEqual(['hls', 'poster.jpg', 'replay.mp4', 'video.webm']);
  }, 180_000);
});

describe('assembleReplay: recordings that are not the usual', () => {
  let root: string;
  beforeAll(async () => {
    root = await tmpDir('assemble-odd');
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('throws NoMediaError for an empty recording directory', async () => {
    const recordingDir = path.join(root, 'empty');
    await expect(assembleReplay({ recordingDir, replayDir: path.join(root, 'replay-empty') })).rejects.toBeInstanceOf(NoMediaError);
  });

  it('throws NoMediaError when no segment decodes', async () => {
    const recordingDir = path.join(root, 'garbage');
    const dir = path.join(recordingDir, 'r1');
    await writeRunInfo(dir, { runId: 'r1', offsetMs: 0, startedAt: new Date().toISOString() });
    await writeFile(path.join(dir, 'seg-00000.mkv'), Buffer.alloc(4096, 7));
    const err = await assembleReplay({ recordingDir, replayDir: path.join(root, 'replay-garbage') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoMediaError);
    expect((err as Error).message).toBe('no media was recorded');
  });

  it('keeps a pause between two segments of a run (segments keep the run clock)', async () => {
    const recordingDir = path.join(root, 'pause');
    // 0–2 s, nothing from 2 to 6 s, then 6–8 s: the run lasts ~8 s, not ~4 s.
    const dir = await writeRun(recordingDir, 'r1', 500, { seconds: 2, segmentSeconds: 10 });
    await writeRun(recordingDir, 'r1', 500, { seconds: 2, segmentSeconds: 10, startSeconds: 6, firstIndex: 1 });
    expect((await readdir(dir)).filter((f) => f.endsWith('.mkv')).sort()).toEqual(['seg-00000.mkv', 'seg-00001.mkv']);
    const out = await assembleReplay({ recordingDir, replayDir: path.join(root, 'replay-pause') });
    expect(out.timeline).toHaveLength(1);
    expect(out.durationMs).toBeGreaterThan(7500);
    expect(out.durationMs).toBeLessThan(8500);
    const mp4 = await probe(path.join(root, 'replay-pause', 'replay.mp4'));
    expect(Math.abs(mp4.durationMs! - out.durationMs)).toBeLessThanOrEqual(500);
  }, 120_000);

  it('fills a pause with the last frame also when the frame size changes across it (no hole in the video)', async () => {
    const recordingDir = path.join(root, 'pause-resize');
    const replayDir = path.join(root, 'replay-pause-resize');
    // 0–2 s at 640×360, nothing from 2 to 5 s, then 5–7 s at 320×180 (a simulcast layer switch
    // after a stall): the filter graph is rebuilt at the new size, and its fps filter alone
    // left a 3 s hole in the video (Chromium's native HLS player stopped there).
    await writeRun(recordingDir, 'r1', 0, { seconds: 2, segmentSeconds: 10 });
    await writeRun(recordingDir, 'r1', 0, { seconds: 2, segmentSeconds: 10, startSeconds: 5, firstIndex: 1, size: '320x180' });
    const out = await assembleReplay({ recordingDir, replayDir });
    expect(out).toMatchObject({ width: 640, height: 360 });
    for (const file of ['replay.mp4', ...(await readdir(path.join(replayDir, 'hls'))).filter((f) => f.endsWith('.ts')).map((f) => `hls/${f}`)]) {
      const times = await videoPacketTimes(path.join(replayDir, file));
      const holes = times.slice(1).map((t, i) => [times[i]!, t] as const).filter(([a, b]) => b - a > 0.05);
      expect(holes, file).toEqual([]);
    }
    const all = await videoPacketTimes(path.join(replayDir, 'replay.mp4'));
    expect(all[0]!).toBeLessThan(0.05);
    expect(all.at(-1)! - all[0]!).toBeGreaterThan(out.durationMs / 1000 - 0.1);
  }, 120_000);

  it('joins runs of different sizes and layouts into one MP4 (no WebM, no preview)', async () => {
    const recordingDir = path.join(root, 'mixed');
    const replayDir = path.join(root, 'replay-mixed');
    // A small run with sound, then a larger run without sound: the MP4 takes the larger
    // size and has silence where the second run had no audio.
    await writeRun(recordingDir, 'r1', 0, { seconds: 2, size: '320x180' });
    await writeRun(recordingDir, 'r2', 5000, { seconds: 2, size: '1280x720', audio: false });
    let previewed = false;
    const out = await assembleReplay({ recordingDir, replayDir, onPreview: async () => void (previewed = true) });
    expect(previewed).toBe(false);
    expect(out).toMatchObject({ webm: null, width: 1280, height: 720, poster: 'poster.jpg' });
    expect(out.timeline.map((s) => s.offsetMs)).toEqual([0, 5000]);
    const mp4 = await probe(path.join(replayDir, 'replay.mp4'));
    expect(mp4.streams.map((s) => s.codecName).sort()).toEqual(['aac', 'h264']);
    expect(mp4.streams.find((s) => s.codecType === 'video')).toMatchObject({ width: 1280, height: 720 });
    expect(Math.abs(mp4.durationMs! - out.durationMs)).toBeLessThanOrEqual(500);
    expect(existsSync(path.join(replayDir, 'video.webm'))).toBe(false);
    await decodeAll(path.join(replayDir, 'replay.mp4'));
  }, 120_000);
});

/**
 * The run's index from ffmpeg's csv list(s), as the recorder's SegmentUploader writes it. ffmpeg
 * lists the first segment of its output as starting at 0: a list after the first (the same run
 * continued by a second ffmpeg, for a pause) gets its first segment's real start from a probe.
 */
async function indexFromLists(dir: string, lists: string[]): Promise<Array<{ file: string; startMs: number; endMs: number }>> {
  const segments = [];
  for (const [k, list] of lists.entries()) {
    const entries = parseSegmentList(await readFile(path.join(dir, list), 'utf8'));
    if (k > 0 && entries[0]) entries[0].startMs = (await probe(path.join(dir, entries[0].file))).startMs!;
    segments.push(...entries);
  }
  await writeRunIndex(dir, { version: 1, segments });
  return segments;
}

describe('assembleReplay from the recorder\'s segment index', () => {
  let root: string;
  beforeAll(async () => {
    root = await tmpDir('assemble-index');
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('places the segments by the index: the run lasts from its first start to its last end, pauses kept', async () => {
    const recordingDir = path.join(root, 'pause');
    const replayDir = path.join(root, 'replay-pause');
    // One run: 0–3 s in two segments, nothing from 3 to 6 s, then 6–8 s.
    const dir = await writeRun(recordingDir, 'r1', 500, { seconds: 3, segmentSeconds: 2, list: 'a.csv' });
    await writeRun(recordingDir, 'r1', 500, { seconds: 2, segmentSeconds: 10, startSeconds: 6, firstIndex: 2, list: 'b.csv' });
    const index = await indexFromLists(dir, ['a.csv', 'b.csv']);
    expect(index.map((e) => e.file)).toEqual(['seg-00000.mkv', 'seg-00001.mkv', 'seg-00002.mkv']);
    let preview: ReplayOutput | undefined;
    const out = await assembleReplay({ recordingDir, replayDir, onPreview: async (o) => void (preview = o) });
    // Exactly the index's span from the first segment's start (its one probe) to the last's end.
    const firstStart = (await probe(path.join(dir, 'seg-00000.mkv'))).startMs!;
    expect(out.durationMs).toBe(index.at(-1)!.endMs - firstStart);
    expect(out.durationMs).toBeGreaterThan(7500);
    expect(out.timeline).toEqual([{ offsetMs: 500, mediaStartMs: 0, durationMs: out.durationMs }]);
    expect(preview).toMatchObject({ webm: 'video.webm', poster: 'poster.jpg', mp4: null, width: 640, height: 360, durationMs: out.durationMs });
    // The WebM (one pass over the segments) and the MP4 (transcoded from the same list) hold the pause.
    for (const file of ['video.webm', 'replay.mp4']) {
      const p = await probe(path.join(replayDir, file));
      expect(Math.abs(p.durationMs! - out.durationMs), file).toBeLessThanOrEqual(300);
      await decodeAll(path.join(replayDir, file));
    }
    const webmTimes = await videoPacketTimes(path.join(replayDir, 'video.webm'));
    const gaps = webmTimes.slice(1).map((t, i) => t - webmTimes[i]!).filter((d) => d > 1);
    expect(gaps).toHaveLength(1);
    expect(gaps[0]!).toBeGreaterThan(2.5);
    expect(out.mp4?.sizeBytes).toBeGreaterThan(0);
  }, 120_000);

  it('probes a run whose index does not name every segment (cut by a crash), and one without an index, as before', async () => {
    const recordingDir = path.join(root, 'partial');
    const dir = await writeRun(recordingDir, 'r1', 0, { seconds: 4, segmentSeconds: 1, list: 'segments.csv' });
    const index = await indexFromLists(dir, ['segments.csv']);
    // The last segment is missing from the index: the run must not end where the index ends.
    await writeRunIndex(dir, { version: 1, segments: index.slice(0, -1) });
    const partial = await assembleReplay({ recordingDir, replayDir: path.join(root, 'replay-partial') });
    await rm(path.join(dir, RUN_INDEX));
    const probed = await assembleReplay({ recordingDir, replayDir: path.join(root, 'replay-probed') });
    expect(partial.durationMs).toBe(probed.durationMs);
    expect(partial.durationMs).toBeGreaterThan(index.at(-2)!.endMs - index[0]!.startMs + 500);
    // An index that is not valid is not trusted either.
    await writeFile(path.join(dir, RUN_INDEX), '{"version":1,"segments":[{"file":"../x.mkv","startMs":0,"endMs":1}]}');
    const invalid = await assembleReplay({ recordingDir, replayDir: path.join(root, 'replay-invalid') });
    expect(invalid.durationMs).toBe(probed.durationMs);
  }, 180_000);
});

describe('assembleReplay: an H.264 recording', () => {
  let root: string;
  let recordingDir: string;
  let replayDir: string;
  let output: ReplayOutput;
  let mp4Info: { video: string; audio: string; ms: number } | undefined;
  let preview: { output: ReplayOutput; mp4Existed: boolean } | undefined;
  const recorded: string[] = [];

  beforeAll(async () => {
    root = await tmpDir('assemble-h264');
    recordingDir = path.join(root, 'recordings', 'b1');
    replayDir = path.join(root, 'replays', 'b1');
    // Two runs, as a browser broadcasting H.264 would leave them: ~3 s at 1000, ~2 s at 6000.
    await writeRun(recordingDir, 'r0000000001000-aaaa', 1000, { seconds: 3, codec: 'h264' });
    await writeRun(recordingDir, 'r0000000006000-bbbb', 6000, { seconds: 2, codec: 'h264', size: '1280x720' });
    output = await assembleReplay({
      recordingDir,
      replayDir,
      onPreview: async (o) => void (preview = { output: o, mp4Existed: existsSync(path.join(replayDir, 'replay.mp4')) }),
      onMp4: (info) => (mp4Info = info),
    });
    for (const runId of ['r0000000001000-aaaa', 'r0000000006000-bbbb']) {
      const dir = path.join(recordingDir, runId);
      const segments = (await readdir(dir)).filter((f) => f.endsWith('.mkv')).sort();
      const list = path.join(root, `${runId}.txt`);
      await writeFile(list, `ffconcat version 1.0\n${segments.map((f) => `file '${path.join(dir, f)}'`).join('\n')}\n`);
      recorded.push(...(await decodedFrameHashes(['-f', 'concat', '-safe', '0', '-i', list])));
    }
  }, 180_000);

  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('copies the video into the MP4 (remux): every decoded frame is the recorded one', async () => {
    expect(mp4Info?.video).toBe('copy');
    // Recorded without AAC (before the recorder wrote it): the audio is encoded here, as before.
    expect(mp4Info?.audio).toBe('encode');
    const mp4 = path.join(replayDir, 'replay.mp4');
    expect(recorded.length).toBeGreaterThan(100);
    // A re-encode (lossy, at another size or frame rate) would change every frame.
    expect(await decodedFrameHashes(['-i', mp4])).toEqual(recorded);
    const p = await probe(mp4);
    expect(p.streams.map((s) => s.codecName).sort()).toEqual(['aac', 'h264']);
    expect(Math.abs(p.durationMs! - output.durationMs)).toBeLessThanOrEqual(500);
    await decodeAll(mp4);
  });

  it('calls onPreview with the recorded H.264 and Opus in MP4 (video.mp4) before replay.mp4 exists', async () => {
    expect(preview).toBeDefined();
    expect(preview!.mp4Existed).toBe(false);
    expect(preview!.output).toEqual({ ...output, hls: null, mp4: null });
    const file = path.join(replayDir, 'video.mp4');
    const p = await probe(file);
    expect(p.formatName).toContain('mp4');
    expect(p.streams.map((s) => s.codecName).sort()).toEqual(['h264', 'opus']);
    expect(Math.abs(p.durationMs! - output.durationMs)).toBeLessThanOrEqual(500);
    // Copied, not encoded: every decoded frame is the recorded one, across both runs' sizes.
    expect(await decodedFrameHashes(['-i', file])).toEqual(recorded);
  });

  it('reports the largest recorded size, a poster, the preview, HLS, and no WebM (WebM cannot hold H.264)', async () => {
    expect(ReplayOutputSchema.parse(output)).toEqual(output);
    expect(output).toMatchObject({ width: 1280, height: 720, poster: 'poster.jpg', webm: null, videoMp4: 'video.mp4', hls: 'hls/index.m3u8' });
    expect(output.timeline.map((s) => s.offsetMs)).toEqual([1000, 6000]);
    const playlist = await readFile(path.join(replayDir, 'hls', 'index.m3u8'), 'utf8');
    const total = playlist.split('\n').filter((l) => l.startsWith('#EXTINF:')).reduce((sum, l) => sum + Number.parseFloat(l.slice(8)), 0);
    expect(Math.abs(total * 1000 - output.durationMs)).toBeLessThanOrEqual(500);
    expect((await readdir(replayDir)).sort()).toEqual(['hls', 'poster.jpg', 'replay.mp4', 'video.mp4']);
  });
});

/** The MD5 of every packet of the input's first audio stream, not decoded (`-c copy -f framemd5`). */
async function audioPacketHashes(input: string[]): Promise<string[]> {
  const { stdout } = await runFfmpeg([...input, '-map', '0:a:0', '-c', 'copy', '-f', 'framemd5', '-'], { timeoutMs: 60_000 });
  return stdout
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(',').at(-1)!.trim());
}

/** A stream's first pts and its span (s) in a file, from its packets. */
async function streamSpan(file: string, select: 'v:0' | 'a:0'): Promise<{ start: number; duration: number }> {
  const { stdout } = await runFfmpeg(['-v', 'error', '-select_streams', select, '-show_entries', 'packet=pts_time,duration_time', '-of', 'csv=p=0', file], {
    bin: 'ffprobe',
    timeoutMs: 30_000,
  });
  const rows = stdout.split('\n').map((l) => l.split(',').map(Number)).filter(([pts]) => Number.isFinite(pts));
  const start = Math.min(...rows.map(([pts]) => pts!));
  const end = Math.max(...rows.map(([pts, dur]) => pts! + (Number.isFinite(dur) ? dur! : 0)));
  return { start, duration: end - start };
}

describe('assembleReplay: an H.264 recording with its AAC recorded alongside (no encode at finalize)', () => {
  let root: string;
  let recordingDir: string;
  const runIds = ['r0000000001000-aaaa', 'r0000000006000-bbbb'];

  beforeAll(async () => {
    root = await tmpDir('assemble-aac');
    recordingDir = path.join(root, 'recordings', 'b1');
    // Two runs as the recorder leaves them with `aac`: segments, AAC segments, both lists, the index.
    for (const [k, runId] of runIds.entries()) {
      const dir = await writeRun(recordingDir, runId, 1000 + 5000 * k, {
        seconds: k === 0 ? 4 : 3, codec: 'h264', startSeconds: 1 + k, list: 'segments.csv', aacList: 'aac.csv', ...(k === 1 ? { size: '1280x720' } : {}),
      });
      const segments = parseSegmentList(await readFile(path.join(dir, 'segments.csv'), 'utf8'));
      const aac = parseSegmentList(await readFile(path.join(dir, 'aac.csv'), 'utf8'), 'aac');
      expect(aac.length).toBeGreaterThanOrEqual(2);
      await writeRunIndex(dir, { version: 1, segments, aac });
    }
  }, 120_000);

  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  const recordedAac = async (runId: string) => {
    const dir = path.join(recordingDir, runId);
    const files = (await readdir(dir)).filter((f) => /^aac-\d+\.mka$/.test(f)).sort();
    const list = path.join(root, `${runId}-aac.txt`);
    await writeFile(list, `ffconcat version 1.0\n${files.map((f) => `file '${path.join(dir, f)}'`).join('\n')}\n`);
    return audioPacketHashes(['-f', 'concat', '-safe', '0', '-i', list]);
  };

  it('copies the recorded AAC: the MP4\'s audio packets are the recorded ones, and audio lasts as long as video', async () => {
    const replayDir = path.join(root, 'replay-copy');
    let info: { video: string; audio: string } | undefined;
    const out = await assembleReplay({ recordingDir, replayDir, onMp4: (i) => (info = i) });
    expect(info).toMatchObject({ video: 'copy', audio: 'copy' });
    const mp4 = path.join(replayDir, 'replay.mp4');
    const [first, second] = [await recordedAac(runIds[0]!), await recordedAac(runIds[1]!)];
    const got = await audioPacketHashes(['-i', mp4]);
    // Run 1's packets, then run 2's, each up to its run's end (the parts are cut at the run's
    // duration, which may leave out run 1's last packet or two).
    expect(first.length).toBeGreaterThan(150);
    const same = (x: string[], y: string[]) => x.length === y.length && x.every((h, i) => h === y[i]);
    const cut = [0, 1, 2, 3]
      .map((d) => first.length - d)
      .find((n) => same(got.slice(0, n), first.slice(0, n)) && same(got.slice(n), second.slice(0, got.length - n)));
    expect(cut).toBeDefined();
    expect(second.length - (got.length - cut!)).toBeLessThanOrEqual(3);
    const [video, audio] = [await streamSpan(mp4, 'v:0'), await streamSpan(mp4, 'a:0')];
    expect(Math.abs(audio.duration - video.duration)).toBeLessThanOrEqual(0.1);
    expect(Math.abs(video.duration * 1000 - out.durationMs)).toBeLessThanOrEqual(100);
    expect(ReplayOutputSchema.parse(out)).toEqual(out);
    await decodeAll(mp4);
  });

  it('places the copied audio where the encode placed it (±1 AAC frame), and encodes a run whose AAC is not all indexed', async () => {
    const copied = path.join(root, 'replay-copy', 'replay.mp4');
    // The same recording without the AAC in the index: today's path for recordings made before it.
    const dir0 = path.join(recordingDir, runIds[0]!);
    const index = parseSegmentList(await readFile(path.join(dir0, 'segments.csv'), 'utf8'));
    const aac = parseSegmentList(await readFile(path.join(dir0, 'aac.csv'), 'utf8'), 'aac');
    await writeRunIndex(dir0, { version: 1, segments: index });
    let info: { audio: string } | undefined;
    await assembleReplay({ recordingDir, replayDir: path.join(root, 'replay-encoded'), onMp4: (i) => (info = i) });
    expect(info?.audio).toBe('mixed');
    // An AAC index that does not name every AAC segment (cut by a crash) is not trusted either.
    await writeRunIndex(dir0, { version: 1, segments: index, aac: aac.slice(0, -1) });
    await assembleReplay({ recordingDir, replayDir: path.join(root, 'replay-cut'), onMp4: (i) => (info = i) });
    expect(info?.audio).toBe('mixed');
    const encoded = path.join(root, 'replay-encoded', 'replay.mp4');
    const [a, b] = [await streamSpan(copied, 'a:0'), await streamSpan(encoded, 'a:0')];
    expect(Math.abs(a.start - b.start)).toBeLessThanOrEqual(0.022);
    expect(Math.abs(a.duration - b.duration)).toBeLessThanOrEqual(0.1);
    await writeRunIndex(dir0, { version: 1, segments: index, aac });
  });
});

describe('assembleReplay: an H.264 recording Chromium made (test/fixtures/chromium-h264-recording)', () => {
  // The recorder's segments of a 6 s Chromium broadcast (the community e2e test's), with the AAC
  // recorded alongside and the index: packet durations on some video packets and not others, as
  // the recorder writes them from RTP.
  let root: string;
  beforeAll(async () => {
    root = await tmpDir('assemble-chromium');
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('cuts an HLS whose segment lengths add up to the replay (hls.js plays to the end), and the MP4 as long', async () => {
    const recordingDir = path.join(root, 'recording');
    await cp(fileURLToPath(new URL('../../fixtures/chromium-h264-recording', import.meta.url)), recordingDir, { recursive: true });
    const replayDir = path.join(root, 'replay');
    const out = await assembleReplay({ recordingDir, replayDir });
    expect(out.durationMs).toBeGreaterThan(5500);
    const playlist = await readFile(path.join(replayDir, 'hls', 'index.m3u8'), 'utf8');
    const extinf = playlist.split('\n').filter((l) => l.startsWith('#EXTINF:')).map((l) => Number.parseFloat(l.slice(8)));
    expect(extinf.length).toBeGreaterThanOrEqual(2);
    expect(Math.abs(extinf.reduce((a, b) => a + b, 0) * 1000 - out.durationMs)).toBeLessThanOrEqual(100);
    // Each segment lasts what its EXTINF says (±1 frame), the last included.
    const names = playlist.split('\n').filter((l) => l && !l.startsWith('#'));
    for (const [k, name] of names.entries()) {
      const times = await videoPacketTimes(path.join(replayDir, 'hls', name));
      const next = names[k + 1] ? (await videoPacketTimes(path.join(replayDir, 'hls', names[k + 1]!)))[0]! : times.at(-1)! + 0.05;
      expect(Math.abs(next - times[0]! - extinf[k]!)).toBeLessThanOrEqual(0.06);
    }
    const mp4 = await streamSpan(path.join(replayDir, 'replay.mp4'), 'v:0');
    expect(Math.abs(mp4.duration * 1000 - out.durationMs)).toBeLessThanOrEqual(100);
  });
});
