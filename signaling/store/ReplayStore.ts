import type { Kysely, Selectable } from 'kysely';
import { AppError } from '../../common/errors.ts';
import type { Visibility } from '../../common/protocol/events.ts';
import type { BroadcastId, UserId } from '../../common/protocol/ids.ts';
import type { ReplayState } from '../../common/protocol/replays.ts';
import type { TimelineSpan } from '../../common/replay/timeline.ts';
import type { ReplayOutput } from '../../common/jobs/results.ts';
import { systemClock, toIso, type Clock, type StoreOptions } from './clock.ts';
import { isForeignKeyViolation } from './dbErrors.ts';
import type { BroadcastStatus, DB, ReplaysTable, ReplayTombstonesTable } from './schema.ts';
import { startedBefore, visibleTo } from './broadcastConditions.ts';

/** A replay as stored. File names are relative to `<dataDir>/replays/<broadcastId>/`. */
export interface ReplayRecord {
  broadcastId: BroadcastId;
  state: ReplayState;
  /** Why processing failed, or why the recording stopped early (e.g. disk space); else null. */
  reason: string | null;
  durationMs: number | null;
  width: number | null;
  height: number | null;
  /** Broadcast offset → replay video time; empty until the worker reports it. */
  timeline: TimelineSpan[];
  poster: string | null;
  webm: string | null;
  videoMp4: string | null;
  hls: string | null;
  /** `crc32` when finalize recorded it (replays finalized before migration 0007 have none). */
  mp4: { name: string; sizeBytes: number; sha256: string; crc32?: number } | null;
  /** ISO-8601 UTC. */
  createdAt: string;
  updatedAt: string;
}

/** A replay with what a list shows of its broadcast. */
export interface ReplayListItem extends ReplayRecord {
  title: string;
  ownerId: UserId;
  ownerUsername: string;
  visibility: Visibility;
  broadcastStatus: BroadcastStatus;
  /** ISO-8601 UTC. */
  startedAt: string;
  endedAt: string | null;
}

/** What is left of a deleted replay (its broadcast row and everything of it are gone). */
export interface ReplayTombstone {
  broadcastId: BroadcastId;
  ownerId: UserId;
  /** Its visibility when it was deleted: a public one answers 410 to everyone, a private one to its owner only. */
  visibility: Visibility;
  /** ISO-8601 UTC. */
  deletedAt: string;
  /** When its files were removed from the storage; null while still to do. */
  purgedAt: string | null;
}

function toTombstone(row: Selectable<ReplayTombstonesTable>): ReplayTombstone {
  return {
    broadcastId: row.broadcast_id,
    ownerId: row.owner_id,
    visibility: row.visibility,
    deletedAt: toIso(row.deleted_at),
    purgedAt: row.purged_at === null ? null : toIso(row.purged_at),
  };
}

/** Options of the list methods. */
export interface ListReplaysOptions {
  /** Most replays returned. Default 100, at most 1000. */
  limit?: number;
}

/** States a replay may still leave; 'ready' and 'failed' are final. */
const OPEN: ReplayState[] = ['recording', 'processing'];

function clampLimit(limit: number | undefined): number {
  return Math.min(Math.max(Math.trunc(limit ?? 100), 0), 1000);
}

function isSpan(v: unknown): v is TimelineSpan {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return [s.offsetMs, s.mediaStartMs, s.durationMs].every((n) => typeof n === 'number' && Number.isFinite(n));
}

function parseTimeline(text: string): TimelineSpan[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [];
  }
  return Array.isArray(value) ? value.filter(isSpan).map((s) => ({ offsetMs: s.offsetMs, mediaStartMs: s.mediaStartMs, durationMs: s.durationMs })) : [];
}

function toRecord(row: Selectable<ReplaysTable>): ReplayRecord {
  return {
    broadcastId: row.broadcast_id,
    state: row.state,
    reason: row.reason,
    durationMs: row.duration_ms,
    width: row.width,
    height: row.height,
    timeline: parseTimeline(row.timeline),
    poster: row.poster,
    webm: row.webm,
    videoMp4: row.video_mp4,
    hls: row.hls,
    mp4:
      row.mp4_name !== null && row.mp4_size !== null && row.mp4_sha256 !== null
        ? { name: row.mp4_name, sizeBytes: row.mp4_size, sha256: row.mp4_sha256, ...(row.mp4_crc32 !== null ? { crc32: row.mp4_crc32 } : {}) }
        : null,
    createdAt: toIso(row.created_at),
    updatedAt: toIso(row.updated_at),
  };
}

type ListRow = Selectable<ReplaysTable> & {
  title: string;
  owner_id: UserId;
  owner_username: string;
  visibility: Visibility;
  broadcast_status: BroadcastStatus;
  started_at: number;
  ended_at: number | null;
};

function toListItem(row: ListRow): ReplayListItem {
  return {
    ...toRecord(row),
    title: row.title,
    ownerId: row.owner_id,
    ownerUsername: row.owner_username,
    visibility: row.visibility,
    broadcastStatus: row.broadcast_status,
    startedAt: toIso(row.started_at),
    endedAt: row.ended_at === null ? null : toIso(row.ended_at),
  };
}

/**
 * Replays of broadcasts: their state and the files the workers made. One replay per
 * broadcast, keyed by its id. State machine (docs/persistence.md): begin → 'recording';
 * markProcessing: 'recording' → 'processing'; a preview output: 'recording' | 'processing'
 * → 'processing'; a ready output: → 'ready'; markFailed: → 'failed'.
 *
 * 'ready' and 'failed' are final. Every transition is one conditional UPDATE, so results
 * delivered twice, late or out of order cannot move a replay backwards; the mutators
 * return whether they changed anything.
 */
export class ReplayStore {
  readonly #db: Kysely<DB>;
  readonly #clock: Clock;

  constructor(db: Kysely<DB>, options: StoreOptions = {}) {
    this.#db = db;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * The replay of a broadcast starts recording. Idempotent: a replay that exists is left as
   * it is (returns false). Throws AppError NOT_FOUND when the broadcast does not exist.
   */
  async begin(broadcastId: BroadcastId): Promise<boolean> {
    const now = this.#clock();
    try {
      const r = await this.#db
        .insertInto('replays')
        .values({ broadcast_id: broadcastId, state: 'recording', created_at: now, updated_at: now })
        .onConflict((oc) => oc.column('broadcast_id').doNothing())
        .executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new AppError('NOT_FOUND', 'broadcast not found');
      throw err;
    }
  }

  /** The broadcast ended and the finalize job is queued: 'recording' → 'processing'. No-op in any other state. */
  async markProcessing(broadcastId: BroadcastId): Promise<boolean> {
    return this.#update(broadcastId, ['recording'], { state: 'processing' });
  }

  /** The recording stopped before the broadcast ended (e.g. disk space): keeps the state, records why. Only while recording or processing. */
  async noteStopped(broadcastId: BroadcastId, reason: string): Promise<boolean> {
    return this.#update(broadcastId, OPEN, { reason });
  }

  /**
   * Stores what the finalize job made. 'preview' (the WebM or MP4 copied from the recording is
   * watchable): duration, size, timeline, poster and that file; the replay is 'processing'. 'ready': every file; the
   * replay is 'ready'. Ignored (false) when the replay is missing, ready or failed, so a
   * late preview never hides a finished replay.
   */
  async applyOutput(broadcastId: BroadcastId, state: 'preview' | 'ready', output: ReplayOutput): Promise<boolean> {
    const timeline = JSON.stringify(output.timeline.map((s) => ({ offsetMs: s.offsetMs, mediaStartMs: s.mediaStartMs, durationMs: s.durationMs })));
    const common = {
      duration_ms: output.durationMs,
      width: output.width,
      height: output.height,
      timeline,
      poster: output.poster,
      webm: output.webm,
      video_mp4: output.videoMp4,
    };
    if (state === 'preview') return this.#update(broadcastId, OPEN, { ...common, state: 'processing' });
    return this.#update(broadcastId, OPEN, {
      ...common,
      state: 'ready',
      hls: output.hls,
      mp4_name: output.mp4?.name ?? null,
      mp4_size: output.mp4?.sizeBytes ?? null,
      mp4_sha256: output.mp4?.sha256 ?? null,
      mp4_crc32: output.mp4?.crc32 ?? null,
    });
  }

  /** Processing failed for good: 'recording' | 'processing' → 'failed' with why. Never over 'ready'; a failed replay keeps its first reason. */
  async markFailed(broadcastId: BroadcastId, reason: string): Promise<boolean> {
    return this.#update(broadcastId, OPEN, { state: 'failed', reason });
  }

  async #update(
    broadcastId: BroadcastId,
    from: ReplayState[],
    set: Partial<Omit<Selectable<ReplaysTable>, 'broadcast_id' | 'created_at' | 'updated_at'>>,
  ): Promise<boolean> {
    const r = await this.#db
      .updateTable('replays')
      .set({ ...set, updated_at: this.#clock() })
      .where('broadcast_id', '=', broadcastId)
      .where('state', 'in', from)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** The replay of a broadcast, in any state. */
  async get(broadcastId: BroadcastId): Promise<ReplayRecord | undefined> {
    const row = await this.#db.selectFrom('replays').selectAll().where('broadcast_id', '=', broadcastId).executeTakeFirst();
    return row && toRecord(row);
  }

  #selectListed() {
    return this.#db
      .selectFrom('replays')
      .innerJoin('broadcasts', 'broadcasts.id', 'replays.broadcast_id')
      .innerJoin('users', 'users.id', 'broadcasts.owner_id')
      .selectAll('replays')
      .select([
        'broadcasts.title',
        'broadcasts.owner_id',
        'users.username as owner_username',
        'broadcasts.visibility',
        'broadcasts.status as broadcast_status',
        'broadcasts.started_at',
        'broadcasts.ended_at',
      ]);
  }

  /**
   * Ready replays of public broadcasts, newest broadcast first. Replays still processing
   * are left out: the public list shows only what plays in full.
   */
  async listPublic(opts: ListReplaysOptions = {}): Promise<ReplayListItem[]> {
    const limit = clampLimit(opts.limit);
    if (limit === 0) return [];
    const rows = await this.#selectListed()
      .where('broadcasts.visibility', '=', 'public')
      .where('replays.state', '=', 'ready')
      .orderBy('broadcasts.started_at', 'desc')
      .orderBy('broadcasts.id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toListItem);
  }

  /** A user's replays in every state and visibility, newest broadcast first. */
  async listByOwner(ownerId: UserId, opts: ListReplaysOptions = {}): Promise<ReplayListItem[]> {
    const limit = clampLimit(opts.limit);
    if (limit === 0) return [];
    const rows = await this.#selectListed()
      .where('broadcasts.owner_id', '=', ownerId)
      .orderBy('broadcasts.started_at', 'desc')
      .orderBy('broadcasts.id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toListItem);
  }

  /**
   * One page of a user's replays as `viewerId` (undefined: anonymous) may see them, for their
   * profile: public ones, and private ones only for the owner and invitees; ready ones only,
   * but the owner sees theirs in every state. Newest broadcast first by (startedAt, id), after
   * `after` (the last of the previous page). Filtered in SQL, so hidden replays never shorten a page.
   */
  async listProfile(opts: { ownerId: UserId; viewerId: UserId | undefined; limit: number; after?: { startedAt: string; id: BroadcastId } | undefined }): Promise<ReplayListItem[]> {
    const limit = Math.min(Math.max(Math.trunc(opts.limit), 0), 101);
    if (limit === 0) return [];
    const { ownerId, viewerId, after } = opts;
    let q = this.#selectListed().where('broadcasts.owner_id', '=', ownerId);
    if (viewerId !== ownerId) {
      q = q.where('replays.state', '=', 'ready').where(visibleTo(viewerId));
    }
    if (after) q = q.where(startedBefore(after));
    const rows = await q.orderBy('broadcasts.started_at', 'desc').orderBy('broadcasts.id', 'desc').limit(limit).execute();
    return rows.map(toListItem);
  }

  /**
   * Replays recording or processing whose broadcast has ended, oldest first: their finalize
   * job must run (again). For process start.
   */
  async listUnfinished(): Promise<ReplayRecord[]> {
    const rows = await this.#db
      .selectFrom('replays')
      .innerJoin('broadcasts', 'broadcasts.id', 'replays.broadcast_id')
      .selectAll('replays')
      .where('replays.state', 'in', OPEN)
      .where('broadcasts.status', '=', 'ended')
      .orderBy('broadcasts.ended_at')
      .orderBy('replays.broadcast_id')
      .execute();
    return rows.map(toRecord);
  }

  /**
   * Deletes the replay of an ended broadcast and the broadcast with it (its title, chat,
   * hearts and invitees, by cascade), leaving a tombstone, in one transaction. Returns the
   * tombstone; undefined when there is no such broadcast (never was, or already deleted).
   * Throws AppError WRONG_STATE while the broadcast is live or reconnecting. The caller
   * checks who may delete it, then removes the files (`listUnpurged`, `markPurged`).
   */
  async delete(broadcastId: BroadcastId): Promise<ReplayTombstone | undefined> {
    const now = this.#clock();
    return this.#db.transaction().execute(async (trx) => {
      const b = await trx.selectFrom('broadcasts').select(['owner_id', 'visibility', 'status']).where('id', '=', broadcastId).executeTakeFirst();
      if (!b) return undefined;
      if (b.status !== 'ended') throw new AppError('WRONG_STATE', 'the broadcast is still on air: end it before deleting its replay');
      const row = { broadcast_id: broadcastId, owner_id: b.owner_id, visibility: b.visibility, deleted_at: now, purged_at: null };
      await trx.insertInto('replay_tombstones').values(row).onConflict((oc) => oc.column('broadcast_id').doNothing()).execute();
      const r = await trx.deleteFrom('broadcasts').where('id', '=', broadcastId).where('status', '=', 'ended').executeTakeFirst();
      // Another request deleted it between the select and here: theirs is the deletion.
      if (Number(r.numDeletedRows) === 0) return undefined;
      return toTombstone(row);
    });
  }

  /** The tombstone of a deleted replay, if it was deleted. */
  async tombstone(broadcastId: BroadcastId): Promise<ReplayTombstone | undefined> {
    const row = await this.#db.selectFrom('replay_tombstones').selectAll().where('broadcast_id', '=', broadcastId).executeTakeFirst();
    return row && toTombstone(row);
  }

  /** Tombstones whose files are still to be removed, oldest deletion first. */
  async listUnpurged(limit = 100): Promise<ReplayTombstone[]> {
    const rows = await this.#db
      .selectFrom('replay_tombstones')
      .selectAll()
      .where('purged_at', 'is', null)
      .orderBy('deleted_at')
      .orderBy('broadcast_id')
      .limit(Math.min(Math.max(Math.trunc(limit), 1), 1000))
      .execute();
    return rows.map(toTombstone);
  }

  /** The files of a deleted replay are removed. Returns false when there is no such tombstone. */
  async markPurged(broadcastId: BroadcastId): Promise<boolean> {
    const r = await this.#db.updateTable('replay_tombstones').set({ purged_at: this.#clock() }).where('broadcast_id', '=', broadcastId).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * A worker wrote files of a deleted replay after they were removed (a finalize job that was
   * running): they are to be removed again. Returns false when the replay was not deleted.
   */
  async markUnpurged(broadcastId: BroadcastId): Promise<boolean> {
    const r = await this.#db.updateTable('replay_tombstones').set({ purged_at: null }).where('broadcast_id', '=', broadcastId).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Removes the tombstones of an owner (account deletion: nothing of theirs is kept). */
  async forgetOwner(ownerId: UserId): Promise<number> {
    const r = await this.#db.deleteFrom('replay_tombstones').where('owner_id', '=', ownerId).where('purged_at', 'is not', null).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
