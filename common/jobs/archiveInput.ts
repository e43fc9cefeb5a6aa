import { z } from 'zod';
import { BroadcastIdSchema } from '../protocol/ids.ts';
import { TimelineSpanSchema } from './results.ts';

/**
 * The snapshot of what goes into a user's archive: written by the signalling process (from
 * the database) as `archives/<archiveId>/input.json` under the data directory, read by the
 * archive job (queues.ts), which never touches the database.
 */

const ArchiveChatSchema = z.strictObject({
  id: z.string(),
  username: z.string(),
  text: z.string(),
  /** ms since the broadcast started. */
  offsetMs: z.number().int().min(0),
  sentAt: z.string(),
  /**
   * Only on the archive owner's own messages: removed by the broadcaster or an admin (their
   * words stay in their own archive, marked; nobody else's archive has them). Absent: shown.
   */
  removed: z.strictObject({ by: z.enum(['broadcaster', 'admin']), at: z.string() }).optional(),
});

export const ArchiveInputSchema = z.strictObject({
  archiveId: z.string(),
  createdAt: z.string(),
  appVersion: z.string(),
  profile: z.strictObject({
    id: z.string(),
    username: z.string(),
    createdAt: z.string(),
    /** What the profile says (absent from snapshots of older versions). */
    displayName: z.string().nullable().optional(),
    bio: z.string().optional(),
    /** The stored avatar's version (`avatars/<id>/<avatar>/avatar.jpg`), copied as `profile/avatar.jpg`; null: none uploaded. */
    avatar: z
      .string()
      .regex(/^[A-Za-z0-9_-]{16}$/)
      .nullable()
      .optional(),
  }),
  /** The user's own broadcasts, each with its replay files (relative to `<dataDir>/replays/<id>/`) if any. */
  broadcasts: z.array(
    z.strictObject({
      id: BroadcastIdSchema,
      title: z.string(),
      visibility: z.enum(['public', 'private']),
      startedAt: z.string(),
      endedAt: z.string().nullable(),
      replay: z
        .strictObject({
          durationMs: z.number().int().min(0).nullable(),
          timeline: z.array(TimelineSpanSchema),
          /** e.g. 'replay.mp4', 'poster.jpg'; only files that exist. */
          files: z.array(z.string().regex(/^[a-z0-9._-]+$/)),
          /**
           * Size, SHA-256 (and CRC-32, when recorded) of replay files as recorded when the replay was finalized (the
           * MP4's): the archive states them in its manifest instead of hashing the files again,
           * when the file still has that size. Absent from snapshots of older versions.
           */
          hashes: z
            .record(
              z.string().regex(/^[a-z0-9._-]+$/),
              z.strictObject({
                sizeBytes: z.number().int().min(0),
                sha256: z.string().regex(/^[0-9a-f]{64}$/),
                /** Its CRC-32, when finalize recorded it: the zip entry carries it instead of reading the file for it. */
                crc32: z.number().int().min(0).max(0xffffffff).optional(),
              }),
            )
            .optional(),
        })
        .nullable(),
      chat: z.array(ArchiveChatSchema),
      hearts: z.array(z.strictObject({ offsetMs: z.number().int().min(0), count: z.number().int().min(1) })),
    }),
  ),
  /** Whom the user follows and who follows them (absent from snapshots of older versions). */
  follows: z
    .strictObject({
      following: z.array(z.strictObject({ username: z.string(), since: z.string() })),
      followers: z.array(z.strictObject({ username: z.string(), since: z.string() })),
    })
    .optional(),
  /** The user's notifications, newest first (absent from snapshots of older versions). */
  notifications: z
    .array(
      z.strictObject({
        id: z.string(),
        kind: z.string(),
        actor: z.string(),
        broadcastId: z.string(),
        broadcastTitle: z.string(),
        createdAt: z.string(),
        readAt: z.string().nullable(),
      }),
    )
    .optional(),
  /** The user's own messages in other people's broadcasts. */
  chatElsewhere: z.array(ArchiveChatSchema.extend({ broadcastId: z.string(), broadcastTitle: z.string() })),
});
export type ArchiveInput = z.infer<typeof ArchiveInputSchema>;
