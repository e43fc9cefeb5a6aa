import { createHmac, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { UserId } from '../../common/protocol/ids.ts';
import { systemClock, toIso, type Clock, type StoreOptions } from './clock.ts';
import type { DB } from './schema.ts';
import type { UserRecord } from './UserStore.ts';

const TOKEN_BYTES = 32;
// 32 bytes in base64url without padding.
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Sign-in sessions with opaque bearer tokens. A token is 32 random bytes (base64url); the
 * table holds only HMAC-SHA256 of it under a key derived from the process secret, so a
 * leaked database does not yield usable tokens, and tokens cannot be forged without the secret.
 */
export class SessionStore {
  readonly #db: Kysely<DB>;
  readonly #key: Buffer;
  readonly #clock: Clock;

  /**
   * @param secret the process secret (config.secret). Changing it signs everyone out.
   */
  constructor(db: Kysely<DB>, secret: string, options: StoreOptions = {}) {
    this.#db = db;
    // A subkey for this one purpose, so nothing else keyed with the secret can produce a
    // value that matches a stored token hash.
    this.#key = createHmac('sha256', secret).update('spyglass/session-token/v1').digest();
    this.#clock = options.clock ?? systemClock;
  }

  #hash(token: string): string {
    return createHmac('sha256', this.#key).update(token).digest('base64url');
  }

  /** Starts a session for `userId` lasting `ttlMs`; returns the bearer token (shown once, never stored). */
  async create(userId: UserId, ttlMs: number): Promise<string> {
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`session ttl must be a positive number of ms, got ${ttlMs}`);
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const now = this.#clock();
    await this.#db
      .insertInto('sessions')
      .values({ token_hash: this.#hash(token), user_id: userId, created_at: now, expires_at: now + Math.trunc(ttlMs) })
      .execute();
    return token;
  }

  /** The user a token belongs to; undefined for unknown, expired, revoked or malformed tokens. Never throws on bad input. */
  async resolve(token: string): Promise<UserRecord | undefined> {
    if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) return undefined;
    const row = await this.#db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select(['users.id', 'users.username', 'users.role', 'users.created_at'])
      .where('sessions.token_hash', '=', this.#hash(token))
      .where('sessions.expires_at', '>', this.#clock())
      .executeTakeFirst();
    return row && { id: row.id, username: row.username, role: row.role, createdAt: toIso(row.created_at) };
  }

  /** Ends the session of this token. No-op for unknown or malformed tokens. */
  async revoke(token: string): Promise<void> {
    if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) return;
    await this.#db.deleteFrom('sessions').where('token_hash', '=', this.#hash(token)).execute();
  }

  /** Ends every session of a user (sign out everywhere, password change). Returns how many. */
  async revokeAllForUser(userId: UserId): Promise<number> {
    const r = await this.#db.deleteFrom('sessions').where('user_id', '=', userId).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Deletes expired sessions (they already fail to resolve); call now and then. Returns how many. */
  async purgeExpired(): Promise<number> {
    const r = await this.#db.deleteFrom('sessions').where('expires_at', '<=', this.#clock()).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
