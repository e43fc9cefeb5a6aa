import type { Kysely } from 'kysely';
import { AppError } from '../../common/errors.ts';
import type { UserId } from '../../common/protocol/ids.ts';
import { systemClock, toIso, type Clock, type StoreOptions } from './clock.ts';
import { isUniqueViolation } from './dbErrors.ts';
import { newUserId } from './newIds.ts';
import type { DB, Role } from './schema.ts';

/** A user account as the rest of the process sees it (never with its password hash). */
/** The account that keeps the messages of deleted accounts in others' broadcasts; shown as "deleted user". */
export const DELETED_USER_ID = 'u_deleted-user' as UserId;
export const DELETED_USERNAME = 'deleted user';

export interface UserRecord {
  id: UserId;
  /** As typed at sign-up. */
  username: string;
  role: Role;
  /** ISO-8601 UTC. */
  createdAt: string;
}

const USERNAME_UNIQUE = { constraint: 'users_username_lower_key', sqliteColumns: 'users.username_lower' };

// Usernames are ASCII (UsernameSchema), so JS lowercasing is the same on every platform.
function lower(username: string): string {
  return username.toLowerCase();
}

/** User accounts. Usernames are unique case-insensitively and keep the case typed at sign-up. */
export class UserStore {
  readonly #db: Kysely<DB>;
  readonly #clock: Clock;

  constructor(db: Kysely<DB>, options: StoreOptions = {}) {
    this.#db = db;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Creates a user with role 'user'. The caller validates `username` (UsernameSchema) and
   * hashes the password. Throws AppError('USERNAME_TAKEN') when the name exists in any case,
   * also when two sign-ups race: the unique index decides, not a prior lookup.
   */
  async create(username: string, passwordHash: string): Promise<UserRecord> {
    const id = newUserId();
    const createdAt = this.#clock();
    try {
      await this.#db
        .insertInto('users')
        .values({ id, username, username_lower: lower(username), password_hash: passwordHash, created_at: createdAt })
        .execute();
    } catch (err) {
      if (isUniqueViolation(err, USERNAME_UNIQUE)) throw new AppError('USERNAME_TAKEN', `the username "${username}" is taken`);
      throw err;
    }
    return { id, username, role: 'user', createdAt: toIso(createdAt) };
  }

  /** The user with this name in any case, with the password hash (for sign-in only). */
  async findByUsername(username: string): Promise<(UserRecord & { passwordHash: string }) | undefined> {
    const row = await this.#db
      .selectFrom('users')
      .select(['id', 'username', 'role', 'created_at', 'password_hash'])
      .where('username_lower', '=', lower(username))
      .executeTakeFirst();
    return row && { id: row.id, username: row.username, role: row.role, createdAt: toIso(row.created_at), passwordHash: row.password_hash };
  }

  /** The user with this id. */
  async findById(id: UserId): Promise<UserRecord | undefined> {
    const row = await this.#db.selectFrom('users').select(['id', 'username', 'role', 'created_at']).where('id', '=', id).executeTakeFirst();
    return row && { id: row.id, username: row.username, role: row.role, createdAt: toIso(row.created_at) };
  }

  /**
   * Deletes an account for good, in one transaction: its messages in broadcasts that are not
   * its own are handed to the "deleted user" account (`DELETED_USER_ID`, made here once: it
   * has no usable password hash, and its name has a space, which no sign-up can take), then the
   * user row goes and with it, by cascade, sessions, broadcasts (and their replays, chat,
   * hearts, invitees), invitations and archives. Returns whether the account existed.
   */
  async deleteAccount(id: UserId): Promise<boolean> {
    if (id === DELETED_USER_ID) return false;
    return this.#db.transaction().execute(async (trx) => {
      await trx
        .insertInto('users')
        .values({ id: DELETED_USER_ID, username: DELETED_USERNAME, username_lower: DELETED_USERNAME, password_hash: '!', role: 'user', created_at: 0 })
        .onConflict((oc) => oc.doNothing())
        .execute();
      await trx.updateTable('chat_messages').set({ user_id: DELETED_USER_ID }).where('user_id', '=', id).execute();
      const r = await trx.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    });
  }

  /** Replaces the password hash of the account with this id; returns whether it exists. */
  async setPasswordHash(id: UserId, passwordHash: string): Promise<boolean> {
    const r = await this.#db.updateTable('users').set({ password_hash: passwordHash }).where('id', '=', id).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * Sets the role of the account with this id (admin is granted to an account, never to a
   * name that someone could register later). Returns false when there is no such account.
   */
  async setRole(id: UserId, role: Role): Promise<boolean> {
    const r = await this.#db.updateTable('users').set({ role }).where('id', '=', id).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** How many accounts there are. */
  async count(): Promise<number> {
    const row = await this.#db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Every user's id, in id order, a page at a time: those after `afterId`, at most `limit`. */
  async listIds(afterId: UserId | null, limit: number): Promise<UserId[]> {
    let q = this.#db.selectFrom('users').select('id').orderBy('id').limit(limit);
    if (afterId !== null) q = q.where('id', '>', afterId);
    return (await q.execute()).map((r) => r.id);
  }

  /**
   * Resolves usernames (any case) to ids in one query. The map is keyed by the lowercased
   * name; names without an account are absent.
   */
  async findIdsByUsernames(usernames: string[]): Promise<Map<string, UserId>> {
    const wanted = [...new Set(usernames.map(lower))];
    const found = new Map<string, UserId>();
    if (wanted.length === 0) return found;
    const rows = await this.#db.selectFrom('users').select(['id', 'username_lower']).where('username_lower', 'in', wanted).execute();
    for (const row of rows) found.set(row.username_lower, row.id);
    return found;
  }
}
