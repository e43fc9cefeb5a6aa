import { createHmac, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { UserId } from '../../common/protocol/ids.ts';
import { systemClock, toIso, type Clock, type StoreOptions } from './clock.ts';
import type { DB } from './schema.ts';
import type { UserRecord } from './UserStore.ts';

/** A signed-in session: its user, and the name of the session (not the token). */
export interface SessionRecord {
  user: UserRecord;
  /**
   * Names the session without being its token: the keyed hash the table stores. It cannot
   * be turned back into a token, so it may live in memory (socket.io rooms) and in logs.
   */
  sessionId: string;
}

/** Called with the ids of sessions that were just ended (sign-out, sign-out everywhere, …). */
export type SessionsRevokedListener = (sessionIds: string[]) => void;

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
  readonly #revokedListeners = new Set<SessionsRevokedListener>();

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
    return (await this.resolveSession(token))?.user;
  }

  /** The session of a token (its user and id); undefined for unknown, expired, revoked or malformed tokens. */
  async resolveSession(token: string): Promise<SessionRecord | undefined> {
    if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) return undefined;
    const sessionId = this.#hash(token);
    const row = await this.#db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select(['users.id', 'users.username', 'users.role', 'users.created_at'])
      .where('sessions.token_hash', '=', sessionId)
      .where('sessions.expires_at', '>', this.#clock())
      .executeTakeFirst();
    return row && { user: { id: row.id, username: row.username, role: row.role, createdAt: toIso(row.created_at) }, sessionId };
  }

  /** Whether the session with this id (see {@link SessionRecord.sessionId}) is still valid. */
  async isActive(sessionId: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('sessions')
      .select('user_id')
      .where('token_hash', '=', sessionId)
      .where('expires_at', '>', this.#clock())
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Calls `listener` after sessions are revoked through this store, with their ids (so their
   * open connections can be closed). Returns a function that removes the listener.
   */
  onRevoked(listener: SessionsRevokedListener): () => void {
    this.#revokedListeners.add(listener);
    return () => void this.#revokedListeners.delete(listener);
  }

  #emitRevoked(sessionIds: string[]): void {
    if (sessionIds.length === 0) return;
    for (const listener of [...this.#revokedListeners]) listener(sessionIds);
  }

  /** Ends the session of this token; returns its id, or undefined for unknown or malformed tokens. */
  async revoke(token: string): Promise<string | undefined> {
    if (typeof token !== 'string' || !TOKEN_SHAPE.test(token)) return undefined;
    const sessionId = this.#hash(token);
    const r = await this.#db.deleteFrom('sessions').where('token_hash', '=', sessionId).executeTakeFirst();
    // Listeners hear of it even when the row was already gone (a second sign-out, or expiry),
    // so that a connection still open under that session is closed all the same.
    this.#emitRevoked([sessionId]);
    return Number(r.numDeletedRows) > 0 ? sessionId : undefined;
  }

  /** Ends every session of a user (sign out everywhere, password change). Returns how many. */
  async revokeAllForUser(userId: UserId): Promise<number> {
    const rows = await this.#db.deleteFrom('sessions').where('user_id', '=', userId).returning('token_hash').execute();
    this.#emitRevoked(rows.map((r) => r.token_hash));
    return rows.length;
  }

  /**
   * Ends every session of a user but one (a password change keeps the session that made it).
   * Returns how many were ended.
   */
  async revokeOthersOfUser(userId: UserId, keepSessionId: string): Promise<number> {
    const rows = await this.#db.deleteFrom('sessions').where('user_id', '=', userId).where('token_hash', '<>', keepSessionId).returning('token_hash').execute();
    this.#emitRevoked(rows.map((r) => r.token_hash));
    return rows.length;
  }

  /** Deletes expired sessions (they already fail to resolve); call now and then. Returns how many. */
  async purgeExpired(): Promise<number> {
    const r = await this.#db.deleteFrom('sessions').where('expires_at', '<=', this.#clock()).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
