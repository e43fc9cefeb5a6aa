import { z } from 'zod';
import { ID_PATTERNS, USERNAME_RULES } from './rules.ts';

/**
 * Branded identifiers: a `BroadcastId` cannot be passed where a `UserId` is expected.
 * The schemas validate shape at trust boundaries and produce the branded type.
 */
export const UserIdSchema = z.string().regex(ID_PATTERNS.user, 'not a user id').brand<'UserId'>();
export type UserId = z.infer<typeof UserIdSchema>;

export const BroadcastIdSchema = z.string().regex(ID_PATTERNS.broadcast, 'not a broadcast id').brand<'BroadcastId'>();
export type BroadcastId = z.infer<typeof BroadcastIdSchema>;

export const ChatMessageIdSchema = z.string().regex(ID_PATTERNS.chatMessage, 'not a message id').brand<'ChatMessageId'>();
export type ChatMessageId = z.infer<typeof ChatMessageIdSchema>;

export const ReportIdSchema = z.string().regex(ID_PATTERNS.report, 'not a report id').brand<'ReportId'>();
export type ReportId = z.infer<typeof ReportIdSchema>;

/** mediasoup object ids (transports, producers, consumers) are UUIDs. */
export const MediaIdSchema = z.uuid();

/** Usernames: 3–32 characters, letters, digits, `_`, `.` and `-`; compared case-insensitively. */
export const UsernameSchema = z
  .string()
  .trim()
  .min(USERNAME_RULES.min, `username must be at least ${USERNAME_RULES.min} characters`)
  .max(USERNAME_RULES.max, `username must be at most ${USERNAME_RULES.max} characters`)
  .regex(USERNAME_RULES.pattern, 'username may contain only letters, digits, "_", "." and "-"');
