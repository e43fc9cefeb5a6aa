import { z } from 'zod';

/**
 * Branded identifiers: a `BroadcastId` cannot be passed where a `UserId` is expected.
 * The schemas validate shape at trust boundaries and produce the branded type.
 */
export const UserIdSchema = z.string().regex(/^u_[A-Za-z0-9_-]{8,40}$/, 'not a user id').brand<'UserId'>();
export type UserId = z.infer<typeof UserIdSchema>;

export const BroadcastIdSchema = z.string().regex(/^b_[A-Za-z0-9_-]{8,40}$/, 'not a broadcast id').brand<'BroadcastId'>();
export type BroadcastId = z.infer<typeof BroadcastIdSchema>;

export const ChatMessageIdSchema = z.string().regex(/^m_[A-Za-z0-9_-]{8,40}$/, 'not a message id').brand<'ChatMessageId'>();
export type ChatMessageId = z.infer<typeof ChatMessageIdSchema>;

/** mediasoup object ids (transports, producers, consumers) are UUIDs. */
export const MediaIdSchema = z.uuid();

/** Usernames: 3–32 characters, letters, digits, `_`, `.` and `-`; compared case-insensitively. */
export const UsernameSchema = z
  .string()
  .trim()
  .min(3, 'username must be at least 3 characters')
  .max(32, 'username must be at most 32 characters')
  .regex(/^[A-Za-z0-9_.-]+$/, 'username may contain only letters, digits, "_", "." and "-"');
