import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { writeAtomic } from './writeAtomic.ts';

/**
 * The recording layout, one directory (storage prefix `recordings/<broadcastId>/<runId>`) per run:
 *
 *   <recordingDir>/<runId>/run.json        RunInfo
 *   (no SDP: it holds the SRTP keys and reaches ffmpeg through its stdin)
 *   <recordingDir>/<runId>/seg-00000.mkv   ...
 *   <recordingDir>/<runId>/aac-00000.mka   ...  the audio as AAC, H.264 runs only (recorderArgs `aac`)
 *   <recordingDir>/<runId>/index.json      the stored segments' start and end times (runIndex.ts)
 *   <recordingDir>/<runId>/segments.csv    ffmpeg's list (local disk only; may lack the last segment after a crash)
 */

/** `run.json`: where in the broadcast the run's media starts. */
export const RunInfoSchema = z.object({
  runId: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/),
  /** Milliseconds since the broadcast started at which the run's media starts (the chat clock). */
  offsetMs: z.number().int().min(0),
  startedAt: z.iso.datetime({ offset: true }),
});
export type RunInfo = z.infer<typeof RunInfoSchema>;

/** The run's metadata file, beside its segments. */
export const RUN_INFO = 'run.json';
const SEGMENT_NAME = /^seg-(\d+)\.mkv$/;
const AAC_SEGMENT_NAME = /^aac-(\d+)\.mka$/;

/** The number of a segment file (`seg-00042.mkv` → 42); null for any other name. */
export function segmentIndex(file: string): number | null {
  const m = SEGMENT_NAME.exec(file);
  return m ? Number(m[1]) : null;
}

/** The number of an AAC segment file (`aac-00042.mka` → 42, recorderArgs with `aac`); null for any other name. */
export function aacSegmentIndex(file: string): number | null {
  const m = AAC_SEGMENT_NAME.exec(file);
  return m ? Number(m[1]) : null;
}

/** A sortable run id: `r<13-digit ms>-<4 hex>`, e.g. r1732240000000-3fa2. */
export function newRunId(now: number = Date.now()): string {
  return `r${String(Math.floor(now)).padStart(13, '0')}-${randomBytes(2).toString('hex')}`;
}

/** Writes `<runDir>/run.json` atomically (temporary file, fsync, rename), creating runDir. */
export async function writeRunInfo(runDir: string, info: RunInfo): Promise<void> {
  const data = `${JSON.stringify(RunInfoSchema.parse(info))}\n`;
  await mkdir(runDir, { recursive: true });
  await writeAtomic(runDir, RUN_INFO, data);
}

export interface RunListing {
  runId: string;
  dir: string;
  offsetMs: number;
  startedAt: string;
  /** Absolute paths of the non-empty segments, in recording order. */
  segments: string[];
  /** Absolute paths of the non-empty AAC segments (`aac-NNNNN.mka`), in recording order; empty when none were recorded. */
  aacSegments: string[];
}

export interface SkippedRun {
  dir: string;
  reason: string;
}

/**
 * The runs of a recording that can be assembled, sorted by offsetMs (then runId), each
 * with its segments sorted by index (seg-2 before seg-10, whatever the zero padding),
 * zero-byte segments left out. Runs without a valid run.json or without segments are
 * returned in `skipped` with the reason. A missing recordingDir has no runs.
 */
export async function listRuns(recordingDir: string): Promise<{ runs: RunListing[]; skipped: SkippedRun[] }> {
  let entries;
  try {
    entries = await readdir(recordingDir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { runs: [], skipped: [] };
    throw err;
  }
  const runs: RunListing[] = [];
  const skipped: SkippedRun[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const dir = path.join(recordingDir, entry.name);
    const result = await readRun(dir, entry.name);
    if ('reason' in result) skipped.push(result);
    else runs.push(result);
  }
  runs.sort((a, b) => a.offsetMs - b.offsetMs || (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
  return { runs, skipped };
}

async function readRun(dir: string, name: string): Promise<RunListing | SkippedRun> {
  let text: string;
  try {
    text = await readFile(path.join(dir, RUN_INFO), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { dir, reason: 'no run.json' };
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { dir, reason: 'run.json is not JSON' };
  }
  const parsed = RunInfoSchema.safeParse(json);
  if (!parsed.success) return { dir, reason: `invalid run.json: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
  const info = parsed.data;
  if (info.runId !== name) return { dir, reason: `run.json names run ${info.runId}, not ${name}` };

  const numbered: Array<{ index: number; file: string }> = [];
  const aac: Array<{ index: number; file: string }> = [];
  for (const file of await readdir(dir)) {
    const index = segmentIndex(file);
    const aacIndex = aacSegmentIndex(file);
    if (index === null && aacIndex === null) continue;
    const full = path.join(dir, file);
    const st = await stat(full).catch(() => null); // removed meanwhile: not a segment any more
    if (!st?.isFile() || st.size === 0) continue;
    if (index !== null) numbered.push({ index, file: full });
    else if (aacIndex !== null) aac.push({ index: aacIndex, file: full });
  }
  if (numbered.length === 0) return { dir, reason: 'no segments' };
  numbered.sort((a, b) => a.index - b.index);
  aac.sort((a, b) => a.index - b.index);
  return {
    runId: info.runId, dir, offsetMs: info.offsetMs, startedAt: info.startedAt,
    segments: numbered.map((s) => s.file), aacSegments: aac.map((s) => s.file),
  };
}
