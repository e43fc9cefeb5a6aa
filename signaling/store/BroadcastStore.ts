import type { Kysely, Selectable } from 'kysely';
import { AppError } from '../../common/errors.ts';
import type { Visibility } from '../../common/protocol/events.ts';
import type { BroadcastId, UserId } from '../../common/protocol/ids.ts';
import { systemClock, toIso, type Clock, type StoreOptions } from './clock.ts';
import { isForeignKeyViolation, isUniqueViolation } from './dbErrors.ts';
import { newBroadcastId } from './newIds.ts';
import type { BroadcastSource, BroadcastsTable, BroadcastStatus, DB } from './schema.ts';
import { startedBefore, visibleTo } from './broadcastConditions.ts';

/** A broadcast as stored: who, what, who may watch, and where it is in its lifecycle. */
export interface BroadcastRecord {
  id: BroadcastId;
  ownerId: UserId;
  ownerUsername: string;
  title: string;
  visibility: Visibility;
  status: BroadcastStatus;
  /** ISO-8601 UTC. */
  startedAt: string;
  /** ISO-8601 UTC once ended, else null. */
  endedAt: string | null;
  endReason: string | null;
  /** The node it is (or was last) on air on; null on one host. */
  originNode: string | null;
  /** Users who may watch a private broadcast besides its owner. */
  invitees: UserId[];
  /** Where its media comes from: the go-live page ('browser') or an encoder ('whip', 'rtmp'). */
  source: BroadcastSource;
  /** The stream key an encoder started it with; null for the go-live page's. */
  streamKeyId: string | null;
}

/** Options of `BroadcastStore.listLive`. */
export interface ListLiveOptions {
  /** Most broadcasts returned. Default 100, at most 1000. */
  limit?: number;
}

/** Where a page of a newest-first list resumes: strictly after this (startedAt, id). */
export interface ListCursor {
  /** ISO-8601 UTC, as in `BroadcastRecord.startedAt`. */
  startedAt: string;
  id: BroadcastId;
}

/** Options of `BroadcastStore.listLiveVisible`. */
export interface ListVisibleOptions {
  /** Who asks: undefined is anonymous (public broadcasts only). */
  viewerId: UserId | undefined;
  /** Most broadcasts returned. Default 20, at most 100. */
  limit?: number;
  /** Resume after this broadcast (the last one of the previous page). */
  after?: ListCursor | undefined;
  /** Only broadcasts of the people this user follows ("Following — live now"). */
  followedBy?: UserId | undefined;
}

const ONE_LIVE_PER_OWNER = { constraint: 'broadcasts_one_live_per_owner', sqliteColumns: 'broadcasts.owner_id' };

type BroadcastRow = Selectable<BroadcastsTable> & { owner_username: string };

function toRecord(row: BroadcastRow, invitees: UserId[]): BroadcastRecord {
  return {
    id: row.id,
    ownerId: row.owner_id,
    ownerUsername: row.owner_username,
    title: row.title,
    visibility: row.visibility,
    status: row.status,
    startedAt: toIso(row.started_at),
    endedAt: row.ended_at === null ? null : toIso(row.ended_at),
    endReason: row.end_reason,
    originNode: row.origin_node,
    invitees,
    source: row.source,
    streamKeyId: row.stream_key_id,
  };
}

/**
 * Broadcasts and their invitees. At most one broadcast per owner is not ended (live or
 * reconnecting); the database enforces it, so racing "go live" requests cannot both win.
 */
export class BroadcastStore {
  readonly #db: Kysely<DB>;
  readonly #clock: Clock;

  constructor(db: Kysely<DB>, options: StoreOptions = {}) {
    this.#db = db;
    this.#clock = options.clock ?? systemClock;
  }

  #select(db: Kysely<DB>) {
    return db
      .selectFrom('broadcasts')
      .innerJoin('users', 'users.id', 'broadcasts.owner_id')
      .selectAll('broadcasts')
      .select('users.username as owner_username');
  }

  async #invitees(db: Kysely<DB>, ids: BroadcastId[]): Promise<Map<BroadcastId, UserId[]>> {
    const byBroadcast = new Map<BroadcastId, UserId[]>(ids.map((id) => [id, []]));
    if (ids.length === 0) return byBroadcast;
    const rows = await db
      .selectFrom('broadcast_invitees')
      .select(['broadcast_id', 'user_id'])
      .where('broadcast_id', 'in', ids)
      .orderBy('broadcast_id')
      .orderBy('user_id')
      .execute();
    for (const row of rows) byBroadcast.get(row.broadcast_id)?.push(row.user_id);
    return byBroadcast;
  }

  async #withInvitees(db: Kysely<DB>, rows: BroadcastRow[]): Promise<BroadcastRecord[]> {
    const invitees = await this.#invitees(
      db,
      rows.map((r) => r.id),
    );
    return rows.map((row) => toRecord(row, invitees.get(row.id) ?? []));
  }

  /**
   * Starts a broadcast: a new `b_…` id, status 'live', startedAt now, with its invitees, in
   * one transaction. The owner is not stored as an invitee; duplicates are dropped.
   * Throws AppError ALREADY_LIVE when the owner has a broadcast that has not ended, NOT_FOUND
   * when the owner or an invitee does not exist.
   */
  async create(b: {
    ownerId: UserId;
    title: string;
    visibility: Visibility;
    inviteeIds: UserId[];
    originNode?: string | null;
    /** Default 'browser'; an encoder's broadcast names its stream key. */
    source?: BroadcastSource;
    streamKeyId?: string | null;
  }): Promise<BroadcastRecord> {
    const id = newBroadcastId();
    const invitees = [...new Set(b.inviteeIds)].filter((u) => u !== b.ownerId);
    await this.#db.transaction().execute(async (trx) => {
      try {
        await trx
          .insertInto('broadcasts')
          .values({
            id,
            owner_id: b.ownerId,
            title: b.title,
            visibility: b.visibility,
            status: 'live',
            started_at: this.#clock(),
            origin_node: b.originNode ?? null,
            source: b.source ?? 'browser',
            stream_key_id: b.streamKeyId ?? null,
          })
          .execute();
        if (invitees.length > 0) {
          await trx
            .insertInto('broadcast_invitees')
            .values(invitees.map((user_id) => ({ broadcast_id: id, user_id })))
            .execute();
        }
      } catch (err) {
        if (isUniqueViolation(err, ONE_LIVE_PER_OWNER)) throw new AppError('ALREADY_LIVE', 'you already have a broadcast that has not ended');
        if (isForeignKeyViolation(err)) throw new AppError('NOT_FOUND', 'the owner or an invited user does not exist');
        throw err;
      }
    });
    const created = await this.get(id);
    if (!created) throw new Error(`broadcast ${id} vanished right after it was created`);
    return created;
  }

  /** The broadcast with this id, in any status. */
  async get(id: BroadcastId): Promise<BroadcastRecord | undefined> {
    const row = await this.#select(this.#db).where('broadcasts.id', '=', id).executeTakeFirst();
    return row && (await this.#withInvitees(this.#db, [row]))[0];
  }

  /** How many broadcasts are live or reconnecting (every visibility; for /metrics). */
  async countLive(): Promise<number> {
    const row = await this.#db
      .selectFrom('broadcasts')
      .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
      .where('status', 'in', ['live', 'reconnecting'])
      .executeTakeFirstOrThrow();
    // PostgreSQL's count is a bigint, which its driver returns as a string.
    return Number(row.n);
  }

  /**
   * Broadcasts that are live or reconnecting, newest first, of every visibility: the
   * caller filters with `canView`.
   */
  async listLive(opts: ListLiveOptions = {}): Promise<BroadcastRecord[]> {
    const limit = Math.min(Math.max(Math.trunc(opts.limit ?? 100), 0), 1000);
    if (limit === 0) return [];
    const rows = await this.#select(this.#db)
      .where('broadcasts.status', 'in', ['live', 'reconnecting'])
      .orderBy('broadcasts.started_at', 'desc')
      .orderBy('broadcasts.id', 'desc')
      .limit(limit)
      .execute();
    return this.#withInvitees(this.#db, rows);
  }

  /**
   * Broadcasts that are live or reconnecting AND that `viewerId` may see (public, or theirs,
   * or they are invited), newest first by (startedAt, id), one page. Filtered in SQL, so
   * broadcasts the caller may not see can never crowd the visible ones out of a page.
   */
  async listLiveVisible(opts: ListVisibleOptions): Promise<BroadcastRecord[]> {
    const limit = Math.min(Math.max(Math.trunc(opts.limit ?? 20), 0), 100);
    if (limit === 0) return [];
    const viewerId = opts.viewerId;
    const after = opts.after;
    let q = this.#select(this.#db).where('broadcasts.status', 'in', ['live', 'reconnecting']);
    q = q.where(visibleTo(viewerId));
    if (after) q = q.where(startedBefore(after));
    const followedBy = opts.followedBy;
    if (followedBy !== undefined) {
      q = q.where((eb) => eb('broadcasts.owner_id', 'in', eb.selectFrom('follows').select('follows.followee_id').where('follows.follower_id', '=', followedBy)));
    }
    const rows = await q.orderBy('broadcasts.started_at', 'desc').orderBy('broadcasts.id', 'desc').limit(limit).execute();
    return this.#withInvitees(this.#db, rows);
  }

  /** Every broadcast of an owner, oldest first (for their archive). */
  async listByOwner(ownerId: UserId): Promise<BroadcastRecord[]> {
    const rows = await this.#select(this.#db)
      .where('broadcasts.owner_id', '=', ownerId)
      .orderBy('broadcasts.started_at')
      .orderBy('broadcasts.id')
      .execute();
    return this.#withInvitees(this.#db, rows);
  }

  /** The owner's broadcast that is live or reconnecting (there is at most one). */
  async findLiveByOwner(ownerId: UserId): Promise<BroadcastRecord | undefined> {
    const row = await this.#select(this.#db)
      .where('broadcasts.owner_id', '=', ownerId)
      .where('broadcasts.status', '<>', 'ended')
      .executeTakeFirst();
    return row && (await this.#withInvitees(this.#db, [row]))[0];
  }

  /** Marks a broadcast live or reconnecting. No-op when it has ended or does not exist: an ended broadcast never comes back. */
  async setStatus(id: BroadcastId, status: 'live' | 'reconnecting'): Promise<void> {
    await this.#db.updateTable('broadcasts').set({ status }).where('id', '=', id).where('status', '<>', 'ended').execute();
  }

  /** Records the node a broadcast moved to (another node took it over). No-op once ended. */
  async setOriginNode(id: BroadcastId, node: string | null): Promise<void> {
    await this.#db.updateTable('broadcasts').set({ origin_node: node }).where('id', '=', id).where('status', '<>', 'ended').execute();
  }

  /**
   * Ends a broadcast if it is not ended yet; true only for the caller whose update ended it
   * (several nodes may try at once: exactly one is told true).
   */
  async endIfLive(id: BroadcastId, reason: string): Promise<boolean> {
    const r = await this.#db
      .updateTable('broadcasts')
      .set({ status: 'ended', ended_at: this.#clock(), end_reason: reason })
      .where('id', '=', id)
      .where('status', '<>', 'ended')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /**
   * Ends a broadcast and returns it; undefined when it does not exist. Idempotent: ending
   * an ended broadcast keeps its first endedAt and reason.
   */
  async end(id: BroadcastId, reason: string): Promise<BroadcastRecord | undefined> {
    await this.#db
      .updateTable('broadcasts')
      .set({ status: 'ended', ended_at: this.#clock(), end_reason: reason })
      .where('id', '=', id)
      .where('status', '<>', 'ended')
      .execute();
    return this.get(id);
  }

  /**
   * Ends every broadcast that is live or reconnecting; returns how many. For process start
   * with a single signalling node: broadcasts a crash left live have no media any more.
   */
  async endAllLive(reason: string): Promise<number> {
    const r = await this.#db
      .updateTable('broadcasts')
      .set({ status: 'ended', ended_at: this.#clock(), end_reason: reason })
      .where('status', '<>', 'ended')
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /**
   * Changes an ended broadcast's title and/or who may watch it (its replay's, since it is
   * over): `visibility` 'public' drops the invitees; 'private' replaces them with
   * `inviteeIds` (the owner is never stored as one; duplicates are dropped). One transaction.
   * Returns the broadcast as it is now; undefined when it does not exist. Throws AppError
   * WRONG_STATE while it is not ended, NOT_FOUND when an invitee does not exist.
   */
  async updateEnded(id: BroadcastId, change: { title?: string | undefined; visibility?: Visibility | undefined; inviteeIds?: UserId[] | undefined }): Promise<BroadcastRecord | undefined> {
    const found = await this.#db.transaction().execute(async (trx) => {
      const b = await trx.selectFrom('broadcasts').select(['owner_id', 'status']).where('id', '=', id).executeTakeFirst();
      if (!b) return false;
      if (b.status !== 'ended') throw new AppError('WRONG_STATE', 'the broadcast is still on air: its replay can be changed once it has ended');
      const set = { ...(change.title !== undefined ? { title: change.title } : {}), ...(change.visibility !== undefined ? { visibility: change.visibility } : {}) };
      if (Object.keys(set).length > 0) await trx.updateTable('broadcasts').set(set).where('id', '=', id).execute();
      if (change.visibility !== undefined) {
        await trx.deleteFrom('broadcast_invitees').where('broadcast_id', '=', id).execute();
        const invitees = change.visibility === 'private' ? [...new Set(change.inviteeIds ?? [])].filter((u) => u !== b.owner_id) : [];
        if (invitees.length > 0) {
          try {
            await trx
              .insertInto('broadcast_invitees')
              .values(invitees.map((user_id) => ({ broadcast_id: id, user_id })))
              .execute();
          } catch (err) {
            if (isForeignKeyViolation(err)) throw new AppError('NOT_FOUND', 'an invited user does not exist');
            throw err;
          }
        }
      }
      return true;
    });
    return found ? this.get(id) : undefined;
  }

  /** Whether a user (undefined: anonymous) may watch: public to everyone, private to the owner and invitees. */
  canView(b: BroadcastRecord, userId: UserId | undefined): boolean {
    if (b.visibility === 'public') return true;
    if (userId === undefined) return false;
    return b.ownerId === userId || b.invitees.includes(userId);
  }
}
