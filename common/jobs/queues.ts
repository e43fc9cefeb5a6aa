import { z } from 'zod';
import { BroadcastIdSchema } from '../protocol/ids.ts';

/**
 * The contract between the signalling process and the workers process, part one: queue
 * names, job ids and job payloads (validated with zod on both sides). The results the
 * workers report back are in results.ts, the recording-tap messages in tap.ts and the
 * archive snapshot in archiveInput.ts. Both processes import common/jobs/; signaling/ never
 * imports workers/ (see docs/architecture.md).
 */

/** BullMQ queue names. Each deployment prefixes them with its own `prefix` (config.queuePrefix). */
export const QUEUES = {
  /** One long-running job per broadcast: records its media into segments. */
  record: 'record',
  /** One job per ended broadcast: turns the segments into the replay. */
  finalize: 'finalize',
  /** Workers → signalling: state changes to store and show (durable, unlike pub/sub). */
  results: 'results',
  /** Per-user archives ("Download your data"). */
  archive: 'archive',
  /** Sunset: one job per user, run by the signalling process, that has their archive built in the background. */
  sweep: 'archive-sweep',
} as const;

/** Deterministic job ids make both jobs idempotent: adding one twice is a no-op. */
export const recordJobId = (broadcastId: string): string => `record-${broadcastId}`;
export const finalizeJobId = (broadcastId: string): string => `finalize-${broadcastId}`;

export const RecordJobSchema = z.strictObject({ broadcastId: BroadcastIdSchema });
export type RecordJob = z.infer<typeof RecordJobSchema>;

export const FinalizeJobSchema = z.strictObject({ broadcastId: BroadcastIdSchema });
export type FinalizeJob = z.infer<typeof FinalizeJobSchema>;

/**
 * A user's archive ("Download your data"). The signalling process snapshots what goes in
 * (from the database) into `<dataDir>/archives/<archiveId>/input.json` and enqueues the job;
 * the workers process streams the zip from that snapshot and the replay files, so it never
 * touches the database.
 */
export const ArchiveJobSchema = z.strictObject({
  archiveId: z.string().regex(/^a_[A-Za-z0-9_-]{8,40}$/),
  /** Background (sunset) archives are written no faster than this; absent = as fast as the disk allows. */
  maxBytesPerSecond: z.number().int().positive().optional(),
});
export type ArchiveJob = z.infer<typeof ArchiveJobSchema>;
export const archiveJobId = (archiveId: string): string => `archive-${archiveId}`;
