import type { Kysely } from 'kysely';
import { AppError } from '../../common/errors.ts';
import type { UserId } from '../../common/protocol/ids.ts';
import { systemClock, toIso, type Clock, type StoreOptions } from './clock.ts';
import { isForeignKeyViolation } from './dbErrors.ts';
import type { DB } from './schema.ts';

/** One side of a follow, as the archive lists it. */
export interface FollowEntry {
  userId: UserId;
  username: string;
  /** When the follow began, ISO-8601 UTC. */
  since: string;
}

/** One person of a profile's follower or following list, with what lists show of them. */
export interface FollowPerson {
  id: UserId;
  username: string;
  displayName: string | null;
  /** The stored avatar's version; null: the generated one. */
  avatar: string | null;
  /** When the follow began (epoch ms). */
  since: number;
}

/** Where a page of a follow list starts: after this follow (its time and the other person's id). */
export interface FollowCursor {
  since: number;
  id: UserId;
}

/**
 * Who follows whom (table `follows`). Following is idempotent; nobody follows themselves (the
 * caller refuses it with a clear message; a check constraint holds it too). Both directions
 * go with either account.
 */
export class FollowStore {
  readonly #db: Kysely<DB>;
  readonly #clock: Clock;

  constructor(db: Kysely<DB>, options: StoreOptions = {}) {
    this.#db = db;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * `followerId` follows `followeeId`. Returns true when it is new, false when they already did.
   * Throws AppError NOT_FOUND when either account does not exist (any more), VALIDATION_FAILED for oneself.
   */
  async follow(followerId: UserId, followeeId: UserId): Promise<boolean> {
    if (followerId === followeeId) throw new AppError('VALIDATION_FAILED', 'you cannot follow yourself');
    try {
      const r = await this.#db
        .insertInto('follows')
        .values({ follower_id: followerId, followee_id: followeeId, created_at: this.#clock() })
        .onConflict((oc) => oc.columns(['follower_id', 'followee_id']).doNothing())
        .executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new AppError('NOT_FOUND', 'user not found');
      throw err;
    }
  }

  /** Ends a follow; returns whether there was one. */
  async unfollow(followerId: UserId, followeeId: UserId): Promise<boolean> {
    const r = await this.#db.deleteFrom('follows').where('follower_id', '=', followerId).where('followee_id', '=', followeeId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Whether `followerId` follows `followeeId`. */
  async isFollowing(followerId: UserId, followeeId: UserId): Promise<boolean> {
    const row = await this.#db.selectFrom('follows').select('follower_id').where('follower_id', '=', followerId).where('followee_id', '=', followeeId).executeTakeFirst();
    return row !== undefined;
  }

  /** How many follow the user, and how many the user follows. */
  async counts(userId: UserId): Promise<{ followers: number; following: number }> {
    const count = async (column: 'followee_id' | 'follower_id') => {
      const row = await this.#db
        .selectFrom('follows')
        .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
        .where(column, '=', userId)
        .executeTakeFirstOrThrow();
      // PostgreSQL's count is a bigint, which its driver returns as a string.
      return Number(row.n);
    };
    const [followers, following] = await Promise.all([count('followee_id'), count('follower_id')]);
    return { followers, following };
  }

  /** The ids of the user's followers, a page at a time in id order: those after `afterId`, at most `limit` (1–5000). */
  async followerIds(userId: UserId, afterId: UserId | null, limit: number): Promise<UserId[]> {
    let q = this.#db
      .selectFrom('follows')
      .select('follower_id')
      .where('followee_id', '=', userId)
      .orderBy('follower_id')
      .limit(Math.min(Math.max(Math.trunc(limit), 1), 5000));
    if (afterId !== null) q = q.where('follower_id', '>', afterId);
    return (await q.execute()).map((r) => r.follower_id);
  }

  /**
   * One page of a profile's followers (`side: 'followers'`) or of whom it follows
   * (`'following'`), newest follow first, ties by id; after `after` when given; at most `limit`
   * (1–101).
   */
  async page(userId: UserId, side: 'followers' | 'following', limit: number, after?: FollowCursor): Promise<FollowPerson[]> {
    const [self, other] = side === 'followers' ? (['followee_id', 'follower_id'] as const) : (['follower_id', 'followee_id'] as const);
    let q = this.#db
      .selectFrom('follows')
      .innerJoin('users', 'users.id', `follows.${other}`)
      .leftJoin('profiles', 'profiles.user_id', 'users.id')
      .select(['users.id', 'users.username', 'profiles.display_name', 'profiles.avatar', 'follows.created_at'])
      .where(`follows.${self}`, '=', userId)
      .orderBy('follows.created_at', 'desc')
      .orderBy('users.id', 'desc')
      .limit(Math.min(Math.max(Math.trunc(limit), 1), 101));
    if (after) {
      q = q.where((eb) => eb.or([eb('follows.created_at', '<', after.since), eb.and([eb('follows.created_at', '=', after.since), eb('users.id', '<', after.id)])]));
    }
    const rows = await q.execute();
    return rows.map((r) => ({ id: r.id, username: r.username, displayName: r.display_name, avatar: r.avatar, since: Number(r.created_at) }));
  }

  /** Everyone the user follows, oldest follow first (their archive). */
  async listFollowing(userId: UserId): Promise<FollowEntry[]> {
    const rows = await this.#db
      .selectFrom('follows')
      .innerJoin('users', 'users.id', 'follows.followee_id')
      .select(['users.id', 'users.username', 'follows.created_at'])
      .where('follows.follower_id', '=', userId)
      .orderBy('follows.created_at')
      .orderBy('users.id')
      .execute();
    return rows.map((r) => ({ userId: r.id, username: r.username, since: toIso(r.created_at) }));
  }

  /** Everyone who follows the user, oldest follow first (their archive). */
  async listFollowers(userId: UserId): Promise<FollowEntry[]> {
    const rows = await this.#db
      .selectFrom('follows')
      .innerJoin('users', 'users.id', 'follows.follower_id')
      .select(['users.id', 'users.username', 'follows.created_at'])
      .where('follows.followee_id', '=', userId)
      .orderBy('follows.created_at')
      .orderBy('users.id')
      .execute();
    return rows.map((r) => ({ userId: r.id, username: r.username, since: toIso(r.created_at) }));
  }
}
