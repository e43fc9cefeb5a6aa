import type { Kysely } from 'kysely';
import type { BroadcastId, UserId } from '../../common/protocol/ids.ts';
import { systemClock, toIso, type Clock, type StoreOptions } from './clock.ts';
import { isForeignKeyViolation } from './dbErrors.ts';
import { visibleTo } from './broadcastConditions.ts';
import type { DB, NotificationKind } from './schema.ts';

/** A notification as its user reads it: who did what, in which broadcast (current title and names). */
export interface NotificationRecord {
  id: string;
  kind: NotificationKind;
  actor: { id: UserId; username: string; displayName: string | null; avatar: string | null };
  broadcast: { id: BroadcastId; title: string };
  /** ISO-8601 UTC. */
  createdAt: string;
  /** ISO-8601 UTC once read, else null. */
  readAt: string | null;
}

/** Rows inserted per statement (7 values each: far below SQLite's and PostgreSQL's parameter limits). */
const CHUNK = 500;

/**
 * Notifications (table `notifications`): one row per recipient of an event. A notification
 * shows only while its user may still see its broadcast (public, theirs, or invited): one
 * about a broadcast made private since, or deleted, is gone from the list and the counts, as
 * the broadcast itself is (the no-oracle rule).
 */
export class NotificationStore {
  readonly #db: Kysely<DB>;
  readonly #clock: Clock;

  constructor(db: Kysely<DB>, options: StoreOptions = {}) {
    this.#db = db;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * `actorId` went live in `broadcastId`: one notification `id` for each of `recipients` (the
   * caller chose who may see it). Adding it again to the same user is a no-op. Returns how many
   * rows were added (0 when the broadcast or the actor is gone already) and when they were made.
   */
  async addLive(n: { id: string; actorId: UserId; broadcastId: BroadcastId; recipients: readonly UserId[] }): Promise<{ added: number; createdAt: string }> {
    const now = this.#clock();
    const createdAt = toIso(now);
    let added = 0;
    for (let i = 0; i < n.recipients.length; i += CHUNK) {
      const rows = n.recipients.slice(i, i + CHUNK).map((user_id) => ({
        user_id,
        id: n.id,
        kind: 'live' as const,
        actor_id: n.actorId,
        broadcast_id: n.broadcastId,
        created_at: now,
        read_at: null,
      }));
      try {
        const r = await this.#db
          .insertInto('notifications')
          .values(rows)
          .onConflict((oc) => oc.columns(['user_id', 'id']).doNothing())
          .executeTakeFirst();
        added += Number(r.numInsertedOrUpdatedRows ?? 0n);
      } catch (err) {
        // The broadcast (or an account) went meanwhile: nothing left to tell about.
        if (isForeignKeyViolation(err)) return { added, createdAt };
        throw err;
      }
    }
    return { added, createdAt };
  }

  /** The user's newest notifications first (at most `limit`, 1–100), those they may still see. */
  async list(userId: UserId, limit: number): Promise<NotificationRecord[]> {
    return this.#visible(userId, Math.min(Math.max(Math.trunc(limit), 1), 100));
  }

  /** How many of the user's notifications (that they may still see) are unread. */
  async unreadCount(userId: UserId): Promise<number> {
    const row = await this.#db
      .selectFrom('notifications')
      .innerJoin('broadcasts', 'broadcasts.id', 'notifications.broadcast_id')
      .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
      .where('notifications.user_id', '=', userId)
      .where('notifications.read_at', 'is', null)
      .where(visibleTo(userId))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Marks the user's notifications `ids` (or all of them) read; others' ids change nothing. Returns how many changed. */
  async markRead(userId: UserId, ids: readonly string[] | 'all'): Promise<number> {
    if (ids !== 'all' && ids.length === 0) return 0;
    let q = this.#db.updateTable('notifications').set({ read_at: this.#clock() }).where('user_id', '=', userId).where('read_at', 'is', null);
    if (ids !== 'all') q = q.where('id', 'in', [...ids]);
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /** Every notification of the user that they may still see, newest first (their archive; bounded so it never loads without limit). */
  async listAll(userId: UserId): Promise<NotificationRecord[]> {
    return this.#visible(userId, 100_000);
  }

  /** The user's notifications whose broadcast they may still see (public, theirs, or invited to), newest first. */
  async #visible(userId: UserId, limit: number): Promise<NotificationRecord[]> {
    const rows = await this.#db
      .selectFrom('notifications')
      .innerJoin('broadcasts', 'broadcasts.id', 'notifications.broadcast_id')
      .innerJoin('users as actor', 'actor.id', 'notifications.actor_id')
      .leftJoin('profiles', 'profiles.user_id', 'notifications.actor_id')
      .select([
        'notifications.id',
        'notifications.kind',
        'notifications.created_at',
        'notifications.read_at',
        'actor.id as actor_id',
        'actor.username as actor_username',
        'profiles.display_name as actor_display_name',
        'profiles.avatar as actor_avatar',
        'broadcasts.id as broadcast_id',
        'broadcasts.title as broadcast_title',
      ])
      .where('notifications.user_id', '=', userId)
      .where(visibleTo(userId))
      .orderBy('notifications.created_at', 'desc')
      .orderBy('notifications.id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      actor: { id: r.actor_id, username: r.actor_username, displayName: r.actor_display_name, avatar: r.actor_avatar },
      broadcast: { id: r.broadcast_id, title: r.broadcast_title },
      createdAt: toIso(r.created_at),
      readAt: r.read_at === null ? null : toIso(r.read_at),
    }));
  }
}
