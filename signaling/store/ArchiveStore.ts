import { randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { AppError } from '../../common/errors.ts';
import type { UserId } from '../../common/protocol/ids.ts';
import { systemClock, toIso, type Clock, type StoreOptions } from './clock.ts';
import { isUniqueViolation } from './dbErrors.ts';
import type { ArchivesTable, ArchiveState, DB } from './schema.ts';

/** An archive as stored. */
export interface ArchiveRecord {
  id: string;
  userId: UserId;
  state: ArchiveState;
  percent: number;
  fileName: string | null;
  sizeBytes: number | null;
  sha256: string | null;
  reason: string | null;
  createdAt: string;
  /** ISO time after which the download link no longer works (ready archives). */
  expiresAt: string | null;
  /** ISO time its zip was deleted (a newer archive replaced it, or it expired); null while kept. */
  deletedAt: string | null;
}

const ONE_BUILDING = { constraint: 'archives_one_building_per_user', sqliteColumns: 'archives.user_id' };

/** A fresh `a_…` archive id. */
export function newArchiveId(): string {
  return `a_${randomBytes(12).toString('base64url')}`;
}

function toRecord(r: Selectable<ArchivesTable>): ArchiveRecord {
  return {
    id: r.id,
    userId: r.user_id,
    state: r.state,
    percent: Number(r.percent),
    fileName: r.file_name,
    sizeBytes: r.size_bytes === null ? null : Number(r.size_bytes),
    sha256: r.sha256,
    reason: r.reason,
    createdAt: toIso(Number(r.created_at)),
    expiresAt: r.expires_at === null ? null : toIso(Number(r.expires_at)),
    deletedAt: r.deleted_at == null ? null : toIso(Number(r.deleted_at)),
  };
}

/** Users' archives: at most one being built per user (the database enforces it). */
export class ArchiveStore {
  readonly #db: Kysely<DB>;
  readonly #clock: Clock;

  constructor(db: Kysely<DB>, options: StoreOptions = {}) {
    this.#db = db;
    this.#clock = options.clock ?? systemClock;
  }

  /** Starts a new archive. AppError ARCHIVE_IN_PROGRESS when the user already has one being built. */
  async create(userId: UserId): Promise<ArchiveRecord> {
    const now = this.#clock();
    const id = newArchiveId();
    try {
      await this.#db.insertInto('archives').values({ id, user_id: userId, state: 'building', created_at: now, updated_at: now }).execute();
    } catch (err) {
      if (isUniqueViolation(err, ONE_BUILDING)) throw new AppError('ARCHIVE_IN_PROGRESS', 'your archive is already being built');
      throw err;
    }
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- the row was inserted just above
    return (await this.get(id))!;
  }

  async get(id: string): Promise<ArchiveRecord | undefined> {
    const row = await this.#db.selectFrom('archives').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  }

  /** The user's newest archive. */
  async latestForUser(userId: UserId): Promise<ArchiveRecord | undefined> {
    const row = await this.#db
      .selectFrom('archives')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .executeTakeFirst();
    return row && toRecord(row);
  }

  /**
   * How many users have an archive made at or after `sinceMs` (ms), ready or being built: the
   * sunset pre-generation's progress (`npm run admin -- sunset show`).
   */
  async usersWithArchivesSince(sinceMs: number): Promise<{ ready: number; building: number }> {
    const rows = await this.#db
      .selectFrom('archives')
      .select(['state', (eb) => eb.fn.count<number>('user_id').distinct().as('users')])
      .where('created_at', '>=', sinceMs)
      .where('state', 'in', ['ready', 'building'])
      .groupBy('state')
      .execute();
    const of = (state: ArchiveState) => Number(rows.find((r) => r.state === state)?.users ?? 0);
    return { ready: of('ready'), building: of('building') };
  }

  /** Archives being built, oldest first (the repair of jobs a Redis restart lost). */
  async listBuilding(limit = 1000): Promise<ArchiveRecord[]> {
    const rows = await this.#db.selectFrom('archives').selectAll().where('state', '=', 'building').orderBy('created_at', 'asc').limit(limit).execute();
    return rows.map(toRecord);
  }

  /** Progress of an archive being built (never backwards). */
  async setProgress(id: string, percent: number): Promise<void> {
    const p = Math.max(0, Math.min(99, Math.floor(percent)));
    await this.#db
      .updateTable('archives')
      .set({ percent: p, updated_at: this.#clock() })
      .where('id', '=', id)
      .where('state', '=', 'building')
      .where('percent', '<', p)
      .execute();
  }

  /** Ready to download until `expiresAt`. Only from 'building'; returns whether it changed. */
  async markReady(id: string, f: { fileName: string; sizeBytes: number; sha256: string; expiresAt: number }): Promise<boolean> {
    const r = await this.#db
      .updateTable('archives')
      .set({ state: 'ready', percent: 100, file_name: f.fileName, size_bytes: f.sizeBytes, sha256: f.sha256, expires_at: f.expiresAt, updated_at: this.#clock() })
      .where('id', '=', id)
      .where('state', '=', 'building')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * The user's ready archives whose zip is still kept, newest first (by creation): the first
   * is the one to keep, the others are superseded.
   */
  async keptReady(userId: UserId): Promise<ArchiveRecord[]> {
    const rows = await this.#db
      .selectFrom('archives')
      .selectAll()
      .where('user_id', '=', userId)
      .where('state', '=', 'ready')
      .where('deleted_at', 'is', null)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    return rows.map(toRecord);
  }

  /** Users with more than one ready archive still kept (leftovers of a superseded archive). */
  async usersWithSuperseded(): Promise<UserId[]> {
    const rows = await this.#db
      .selectFrom('archives')
      .select('user_id')
      .where('state', '=', 'ready')
      .where('deleted_at', 'is', null)
      .groupBy('user_id')
      .having((eb) => eb.fn.countAll(), '>', 1)
      .execute();
    return rows.map((r) => r.user_id);
  }

  /** Ready archives still kept whose link expired at or before `nowMs`. */
  async expiredKept(nowMs: number): Promise<ArchiveRecord[]> {
    const rows = await this.#db
      .selectFrom('archives')
      .selectAll()
      .where('state', '=', 'ready')
      .where('deleted_at', 'is', null)
      .where('expires_at', '<=', nowMs)
      .execute();
    return rows.map(toRecord);
  }

  /** Records that a ready archive's zip is deleted (its link answers 410). Returns whether it changed. */
  async markDeleted(id: string): Promise<boolean> {
    const now = this.#clock();
    const r = await this.#db
      .updateTable('archives')
      .set({ deleted_at: now, updated_at: now })
      .where('id', '=', id)
      .where('state', '=', 'ready')
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Ids of every archive of a user (account deletion removes their files). */
  async idsOfUser(userId: UserId): Promise<string[]> {
    const rows = await this.#db.selectFrom('archives').select('id').where('user_id', '=', userId).execute();
    return rows.map((r) => r.id);
  }

  /** Failed with a reason the user sees. Only from 'building'. */
  async markFailed(id: string, reason: string): Promise<boolean> {
    const r = await this.#db
      .updateTable('archives')
      .set({ state: 'failed', reason: reason.slice(0, 500), updated_at: this.#clock() })
      .where('id', '=', id)
      .where('state', '=', 'building')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
}
