import type { Kysely } from 'kysely';
import type { UserId } from '../../common/protocol/ids.ts';
import { systemClock, toIso, type Clock, type StoreOptions } from './clock.ts';
import { isForeignKeyViolation } from './dbErrors.ts';
import type { DB, Role } from './schema.ts';
import { DELETED_USER_ID } from './UserStore.ts';

/** A user with what their profile says (the defaults when they never edited it). */
export interface ProfileRecord {
  id: UserId;
  username: string;
  role: Role;
  /** When the account was made, ISO-8601 UTC. */
  createdAt: string;
  displayName: string | null;
  bio: string;
  /** The version of the stored avatar (`avatars/<id>/<avatar>/avatar.jpg`); null: the generated one. */
  avatar: string | null;
}

/** What a profile edit changes; absent fields stay. `displayName` null (or empty) clears it. */
export interface ProfileUpdate {
  displayName?: string | null | undefined;
  bio?: string | undefined;
}

/**
 * Profiles: a display name, a bio and the current avatar's version, one row per user that
 * edited theirs (table `profiles`, gone with the account). The "deleted user" account has no
 * profile: it is never found.
 */
export class ProfileStore {
  readonly #db: Kysely<DB>;
  readonly #clock: Clock;

  constructor(db: Kysely<DB>, options: StoreOptions = {}) {
    this.#db = db;
    this.#clock = options.clock ?? systemClock;
  }

  #select() {
    return this.#db
      .selectFrom('users')
      .leftJoin('profiles', 'profiles.user_id', 'users.id')
      .select(['users.id', 'users.username', 'users.role', 'users.created_at', 'profiles.display_name', 'profiles.bio', 'profiles.avatar'])
      .where('users.id', '<>', DELETED_USER_ID);
  }

  /** The profile of the user with this name, in any case. */
  async findByUsername(username: string): Promise<ProfileRecord | undefined> {
    const row = await this.#select().where('users.username_lower', '=', username.toLowerCase()).executeTakeFirst();
    return row && toRecord(row);
  }

  /** The profile of the user with this id. */
  async get(userId: UserId): Promise<ProfileRecord | undefined> {
    const row = await this.#select().where('users.id', '=', userId).executeTakeFirst();
    return row && toRecord(row);
  }

  /** Changes the display name and/or bio (the caller validates them); returns the profile, undefined when there is no such user. */
  async update(userId: UserId, change: ProfileUpdate): Promise<ProfileRecord | undefined> {
    const set = {
      ...(change.displayName !== undefined ? { display_name: change.displayName === '' ? null : change.displayName } : {}),
      ...(change.bio !== undefined ? { bio: change.bio } : {}),
    };
    if (!(await this.#upsert(userId, set))) return undefined;
    return this.get(userId);
  }

  /**
   * Sets the avatar's version (null: back to the generated one). Returns the version it
   * replaced (its files are the caller's to remove), or undefined when there is no such user.
   */
  async setAvatar(userId: UserId, version: string | null): Promise<{ previous: string | null } | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const user = await trx.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst();
      if (!user || userId === DELETED_USER_ID) return undefined;
      const before = await trx.selectFrom('profiles').select('avatar').where('user_id', '=', userId).executeTakeFirst();
      const now = this.#clock();
      await trx
        .insertInto('profiles')
        .values({ user_id: userId, avatar: version, display_name: null, updated_at: now })
        .onConflict((oc) => oc.column('user_id').doUpdateSet({ avatar: version, updated_at: now }))
        .execute();
      return { previous: before?.avatar ?? null };
    });
  }

  async #upsert(userId: UserId, set: { display_name?: string | null | undefined; bio?: string | undefined }): Promise<boolean> {
    if (userId === DELETED_USER_ID) return false;
    const user = await this.#db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst();
    if (!user) return false;
    const now = this.#clock();
    try {
      await this.#db
        .insertInto('profiles')
        .values({ user_id: userId, display_name: set.display_name ?? null, ...(set.bio !== undefined ? { bio: set.bio } : {}), avatar: null, updated_at: now })
        .onConflict((oc) =>
          oc.column('user_id').doUpdateSet({
            ...(set.display_name !== undefined ? { display_name: set.display_name } : {}),
            ...(set.bio !== undefined ? { bio: set.bio } : {}),
            updated_at: now,
          }),
        )
        .execute();
    } catch (err) {
      // The account was deleted between the lookup and here.
      if (isForeignKeyViolation(err)) return false;
      throw err;
    }
    return true;
  }
}

function toRecord(row: {
  id: UserId;
  username: string;
  role: Role;
  created_at: number;
  display_name: string | null;
  bio: string | null;
  avatar: string | null;
}): ProfileRecord {
  return {
    id: row.id,
    username: row.username,
    role: row.role,
    createdAt: toIso(row.created_at),
    displayName: row.display_name,
    bio: row.bio ?? '',
    avatar: row.avatar,
  };
}
