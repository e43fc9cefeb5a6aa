import type { Kysely } from 'kysely';
import type { UserId } from '../../common/protocol/ids.ts';
import type { Suspension, SuspendedUser } from '../../common/protocol/reports.ts';
import { systemClock, toIso, type Clock, type StoreOptions } from './clock.ts';
import { isForeignKeyViolation } from './dbErrors.ts';
import type { DB } from './schema.ts';

/**
 * Suspended accounts (docs/moderation.md): a suspended user can sign in, watch and download
 * their archive, but not go live, chat or follow. One row while suspended; suspending again
 * replaces the reason; the audit log keeps the history.
 */
export class SuspensionStore {
  readonly #db: Kysely<DB>;
  readonly #clock: Clock;

  constructor(db: Kysely<DB>, options: StoreOptions = {}) {
    this.#db = db;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Suspends an account (or replaces the reason of its suspension). Returns false when there
   * is no such account.
   */
  async suspend(userId: UserId, reason: string, by: string): Promise<boolean> {
    try {
      await this.#db
        .insertInto('suspensions')
        .values({ user_id: userId, reason, suspended_by: by, suspended_at: this.#clock() })
        .onConflict((oc) => oc.column('user_id').doUpdateSet({ reason, suspended_by: by }))
        .execute();
      return true;
    } catch (err) {
      if (isForeignKeyViolation(err)) return false;
      throw err;
    }
  }

  /** Lifts a suspension; returns whether the account was suspended. */
  async unsuspend(userId: UserId): Promise<boolean> {
    const r = await this.#db.deleteFrom('suspensions').where('user_id', '=', userId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Why the account is suspended, or undefined when it is not. */
  async get(userId: UserId): Promise<Suspension | undefined> {
    const row = await this.#db.selectFrom('suspensions').select(['reason', 'suspended_at']).where('user_id', '=', userId).executeTakeFirst();
    return row && { reason: row.reason, since: toIso(row.suspended_at) };
  }

  /**
   * Whether the account is suspended: the one question every gated action asks (going live,
   * chat, and following, which is built elsewhere and calls this). One primary-key lookup,
   * never cached, so a suspension holds from the next request on every node.
   */
  async isSuspended(userId: UserId): Promise<boolean> {
    return (await this.get(userId)) !== undefined;
  }

  /** Every suspended account, newest suspension first (at most `limit`, 1–500, default 100). */
  async list(limit = 100): Promise<SuspendedUser[]> {
    const rows = await this.#db
      .selectFrom('suspensions')
      .innerJoin('users', 'users.id', 'suspensions.user_id')
      .select(['suspensions.user_id', 'users.username', 'suspensions.reason', 'suspensions.suspended_by', 'suspensions.suspended_at'])
      .orderBy('suspensions.suspended_at', 'desc')
      .orderBy('suspensions.user_id')
      .limit(Math.min(Math.max(Math.trunc(limit), 1), 500))
      .execute();
    return rows.map((r) => ({ user: { id: r.user_id, username: r.username }, reason: r.reason, since: toIso(r.suspended_at), by: r.suspended_by }));
  }
}
