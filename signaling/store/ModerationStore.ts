import type { Kysely } from 'kysely';
import { AppError } from '../../common/errors.ts';
import { LIMITS } from '../../common/protocol/rules.ts';
import type { ChatSettings } from '../../common/protocol/events.ts';
import type { BroadcastId, ChatMessageId, UserId } from '../../common/protocol/ids.ts';
import { systemClock, toIso, type Clock, type StoreOptions } from './clock.ts';
import { isForeignKeyViolation } from './dbErrors.ts';
import type { ChatRemovedAs, DB } from './schema.ts';

/** The slow-mode settings a broadcaster may choose: 0 (off) up to this many seconds. */
export const SLOW_MODE_MAX_SECONDS = LIMITS.slowModeMaxSeconds;

/** A chat message as moderation sees it: where it was said, by whom, and whether it was removed. */
export interface ModeratedMessage {
  id: ChatMessageId;
  broadcastId: BroadcastId;
  /** The broadcaster of the message's broadcast. */
  ownerId: UserId;
  authorId: UserId;
  removal: ChatRemoval | null;
}

/** The mark a removed message carries (it is never deleted by moderation). */
export interface ChatRemoval {
  /** Who removed it (a user id). */
  by: string;
  as: ChatRemovedAs;
  /** ISO-8601 UTC. */
  at: string;
}

/** One entry of a broadcaster's block list. */
export interface BlockEntry {
  user: { id: UserId; username: string };
  /** ISO-8601 UTC. */
  blockedAt: string;
}

/**
 * What broadcasters (and admins) decide about the people around a broadcast: chat messages
 * removed (a mark on the message, who and when; never a hard delete), users blocked by a
 * broadcaster, and each broadcast's chat settings (slow mode, followers-only). The callers authorise (signaling/moderation/).
 */
export class ModerationStore {
  readonly #db: Kysely<DB>;
  readonly #clock: Clock;

  constructor(db: Kysely<DB>, options: StoreOptions = {}) {
    this.#db = db;
    this.#clock = options.clock ?? systemClock;
  }

  // ------------------------------------------------------------ chat --

  /** A message with its broadcast's owner and its removal mark, or undefined for an unknown id. */
  async message(id: ChatMessageId): Promise<ModeratedMessage | undefined> {
    const row = await this.#db
      .selectFrom('chat_messages')
      .innerJoin('broadcasts', 'broadcasts.id', 'chat_messages.broadcast_id')
      .select([
        'chat_messages.id',
        'chat_messages.broadcast_id',
        'broadcasts.owner_id',
        'chat_messages.user_id',
        'chat_messages.removed_at',
        'chat_messages.removed_by',
        'chat_messages.removed_as',
      ])
      .where('chat_messages.id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      id: row.id,
      broadcastId: row.broadcast_id,
      ownerId: row.owner_id,
      authorId: row.user_id,
      removal: toRemoval(row),
    };
  }

  /**
   * Marks a message removed by `by` in the right `as`. Idempotent: a message removed before keeps
   * its first mark (who removed it first, and when), which is returned. Undefined for an unknown id.
   */
  async removeMessage(id: ChatMessageId, by: UserId, as: ChatRemovedAs): Promise<ModeratedMessage | undefined> {
    await this.#db
      .updateTable('chat_messages')
      .set({ removed_at: this.#clock(), removed_by: by, removed_as: as })
      .where('id', '=', id)
      .where('removed_at', 'is', null)
      .execute();
    return this.message(id);
  }

  // ---------------------------------------------------------- blocks --

  /**
   * `ownerId` blocks `userId` (idempotent: blocking again keeps the first date). Throws AppError
   * VALIDATION_FAILED for oneself, NOT_FOUND when either user does not exist.
   */
  async block(ownerId: UserId, userId: UserId): Promise<void> {
    if (ownerId === userId) throw new AppError('VALIDATION_FAILED', 'you cannot block yourself');
    try {
      await this.#db
        .insertInto('user_blocks')
        .values({ owner_id: ownerId, blocked_id: userId, created_at: this.#clock() })
        .onConflict((oc) => oc.columns(['owner_id', 'blocked_id']).doNothing())
        .execute();
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new AppError('NOT_FOUND', 'user not found');
      throw err;
    }
  }

  /** `ownerId` lets `userId` back in; false when they were not blocked. */
  async unblock(ownerId: UserId, userId: UserId): Promise<boolean> {
    const res = await this.#db.deleteFrom('user_blocks').where('owner_id', '=', ownerId).where('blocked_id', '=', userId).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  /**
   * Whether `ownerId` blocked `userId`: the one check every place that lets a user near someone
   * else's broadcasts, replays (and later their profile: following) asks. Never true for oneself.
   */
  async isBlocked(ownerId: UserId, userId: UserId): Promise<boolean> {
    if (ownerId === userId) return false;
    const row = await this.#db
      .selectFrom('user_blocks')
      .select('owner_id')
      .where('owner_id', '=', ownerId)
      .where('blocked_id', '=', userId)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** The owners who blocked `userId` (to leave their broadcasts and replays out of lists). */
  async blockersOf(userId: UserId): Promise<Set<UserId>> {
    const rows = await this.#db.selectFrom('user_blocks').select('owner_id').where('blocked_id', '=', userId).execute();
    return new Set(rows.map((r) => r.owner_id));
  }

  /** Whom `ownerId` blocked, newest first. */
  async listBlocked(ownerId: UserId): Promise<BlockEntry[]> {
    const rows = await this.#db
      .selectFrom('user_blocks')
      .innerJoin('users', 'users.id', 'user_blocks.blocked_id')
      .select(['users.id', 'users.username', 'user_blocks.created_at'])
      .where('user_blocks.owner_id', '=', ownerId)
      .orderBy('user_blocks.created_at', 'desc')
      .orderBy('users.username_lower')
      .execute();
    return rows.map((r) => ({ user: { id: r.id, username: r.username }, blockedAt: toIso(r.created_at) }));
  }

  // ------------------------------------------------------- slow mode --

  /** A broadcast's slow mode in seconds (0: off; also 0 for an unknown broadcast). */
  async slowMode(broadcastId: BroadcastId): Promise<number> {
    const row = await this.#db.selectFrom('broadcasts').select('slow_mode_seconds').where('id', '=', broadcastId).executeTakeFirst();
    return row ? Number(row.slow_mode_seconds) : 0;
  }

  /** Sets a broadcast's slow mode (whole seconds, 0 to SLOW_MODE_MAX_SECONDS); false for an unknown broadcast. */
  async setSlowMode(broadcastId: BroadcastId, seconds: number): Promise<boolean> {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > SLOW_MODE_MAX_SECONDS) {
      throw new AppError('VALIDATION_FAILED', `slow mode must be a whole number of seconds from 0 to ${SLOW_MODE_MAX_SECONDS}`);
    }
    const res = await this.#db.updateTable('broadcasts').set({ slow_mode_seconds: seconds }).where('id', '=', broadcastId).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  // ------------------------------------------------------ chat settings --

  /** A broadcast's chat settings: slow mode and followers-only (off, off for an unknown broadcast). */
  async chatSettings(broadcastId: BroadcastId): Promise<ChatSettings> {
    const row = await this.#db.selectFrom('broadcasts').select(['slow_mode_seconds', 'followers_only_chat']).where('id', '=', broadcastId).executeTakeFirst();
    return row ? { slowModeSeconds: Number(row.slow_mode_seconds), followersOnly: Number(row.followers_only_chat) === 1 } : { slowModeSeconds: 0, followersOnly: false };
  }

  /** Turns a broadcast's followers-only chat on or off; false for an unknown broadcast. */
  async setFollowersOnly(broadcastId: BroadcastId, on: boolean): Promise<boolean> {
    const res = await this.#db.updateTable('broadcasts').set({ followers_only_chat: on ? 1 : 0 }).where('id', '=', broadcastId).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }
}

function toRemoval(row: { removed_at: number | null; removed_by: string | null; removed_as: ChatRemovedAs | null }): ChatRemoval | null {
  if (row.removed_at === null) return null;
  return { by: row.removed_by ?? '', as: row.removed_as ?? 'broadcaster', at: toIso(Number(row.removed_at)) };
}
