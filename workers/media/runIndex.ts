import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { writeAtomic } from './writeAtomic.ts';

/**
 * A run's segment index, `<runDir>/index.json`, written by the recorder while it records
 * (SegmentUploader, from ffmpeg's `segments.csv`) and stored with the segments, so that the
 * finalize job knows where every segment starts and ends without probing any of them.
 *
 * Each entry is a segment that was finished and stored: its run-clock start (the pts of the
 * packet that opened it: a video keyframe when the run has video, since the segment muxer
 * cuts only there) and end (the largest pts + duration in it), in ms. Entries are in
 * recording order. A run without an index (recorded before it existed), or whose index does
 * not name every segment (a crash before ffmpeg listed the last one), is probed as before.
 */
export const RUN_INDEX = 'index.json';
/** ffmpeg's own list (`-segment_list … -segment_list_type csv`), beside the segments. */
export const SEGMENT_LIST = 'segments.csv';
/** ffmpeg's list of the run's AAC segments (`aac-00000.mka`, ...: recorderArgs with `aac`). */
export const AAC_SEGMENT_LIST = 'aac.csv';

const SEGMENT_FILE = /^seg-\d{1,9}\.mkv$/;
const AAC_SEGMENT_FILE = /^aac-\d{1,9}\.mka$/;

const entrySchema = (file: RegExp) =>
  z
    .object({
      file: z.string().regex(file),
      startMs: z.number().min(0),
      endMs: z.number().min(0),
    })
    .refine((e) => e.endMs >= e.startMs, { message: 'endMs before startMs' });
const SegmentEntrySchema = entrySchema(SEGMENT_FILE);
const AacEntrySchema = entrySchema(AAC_SEGMENT_FILE);
export type SegmentEntry = z.infer<typeof SegmentEntrySchema>;

export const RunIndexSchema = z.object({
  version: z.literal(1),
  segments: z.array(SegmentEntrySchema).max(1_000_000),
  /**
   * The run's audio encoded to AAC while recording (H.264 runs with audio), in segments of its
   * own, listed like `segments`; absent when the recorder wrote none (VP8, no audio, or recorded
   * before it existed). The MP4's audio is then copied from them instead of encoded at finalize.
   */
  aac: z.array(AacEntrySchema).max(1_000_000).optional(),
});
export type RunIndex = z.infer<typeof RunIndexSchema>;

/**
 * The complete lines of ffmpeg's csv segment list (`file,start,end`, seconds), as entries.
 * A line ffmpeg is still writing (no newline yet) or that does not parse is left out; so is
 * a name that is not a segment's (ffmpeg quotes names with commas; ours have none). `kind`
 * 'aac' reads the AAC list (`aac-NNNNN.mka` names).
 */
export function parseSegmentList(csv: string, kind: 'video' | 'aac' = 'video'): SegmentEntry[] {
  const schema = kind === 'aac' ? AacEntrySchema : SegmentEntrySchema;
  const lines = csv.split('\n');
  lines.pop(); // after the last newline: empty, or a line being written
  const out: SegmentEntry[] = [];
  for (const line of lines) {
    const [file, start, end, ...rest] = line.trim().split(',');
    if (rest.length > 0 || start === undefined || end === undefined || start === '' || end === '') continue;
    const parsed = schema.safeParse({ file, startMs: Math.round(Number(start) * 1000), endMs: Math.round(Number(end) * 1000) });
    if (parsed.success) out.push(parsed.data);
  }
  return out;
}

/** Writes `<runDir>/index.json` atomically (temporary file, fsync, rename). */
export async function writeRunIndex(runDir: string, index: RunIndex): Promise<void> {
  const data = `${JSON.stringify(RunIndexSchema.parse(index))}\n`;
  await writeAtomic(runDir, RUN_INDEX, data);
}

/** The run's index, or why there is none usable (absent, not JSON, invalid). */
export async function readRunIndex(runDir: string): Promise<{ index: RunIndex } | { reason: string }> {
  let text: string;
  try {
    text = await readFile(path.join(runDir, RUN_INDEX), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { reason: 'no index.json' };
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { reason: 'index.json is not JSON' };
  }
  const parsed = RunIndexSchema.safeParse(json);
  if (!parsed.success) return { reason: `invalid index.json: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
  return { index: parsed.data };
}
