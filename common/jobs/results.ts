import { z } from 'zod';
import { BroadcastIdSchema } from '../protocol/ids.ts';

/**
 * What the workers report back to the signalling process through the `results` queue
 * (queues.ts): recording state, replay outputs and archive progress. One consumer reads the
 * queue (signaling/results/WorkerResults.ts) and hands each result to the domain it is for.
 */

/** One span of a replay's timeline (common/replay/timeline.ts). */
export const TimelineSpanSchema = z.strictObject({
  offsetMs: z.number().int().min(0),
  mediaStartMs: z.number().int().min(0),
  durationMs: z.number().int().min(0),
});

const FileInfoSchema = z.strictObject({
  /** Path relative to the replay directory. */
  name: z.string().min(1),
  sizeBytes: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** The file's CRC-32 (what a zip entry of it carries), computed in the same pass as its SHA-256; absent from workers of older versions. */
  crc32: z.number().int().min(0).max(0xffffffff).optional(),
});

/** What the finalize job reports when the quick remux is watchable ('preview') and when all is done ('ready'). */
export const ReplayOutputSchema = z.strictObject({
  durationMs: z.number().int().min(0),
  width: z.number().int().min(0).nullable(),
  height: z.number().int().min(0).nullable(),
  timeline: z.array(TimelineSpanSchema),
  /** Relative to the replay directory: 'poster.jpg', 'video.webm', 'video.mp4', 'replay.mp4', 'hls/index.m3u8'. */
  poster: z.string().nullable(),
  /** The preview of a VP8/VP9 recording: its streams as recorded, in WebM. */
  webm: z.string().nullable(),
  /** The preview of an H.264 recording: its H.264 and Opus as recorded, in MP4; absent from workers of older versions. */
  videoMp4: z.string().nullable().default(null),
  hls: z.string().nullable(),
  mp4: FileInfoSchema.nullable(),
});
export type ReplayOutput = z.infer<typeof ReplayOutputSchema>;

/** Reports from the workers to the signalling process, through the `results` queue. */
export const ResultJobSchema = z.union([
  /** The recording started (first run), or stopped before the broadcast ended, with why. */
  z.strictObject({
    type: z.literal('recording'),
    broadcastId: BroadcastIdSchema,
    state: z.enum(['started', 'stopped']),
    reason: z.string().max(500).nullable(),
  }),
  z.strictObject({
    type: z.literal('replay'),
    broadcastId: BroadcastIdSchema,
    state: z.enum(['preview', 'ready']),
    output: ReplayOutputSchema,
  }),
  z.strictObject({
    type: z.literal('replay'),
    broadcastId: BroadcastIdSchema,
    state: z.literal('failed'),
    reason: z.string().max(500),
  }),
  /** Archive progress (0–100), throttled by the worker to about one a second. */
  z.strictObject({ type: z.literal('archive'), archiveId: z.string(), state: z.literal('progress'), percent: z.number().min(0).max(100) }),
  z.strictObject({
    type: z.literal('archive'),
    archiveId: z.string(),
    state: z.literal('ready'),
    /** Relative to `<dataDir>/archives/<archiveId>/`. */
    fileName: z.string().regex(/^[A-Za-z0-9._-]+\.zip$/),
    sizeBytes: z.number().int().min(0),
    /** The SHA-256 of the zip's manifest.json, the archive's published checksum (docs/archives.md, "Integrity"). */
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
  z.strictObject({ type: z.literal('archive'), archiveId: z.string(), state: z.literal('failed'), reason: z.string().max(500) }),
]);
export type ResultJob = z.infer<typeof ResultJobSchema>;
/** The results the replay domain applies (signaling/recording/RecordingService.ts). */
export type ReplayResult = Extract<ResultJob, { type: 'recording' | 'replay' }>;
/** The results the archive domain applies (signaling/archive/ArchiveService.ts). */
export type ArchiveResult = Extract<ResultJob, { type: 'archive' }>;
