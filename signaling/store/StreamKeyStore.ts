import { createHash, randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { AppError } from '../../common/errors.ts';
import type { UserId } from '../../common/protocol/ids.ts';
import type { Visibility } from '../../common/protocol/events.ts';
import { STREAM_KEY_LIMITS } from '../../common/protocol/rules.ts';
import type { StreamKeyChange, StreamKeyView } from '../../common/protocol/streamKeys.ts';
import { systemClock, toIso, type Clock, type StoreOptions } from './clock.ts';
import { isForeignKeyViolation } from './dbErrors.ts';
import type { DB, StreamKeysTable } from './schema.ts';

/** What a secret authorises: the key, its owner, and the defaults of its broadcasts. */
export interface StreamKeyAuthorisation {
  id: string;
  userId: UserId;
  title: string;
  visibility: Visibility;
}

/** `sk_` and 32 random bytes, base64url: recognisable in a config file or a leak report. */
export const STREAM_KEY_PREFIX = 'sk_';
/** A well-formed secret: the prefix and exactly 43 base64url characters. */
const SECRET_PATTERN = /^sk_[A-Za-z0-9_-]{43}$/;

/** The stored form of a secret: base64url SHA-256 (the secret has 256 random bits: no salt or slow hash is needed). */
export function hashStreamKeySecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

function toView(row: Selectable<StreamKeysTable>): StreamKeyView {
  return {
    id: row.id,
    name: row.name,
    title: row.title,
    visibility: row.visibility,
    createdAt: toIso(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : toIso(row.last_used_at),
  };
}

/**
 * Stream keys (docs/ingest.md): a user's named keys, each the title and visibility of the
 * broadcasts an encoder starts with it. The secret is returned once, by `create`; only its
 * hash is stored. A revoked key is kept (its broadcasts name it) but authorises nothing and is
 * listed nowhere. At most {@link STREAM_KEY_LIMITS.perUser} unrevoked keys per user (counted
 * in the creating transaction; two creates racing on PostgreSQL may both pass at the last one).
 */
export class StreamKeyStore {
  readonly #db: Kysely<DB>;
  readonly #clock: Clock;

  constructor(db: Kysely<DB>, options: StoreOptions = {}) {
    this.#db = db;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * A new key for `userId`; its secret is in the answer and nowhere else.
   * @throws AppError WRONG_STATE at the limit of unrevoked keys, NOT_FOUND when the user does not exist.
   */
  async create(userId: UserId, k: { name: string; title: string; visibility: Visibility }): Promise<{ key: StreamKeyView; secret: string }> {
    const secret = `${STREAM_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const row = {
      id: `k_${randomBytes(12).toString('base64url')}`,
      user_id: userId,
      name: k.name,
      title: k.title,
      visibility: k.visibility,
      secret_hash: hashStreamKeySecret(secret),
      created_at: this.#clock(),
      last_used_at: null,
      revoked_at: null,
    };
    try {
      await this.#db.transaction().execute(async (trx) => {
        const { n } = await trx
          .selectFrom('stream_keys')
          .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
          .where('user_id', '=', userId)
          .where('revoked_at', 'is', null)
          .executeTakeFirstOrThrow();
        if (Number(n) >= STREAM_KEY_LIMITS.perUser) {
          throw new AppError('WRONG_STATE', `you have ${STREAM_KEY_LIMITS.perUser} stream keys: revoke one first`);
        }
        await trx.insertInto('stream_keys').values(row).execute();
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new AppError('NOT_FOUND', 'no such user');
      throw err;
    }
    return { key: toView(row), secret };
  }

  /** The user's unrevoked keys, oldest first. */
  async list(userId: UserId): Promise<StreamKeyView[]> {
    const rows = await this.#db
      .selectFrom('stream_keys')
      .selectAll()
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toView);
  }

  /** Changes the name, title or visibility of one of the user's unrevoked keys; undefined when there is none such (someone else's reads the same). */
  async update(userId: UserId, keyId: string, change: StreamKeyChange): Promise<StreamKeyView | undefined> {
    const set = {
      ...(change.name !== undefined ? { name: change.name } : {}),
      ...(change.title !== undefined ? { title: change.title } : {}),
      ...(change.visibility !== undefined ? { visibility: change.visibility } : {}),
    };
    if (Object.keys(set).length > 0) {
      await this.#db.updateTable('stream_keys').set(set).where('id', '=', keyId).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
    }
    const row = await this.#db.selectFrom('stream_keys').selectAll().where('id', '=', keyId).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
    return row && toView(row);
  }

  /** Revokes one of the user's keys: from now on it authorises nothing. False when the user has no such unrevoked key. */
  async revoke(userId: UserId, keyId: string): Promise<boolean> {
    const r = await this.#db
      .updateTable('stream_keys')
      .set({ revoked_at: this.#clock() })
      .where('id', '=', keyId)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * What `secret` authorises: its unrevoked key, looked up by the secret's hash (one unique-index
   * read), or undefined for a malformed, unknown or revoked one.
   */
  async authorise(secret: string): Promise<StreamKeyAuthorisation | undefined> {
    if (!SECRET_PATTERN.test(secret)) return undefined;
    const row = await this.#db
      .selectFrom('stream_keys')
      .select(['id', 'user_id', 'title', 'visibility'])
      .where('secret_hash', '=', hashStreamKeySecret(secret))
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row && { id: row.id, userId: row.user_id, title: row.title, visibility: row.visibility };
  }

  /** Whether the key is unrevoked (an ingest resuming checks again). */
  async isActive(keyId: string): Promise<boolean> {
    const row = await this.#db.selectFrom('stream_keys').select('id').where('id', '=', keyId).where('revoked_at', 'is', null).executeTakeFirst();
    return row !== undefined;
  }

  /** An encoder went live (or resumed) with the key just now. */
  async touch(keyId: string): Promise<void> {
    await this.#db.updateTable('stream_keys').set({ last_used_at: this.#clock() }).where('id', '=', keyId).execute();
  }
}
