import { Migrator, sql, type Kysely, type Migration, type MigrationResult } from 'kysely';
import type { Logger } from '../../common/logger.ts';

/** The two supported SQL dialects. */
export type DialectName = 'sqlite' | 'postgres';

/**
 * Every schema migration, in order, defined in code so they ship inside the bundle.
 * One set for both dialects: the builder emits portable DDL (`text`, `bigint`, check
 * constraints, partial indexes); the only dialect-specific choice is the auto-numbered
 * `chat_messages.seq` column (`integer primary key` is SQLite's rowid, `bigserial` in PostgreSQL).
 * Never edit a migration that has shipped: add a new one.
 */
export function migrations(dialect: DialectName): Record<string, Migration> {
  return {
    '0001_initial': {
      // Migrations see the schema as it was then, not as `DB` describes it today.
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('users')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('username', 'text', (c) => c.notNull())
          .addColumn('username_lower', 'text', (c) => c.notNull())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('role', 'text', (c) => c.notNull().defaultTo('user'))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addUniqueConstraint('users_username_lower_key', ['username_lower'])
          .addCheckConstraint('users_role_check', sql`role in ('user', 'admin')`)
          .execute();

        await db.schema
          .createTable('sessions')
          .addColumn('token_hash', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('sessions_user_id_idx').on('sessions').column('user_id').execute();
        await db.schema.createIndex('sessions_expires_at_idx').on('sessions').column('expires_at').execute();

        await db.schema
          .createTable('broadcasts')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('visibility', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('started_at', 'bigint', (c) => c.notNull())
          .addColumn('ended_at', 'bigint')
          .addColumn('end_reason', 'text')
          .addCheckConstraint('broadcasts_visibility_check', sql`visibility in ('public', 'private')`)
          .addCheckConstraint('broadcasts_status_check', sql`status in ('live', 'reconnecting', 'ended')`)
          .execute();
        // listLive: not-ended broadcasts, newest first.
        await db.schema.createIndex('broadcasts_status_started_idx').on('broadcasts').columns(['status', 'started_at']).execute();
        // A user's broadcasts (replays, archive).
        await db.schema.createIndex('broadcasts_owner_started_idx').on('broadcasts').columns(['owner_id', 'started_at']).execute();
        // At most one broadcast per owner that has not ended: makes two racing "go live"
        // requests impossible to both succeed, and serves findLiveByOwner.
        await db.schema
          .createIndex('broadcasts_one_live_per_owner')
          .unique()
          .on('broadcasts')
          .column('owner_id')
          .where(sql.ref('status'), '<>', 'ended')
          .execute();

        await db.schema
          .createTable('broadcast_invitees')
          .addColumn('broadcast_id', 'text', (c) => c.notNull().references('broadcasts.id').onDelete('cascade'))
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addPrimaryKeyConstraint('broadcast_invitees_pkey', ['broadcast_id', 'user_id'])
          .execute();
        // Private broadcasts a user is invited to; also the cascade from users.
        await db.schema.createIndex('broadcast_invitees_user_id_idx').on('broadcast_invitees').column('user_id').execute();

        await db.schema
          .createTable('chat_messages')
          .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => c.primaryKey())
          .addColumn('id', 'text', (c) => c.notNull().unique())
          .addColumn('broadcast_id', 'text', (c) => c.notNull().references('broadcasts.id').onDelete('cascade'))
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('text', 'text', (c) => c.notNull())
          .addColumn('offset_ms', 'bigint', (c) => c.notNull())
          .addColumn('sent_at', 'bigint', (c) => c.notNull())
          .execute();
        // recent(): the newest N of a broadcast.
        await db.schema.createIndex('chat_messages_broadcast_seq_idx').on('chat_messages').columns(['broadcast_id', 'seq']).execute();
        // list(): a broadcast's messages in replay order.
        await db.schema
          .createIndex('chat_messages_broadcast_offset_idx')
          .on('chat_messages')
          .columns(['broadcast_id', 'offset_ms', 'seq'])
          .execute();
        // A user's messages (archive) and the cascade from users.
        await db.schema.createIndex('chat_messages_user_id_idx').on('chat_messages').column('user_id').execute();

        await db.schema
          .createTable('hearts')
          .addColumn('broadcast_id', 'text', (c) => c.notNull().references('broadcasts.id').onDelete('cascade'))
          .addColumn('offset_ms', 'bigint', (c) => c.notNull())
          .addColumn('count', 'integer', (c) => c.notNull())
          .addPrimaryKeyConstraint('hearts_pkey', ['broadcast_id', 'offset_ms'])
          .addCheckConstraint('hearts_count_check', sql`count > 0`)
          .execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        for (const table of ['hearts', 'chat_messages', 'broadcast_invitees', 'broadcasts', 'sessions', 'users']) {
          await db.schema.dropTable(table).execute();
        }
      },
    },

    '0002_replays': {
      async up(db: Kysely<unknown>): Promise<void> {
        // One replay per broadcast. File columns are names relative to the replay directory
        // (`<dataDir>/replays/<broadcast_id>/`); null until the worker reports the file.
        await db.schema
          .createTable('replays')
          .addColumn('broadcast_id', 'text', (c) => c.primaryKey().references('broadcasts.id').onDelete('cascade'))
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('reason', 'text')
          .addColumn('duration_ms', 'bigint')
          .addColumn('width', 'integer')
          .addColumn('height', 'integer')
          .addColumn('timeline', 'text', (c) => c.notNull().defaultTo('[]'))
          .addColumn('poster', 'text')
          .addColumn('webm', 'text')
          .addColumn('hls', 'text')
          .addColumn('mp4_name', 'text')
          .addColumn('mp4_size', 'bigint')
          .addColumn('mp4_sha256', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addCheckConstraint('replays_state_check', sql`state in ('recording', 'processing', 'ready', 'failed')`)
          // The MP4 is described completely or not at all.
          .addCheckConstraint(
            'replays_mp4_check',
            sql`(mp4_name is null and mp4_size is null and mp4_sha256 is null) or (mp4_name is not null and mp4_size is not null and mp4_sha256 is not null)`,
          )
          .execute();
        // listUnfinished: replays still recording or processing.
        await db.schema.createIndex('replays_state_idx').on('replays').column('state').execute();
        // listPublic: public broadcasts newest first (ties by id), each probed in replays by key.
        await db.schema
          .createIndex('broadcasts_visibility_started_idx')
          .on('broadcasts')
          .columns(['visibility', 'started_at', 'id'])
          .execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropIndex('broadcasts_visibility_started_idx').execute();
        await db.schema.dropTable('replays').execute();
      },
    },

    '0003_sunset': {
      async up(db: Kysely<unknown>): Promise<void> {
        // Sunset schedules: the current one has active = 1 (unique), cancelled ones null.
        // The phase is computed from the dates and the clock, never stored.
        await db.schema
          .createTable('sunset_schedules')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('announce_at', 'bigint', (c) => c.notNull())
          .addColumn('read_only_at', 'bigint', (c) => c.notNull())
          .addColumn('export_only_at', 'bigint', (c) => c.notNull())
          .addColumn('off_at', 'bigint', (c) => c.notNull())
          .addColumn('message', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('active', 'integer')
          .addColumn('cancelled_at', 'bigint')
          .addColumn('cancelled_by', 'text')
          .addUniqueConstraint('sunset_schedules_active_key', ['active'])
          .addCheckConstraint('sunset_schedules_active_check', sql`active is null or active = 1`)
          .addCheckConstraint(
            'sunset_schedules_order_check',
            sql`announce_at < read_only_at and read_only_at < export_only_at and export_only_at < off_at`,
          )
          .execute();

        // Admin actions. `seq` orders entries made in the same millisecond.
        await db.schema
          .createTable('audit_log')
          .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => c.primaryKey())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('actor_id', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('details', 'text', (c) => c.notNull().defaultTo('{}'))
          .execute();
        await db.schema.createIndex('audit_log_at_idx').on('audit_log').columns(['at', 'seq']).execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropTable('audit_log').execute();
        await db.schema.dropTable('sunset_schedules').execute();
      },
    },
    '0004_archives': {
      async up(db: Kysely<unknown>): Promise<void> {
        // A user's archives ("Download your data"). The zip lives in <dataDir>/archives/<id>/.
        await db.schema
          .createTable('archives')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('percent', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('file_name', 'text')
          .addColumn('size_bytes', 'bigint')
          .addColumn('sha256', 'text')
          .addColumn('reason', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint')
          .addCheckConstraint('archives_state_check', sql`state in ('building', 'ready', 'failed')`)
          .execute();
        await db.schema.createIndex('archives_user_created_idx').on('archives').columns(['user_id', 'created_at']).execute();
        // One archive being built per user at a time.
        await db.schema
          .createIndex('archives_one_building_per_user')
          .unique()
          .on('archives')
          .column('user_id')
          .where(sql.ref('state'), '=', 'building')
          .execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropTable('archives').execute();
      },
    },
    '0005_archives_deleted_at': {
      async up(db: Kysely<unknown>): Promise<void> {
        // Set when a ready archive's zip is deleted (a newer one replaced it, or it expired).
        await db.schema.alterTable('archives').addColumn('deleted_at', 'bigint').execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('archives').dropColumn('deleted_at').execute();
      },
    },
    '0006_broadcasts_origin_node': {
      async up(db: Kysely<unknown>): Promise<void> {
        // The node a broadcast is on air on (several nodes share one database).
        await db.schema.alterTable('broadcasts').addColumn('origin_node', 'text').execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('broadcasts').dropColumn('origin_node').execute();
      },
    },
    '0007_replays_mp4_crc32': {
      async up(db: Kysely<unknown>): Promise<void> {
        // The MP4's CRC-32, computed at finalize beside its SHA-256: an archive stores it in the
        // zip entry instead of reading the file again for it. bigint: a CRC reaches 2^32 - 1,
        // beyond PostgreSQL's integer. Null for replays finalized before (the archive computes it).
        await db.schema.alterTable('replays').addColumn('mp4_crc32', 'bigint').execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('replays').dropColumn('mp4_crc32').execute();
      },
    },
    '0008_replay_tombstones': {
      async up(db: Kysely<unknown>): Promise<void> {
        // A deleted replay: its broadcast row (and with it the replay, chat, hearts, invitees)
        // is gone; this row makes its links answer 410 and drives the removal of its files.
        // No foreign keys: it outlives the broadcast and may outlive the account.
        await db.schema
          .createTable('replay_tombstones')
          .addColumn('broadcast_id', 'text', (c) => c.primaryKey())
          .addColumn('owner_id', 'text', (c) => c.notNull())
          .addColumn('visibility', 'text', (c) => c.notNull())
          .addColumn('deleted_at', 'bigint', (c) => c.notNull())
          .addColumn('purged_at', 'bigint')
          .addCheckConstraint('replay_tombstones_visibility_check', sql`visibility in ('public', 'private')`)
          .execute();
        // The file sweep: tombstones whose files are still to be removed.
        await db.schema.createIndex('replay_tombstones_purged_idx').on('replay_tombstones').column('purged_at').execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropTable('replay_tombstones').execute();
      },
    },
    '0009_profiles_follows': {
      async up(db: Kysely<unknown>): Promise<void> {
        // What a user says about themselves; no row means the defaults (no display name, no
        // bio, the generated avatar). `avatar` is the version of the stored image
        // (`avatars/<user_id>/<avatar>/avatar.jpg`), a new one at every upload.
        await db.schema
          .createTable('profiles')
          .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
          .addColumn('display_name', 'text')
          .addColumn('bio', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('avatar', 'text')
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();

        // Who follows whom. Both directions go with either account (cascade).
        await db.schema
          .createTable('follows')
          .addColumn('follower_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('followee_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('follows_pkey', ['follower_id', 'followee_id'])
          .addCheckConstraint('follows_not_self_check', sql`follower_id <> followee_id`)
          .execute();
        // A user's followers (counts, and whom to notify when they go live).
        await db.schema.createIndex('follows_followee_idx').on('follows').columns(['followee_id', 'follower_id']).execute();

        // Notifications: one event (`id`) may go to many users, one row each. The broadcast
        // and the actor are joined when read (current title, name, and who may still see it);
        // they go with the broadcast or the actor's account.
        await db.schema
          .createTable('notifications')
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('id', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('actor_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('broadcast_id', 'text', (c) => c.notNull().references('broadcasts.id').onDelete('cascade'))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('read_at', 'bigint')
          .addPrimaryKeyConstraint('notifications_pkey', ['user_id', 'id'])
          .addCheckConstraint('notifications_kind_check', sql`kind in ('live')`)
          .execute();
        // A user's recent notifications, newest first; the cascades from actors and broadcasts.
        await db.schema.createIndex('notifications_user_created_idx').on('notifications').columns(['user_id', 'created_at']).execute();
        await db.schema.createIndex('notifications_actor_idx').on('notifications').column('actor_id').execute();
        await db.schema.createIndex('notifications_broadcast_idx').on('notifications').column('broadcast_id').execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropTable('notifications').execute();
        await db.schema.dropTable('follows').execute();
        await db.schema.dropTable('profiles').execute();
      },
    },
    '0010_moderation': {
      async up(db: Kysely<unknown>): Promise<void> {
        // A chat message removed by the broadcaster or an admin keeps its row with a removal
        // mark: gone from the live chat, the replay and every archive but its author's own,
        // where it shows as removed (docs/moderation.md). `removed_by` has no foreign key: the
        // mark outlives the remover's account.
        await db.schema.alterTable('chat_messages').addColumn('removed_at', 'bigint').execute();
        await db.schema.alterTable('chat_messages').addColumn('removed_by', 'text').execute();
        // 'broadcaster' or 'admin' (written by ModerationStore only; no check constraint, which
        // SQLite would not let the down migration drop with its column).
        await db.schema.alterTable('chat_messages').addColumn('removed_as', 'text').execute();

        // Who a broadcaster keeps out: no chat, no hearts, none of their broadcasts or replays.
        await db.schema
          .createTable('user_blocks')
          .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('blocked_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('user_blocks_pkey', ['owner_id', 'blocked_id'])
          .addCheckConstraint('user_blocks_not_self_check', sql`owner_id <> blocked_id`)
          .execute();
        // Whom a user is blocked by (the broadcast list) and the cascade from users.
        await db.schema.createIndex('user_blocks_blocked_id_idx').on('user_blocks').column('blocked_id').execute();

        // Slow mode: at most one chat message per this many seconds per person (0: off).
        await db.schema
          .alterTable('broadcasts')
          .addColumn('slow_mode_seconds', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('broadcasts').dropColumn('slow_mode_seconds').execute();
        await db.schema.dropTable('user_blocks').execute();
        for (const column of ['removed_as', 'removed_by', 'removed_at']) await db.schema.alterTable('chat_messages').dropColumn(column).execute();
      },
    },
    '0011_reports': {
      async up(db: Kysely<unknown>): Promise<void> {
        // Reports (docs/moderation.md). One per reporter and item (the unique key makes a second
        // report of the same item the same report). No foreign keys to the item: a report stays
        // (resolved) after its item is removed; it goes with its reporter's account.
        await db.schema
          .createTable('reports')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('reporter_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('target_kind', 'text', (c) => c.notNull())
          .addColumn('target_id', 'text', (c) => c.notNull())
          .addColumn('broadcast_id', 'text', (c) => c.notNull())
          .addColumn('target_user_id', 'text', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('details', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('state', 'text', (c) => c.notNull().defaultTo('open'))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('resolved_at', 'bigint')
          .addColumn('resolved_by', 'text')
          .addColumn('resolution', 'text')
          .addUniqueConstraint('reports_reporter_target_key', ['reporter_id', 'target_kind', 'target_id'])
          .addCheckConstraint('reports_kind_check', sql`target_kind in ('broadcast', 'replay', 'message')`)
          .addCheckConstraint('reports_state_check', sql`state in ('open', 'dismissed', 'actioned')`)
          .execute();
        // The queue: open reports, oldest first; resolving every open report of one item.
        await db.schema.createIndex('reports_state_created_idx').on('reports').columns(['state', 'created_at']).execute();
        await db.schema.createIndex('reports_target_idx').on('reports').columns(['target_kind', 'target_id', 'state']).execute();
        // Suspended accounts: a row while suspended (the audit log keeps the history).
        await db.schema
          .createTable('suspensions')
          .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('suspended_by', 'text', (c) => c.notNull())
          .addColumn('suspended_at', 'bigint', (c) => c.notNull())
          .execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.dropTable('suspensions').execute();
        await db.schema.dropTable('reports').execute();
      },
    },
    '0012_stream_keys': {
      async up(db: Kysely<unknown>): Promise<void> {
        // Stream keys (docs/ingest.md): an encoder goes live as the key's owner with the key's
        // title and visibility. Only the SHA-256 of the secret is stored; a revoked key stays
        // (revoked_at set) so a broadcast still names it, and goes with its owner's account.
        await db.schema
          .createTable('stream_keys')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('visibility', 'text', (c) => c.notNull())
          .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('last_used_at', 'bigint')
          .addColumn('revoked_at', 'bigint')
          .addCheckConstraint('stream_keys_visibility_check', sql`visibility in ('public', 'private')`)
          .execute();
        await db.schema.createIndex('stream_keys_user_idx').on('stream_keys').columns(['user_id', 'created_at']).execute();
        // Where a broadcast's media comes from, and the key an encoder started it with (a
        // resumed ingest finds its broadcast by it). No foreign key: keys are never deleted
        // while their owner exists, and both go with the account.
        await db.schema.alterTable('broadcasts').addColumn('source', 'text', (c) => c.notNull().defaultTo('browser')).execute();
        await db.schema.alterTable('broadcasts').addColumn('stream_key_id', 'text').execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('broadcasts').dropColumn('stream_key_id').execute();
        await db.schema.alterTable('broadcasts').dropColumn('source').execute();
        await db.schema.dropTable('stream_keys').execute();
      },
    },
    '0013_followers_only_chat': {
      async up(db: Kysely<unknown>): Promise<void> {
        // Followers-only chat (docs/moderation.md): 1 while only the broadcaster's followers
        // (and the broadcaster, and admins) may chat; 0 (the default) lets every signed-in viewer.
        await db.schema
          .alterTable('broadcasts')
          .addColumn('followers_only_chat', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('broadcasts').dropColumn('followers_only_chat').execute();
      },
    },
    '0014_replay_video_mp4': {
      async up(db: Kysely<unknown>): Promise<void> {
        // The preview of an H.264 replay (docs/recording.md): its H.264 and Opus as recorded, in MP4.
        await db.schema.alterTable('replays').addColumn('video_mp4', 'text').execute();
      },
      async down(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('replays').dropColumn('video_mp4').execute();
      },
    },
  };
}

/**
 * Brings the schema up to date. Safe to call on every start and from several processes at
 * once on PostgreSQL (Kysely holds an advisory lock); returns the names of the migrations
 * it applied (empty when the schema was already current).
 */
export async function migrateToLatest<T>(db: Kysely<T>, dialect: DialectName, logger: Logger): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(migrations(dialect)) },
  });
  const { error, results } = await migrator.migrateToLatest();
  const applied = (results ?? []).filter((r: MigrationResult) => r.status === 'Success').map((r) => r.migrationName);
  for (const r of results ?? []) {
    if (r.status === 'Error') logger.error({ migration: r.migrationName }, 'migration failed');
  }
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a migration may throw something other than an Error
  if (error) throw new Error(`database migration failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  if (applied.length > 0) logger.info({ applied, dialect }, 'database migrated');
  return applied;
}
