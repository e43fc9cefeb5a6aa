import type { Generated } from 'kysely';
import type { BroadcastId, ChatMessageId, ReportId, UserId } from '../../common/protocol/ids.ts';
import type { ReportKind, ReportReason, ReportState } from '../../common/protocol/reports.ts';
import type { BroadcastSource, Visibility } from '../../common/protocol/events.ts';
import type { ReplayState } from '../../common/protocol/replays.ts';

/**
 * The database schema as Kysely sees it. Times are epoch milliseconds (`bigint` columns,
 * read back as JS numbers on both dialects); the stores turn them into ISO strings.
 * Id columns carry the branded types: every row is written through the stores, which only
 * write ids built by the zod schemas, so reading them back as branded ids is sound.
 */
export interface DB {
  archives: ArchivesTable;
  users: UsersTable;
  sessions: SessionsTable;
  broadcasts: BroadcastsTable;
  broadcast_invitees: BroadcastInviteesTable;
  chat_messages: ChatMessagesTable;
  hearts: HeartsTable;
  replays: ReplaysTable;
  replay_tombstones: ReplayTombstonesTable;
  sunset_schedules: SunsetSchedulesTable;
  audit_log: AuditLogTable;
  profiles: ProfilesTable;
  follows: FollowsTable;
  notifications: NotificationsTable;
  user_blocks: UserBlocksTable;
  reports: ReportsTable;
  suspensions: SuspensionsTable;
  stream_keys: StreamKeysTable;
}

/** A user's role. Default 'user'. */
export type Role = 'user' | 'admin';

/** Broadcast lifecycle as stored. */
export type BroadcastStatus = 'live' | 'reconnecting' | 'ended';

export interface UsersTable {
  id: UserId;
  /** As typed at sign-up (display form). */
  username: string;
  /** `username` lowercased: the unique, case-insensitive lookup key. */
  username_lower: string;
  /** `scrypt$N$r$p$salt$hash`, see passwords.ts. */
  password_hash: string;
  role: Generated<Role>;
  created_at: number;
}

export interface SessionsTable {
  /** HMAC of the bearer token; the token itself is never stored. */
  token_hash: string;
  user_id: UserId;
  created_at: number;
  expires_at: number;
}

export interface BroadcastsTable {
  id: BroadcastId;
  owner_id: UserId;
  title: string;
  visibility: Visibility;
  status: BroadcastStatus;
  started_at: number;
  ended_at: number | null;
  end_reason: string | null;
  /** The node that hosts it (its origin; docs/scale.md); null on one host and for older rows. */
  origin_node: string | null;
  /** Slow mode (migration 0010): one chat message per this many seconds per person; 0 is off. */
  slow_mode_seconds: Generated<number>;
  /** Where its media comes from (migration 0012): the go-live page, or an encoder over WHIP or RTMP. */
  source: Generated<BroadcastSource>;
  /** The stream key an encoder started it with (migration 0012); null for the go-live page's. */
  stream_key_id: string | null;
  /** Followers-only chat (migration 0013): 1 on, 0 off. */
  followers_only_chat: Generated<number>;
}

export interface BroadcastInviteesTable {
  broadcast_id: BroadcastId;
  user_id: UserId;
}

export interface ChatMessagesTable {
  /** Insertion order: ties in `sent_at`/`offset_ms` are broken by it. */
  seq: Generated<number>;
  id: ChatMessageId;
  broadcast_id: BroadcastId;
  user_id: UserId;
  text: string;
  offset_ms: number;
  sent_at: number;
  /** When the broadcaster or an admin removed it (migration 0010); null while it shows. */
  removed_at: number | null;
  /** Who removed it (a user id; no foreign key: the mark outlives the account). */
  removed_by: string | null;
  /** In what right: 'broadcaster' or 'admin'. */
  removed_as: ChatRemovedAs | null;
}

/** In what right a chat message was removed. */
export type ChatRemovedAs = 'broadcaster' | 'admin';

/** A broadcaster keeps `blocked_id` out of their broadcasts and replays (migration 0010). */
export interface UserBlocksTable {
  owner_id: UserId;
  blocked_id: UserId;
  created_at: number;
}

export interface HeartsTable {
  broadcast_id: BroadcastId;
  /** Start of the flush interval, ms since the broadcast started. */
  offset_ms: number;
  count: number;
}

/** One replay per broadcast; see docs/persistence.md for its state machine. */
export interface ReplaysTable {
  broadcast_id: BroadcastId;
  state: ReplayState;
  /** Why processing failed, or why the recording stopped early; else null. */
  reason: string | null;
  duration_ms: number | null;
  width: number | null;
  height: number | null;
  /** JSON array of `TimelineSpan` (common/replay/timeline.ts). */
  timeline: Generated<string>;
  /** File names relative to `<dataDir>/replays/<broadcast_id>/`; null until reported. */
  poster: string | null;
  webm: string | null;
  /** The preview of an H.264 replay (migration 0014). */
  video_mp4: string | null;
  hls: string | null;
  mp4_name: string | null;
  mp4_size: number | null;
  /** Hex SHA-256 of the MP4. */
  mp4_sha256: string | null;
  /** CRC-32 of the MP4 (0 … 2³² − 1), from finalize; null for replays finalized before it was recorded (migration 0007). */
  mp4_crc32: number | null;
  created_at: number;
  updated_at: number;
}

/**
 * What is left of a deleted replay (migration 0009): its id answers 410 Gone (to everyone when
 * it was public, to its owner only when private) instead of 404, and the file sweep knows
 * whose files are still to be removed (`purged_at` null).
 */
export interface ReplayTombstonesTable {
  broadcast_id: BroadcastId;
  /** No foreign key: the tombstone outlives the broadcast row (and may outlive the account). */
  owner_id: UserId;
  visibility: Visibility;
  deleted_at: number;
  /** When its files (replay and recording) were last removed from the storage; null while still to do. */
  purged_at: number | null;
}

export type ArchiveState = 'building' | 'ready' | 'failed';

export interface ArchivesTable {
  id: string;
  user_id: UserId;
  state: ArchiveState;
  percent: Generated<number>;
  file_name: string | null;
  size_bytes: number | null;
  sha256: string | null;
  reason: string | null;
  created_at: number;
  updated_at: number;
  expires_at: number | null;
  /** When the zip was deleted (superseded by a newer archive, or past its expiry); its link answers 410. */
  deleted_at: number | null;
}

/**
 * Sunset schedules (migration `0003_sunset`). At most one is current: `active` is 1 on the
 * current row and null on cancelled or replaced ones (a unique column; NULLs never collide).
 */
export interface SunsetSchedulesTable {
  id: string;
  announce_at: number;
  read_only_at: number;
  export_only_at: number;
  off_at: number;
  message: string;
  /** Who scheduled it: a user id, or 'cli'. */
  created_by: string;
  created_at: number;
  active: number | null;
  cancelled_at: number | null;
  cancelled_by: string | null;
}

/** Admin actions: who did what, when (migration `0003_sunset`). */
export interface AuditLogTable {
  seq: Generated<number>;
  at: number;
  /** A user id, or 'cli'. */
  actor_id: string;
  /** e.g. 'sunset.schedule', 'sunset.cancel', 'user.grant-admin'. */
  action: string;
  /** JSON object text. */
  details: string;
}

/** What a user says about themselves (migration `0009_profiles_follows`); no row: the defaults. */
export interface ProfilesTable {
  user_id: UserId;
  /** Shown instead of the username when set. */
  display_name: string | null;
  bio: Generated<string>;
  /** The version of the stored avatar (`avatars/<user_id>/<avatar>/avatar.jpg`); null: the generated one. */
  avatar: string | null;
  updated_at: number;
}

/** `follower_id` follows `followee_id` (never themselves). */
export interface FollowsTable {
  follower_id: UserId;
  followee_id: UserId;
  created_at: number;
}

/** Kinds of notification. 'live': someone the user follows went live. */
export type NotificationKind = 'live';

/** One notification of one user; `id` names the event (the same for every recipient of it). */
export interface NotificationsTable {
  user_id: UserId;
  id: string;
  kind: NotificationKind;
  actor_id: UserId;
  broadcast_id: BroadcastId;
  created_at: number;
  read_at: number | null;
}

/**
 * Reports of users about a broadcast, a replay or a chat message (migration `0011_reports`).
 * One per (reporter, kind, target): reporting the same item again is the same report.
 */
export interface ReportsTable {
  id: ReportId;
  reporter_id: UserId;
  target_kind: ReportKind;
  /** A broadcast id (broadcast, replay) or a chat message id. */
  target_id: string;
  /** The broadcast the item belongs to (itself, or the message's). No foreign key: reports outlive removed items. */
  broadcast_id: BroadcastId;
  /** Whom the item belongs to (broadcaster or author), when reported. No foreign key. */
  target_user_id: UserId;
  reason: ReportReason;
  details: string;
  state: Generated<ReportState>;
  created_at: number;
  resolved_at: number | null;
  /** The admin's user id. */
  resolved_by: string | null;
  /** What was done: 'dismissed', 'removed', 'ended', 'suspended'. */
  resolution: string | null;
}

/** Suspended accounts (migration `0011_reports`): a row while suspended; the audit log keeps the history. */
export interface SuspensionsTable {
  user_id: UserId;
  reason: string;
  /** The admin's user id (or 'cli'). */
  suspended_by: string;
  suspended_at: number;
}

/** Where a broadcast's media comes from. */
export type { BroadcastSource };

/** A user's stream key (migration 0012): only the SHA-256 of its secret is kept. */
export interface StreamKeysTable {
  id: string;
  user_id: UserId;
  name: string;
  /** The title and visibility of the broadcasts started with it. */
  title: string;
  visibility: Visibility;
  /** base64url SHA-256 of the secret (`sk_…`); unique. */
  secret_hash: string;
  created_at: number;
  last_used_at: number | null;
  /** When revoked; a revoked key authorises nothing. */
  revoked_at: number | null;
}
