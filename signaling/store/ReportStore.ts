import type { Kysely, Selectable } from 'kysely';
import type { BroadcastId, ReportId, UserId } from '../../common/protocol/ids.ts';
import type { ReportKind, ReportReason, ReportState } from '../../common/protocol/reports.ts';
import { systemClock, toIso, type Clock, type StoreOptions } from './clock.ts';
import { isUniqueViolation } from './dbErrors.ts';
import { newReportId } from './newIds.ts';
import type { DB, ReportsTable } from './schema.ts';

/** A report as stored. */
export interface ReportRecord {
  id: ReportId;
  reporterId: UserId;
  /** The reporter's username (a report goes with its reporter's account). */
  reporterUsername: string;
  kind: ReportKind;
  targetId: string;
  broadcastId: BroadcastId;
  targetUserId: UserId;
  reason: ReportReason;
  details: string;
  state: ReportState;
  /** ISO-8601 UTC. */
  createdAt: string;
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolution: string | null;
}

/** What a new report says (the caller checked that the reporter may see the item). */
export interface NewReport {
  reporterId: UserId;
  kind: ReportKind;
  targetId: string;
  broadcastId: BroadcastId;
  targetUserId: UserId;
  reason: ReportReason;
  details: string;
}

const ONE_PER_REPORTER = { constraint: 'reports_reporter_target_key', sqliteColumns: 'reports.reporter_id, reports.target_kind, reports.target_id' };

type Row = Selectable<ReportsTable> & { reporter_username: string };

function toRecord(r: Row): ReportRecord {
  return {
    id: r.id,
    reporterId: r.reporter_id,
    reporterUsername: r.reporter_username,
    kind: r.target_kind,
    targetId: r.target_id,
    broadcastId: r.broadcast_id,
    targetUserId: r.target_user_id,
    reason: r.reason,
    details: r.details,
    state: r.state,
    createdAt: toIso(r.created_at),
    resolvedAt: r.resolved_at === null ? null : toIso(r.resolved_at),
    resolvedBy: r.resolved_by,
    resolution: r.resolution,
  };
}

/**
 * Reports of broadcasts, replays and chat messages (docs/moderation.md). One per reporter and
 * item, whatever its state: a second report of the same item by the same user is the first
 * one (`create` answers `created: false`). Resolving a report resolves every open report of the
 * same item, since the admin acted on the item.
 */
export class ReportStore {
  readonly #db: Kysely<DB>;
  readonly #clock: Clock;

  constructor(db: Kysely<DB>, options: StoreOptions = {}) {
    this.#db = db;
    this.#clock = options.clock ?? systemClock;
  }

  #select() {
    return this.#db.selectFrom('reports').innerJoin('users', 'users.id', 'reports.reporter_id').selectAll('reports').select('users.username as reporter_username');
  }

  /** Files a report, or finds the reporter's earlier report of the same item (also when two race). */
  async create(r: NewReport): Promise<{ report: ReportRecord; created: boolean }> {
    const existing = await this.findByReporter(r.reporterId, r.kind, r.targetId);
    if (existing) return { report: existing, created: false };
    const id = newReportId();
    try {
      await this.#db
        .insertInto('reports')
        .values({
          id,
          reporter_id: r.reporterId,
          target_kind: r.kind,
          target_id: r.targetId,
          broadcast_id: r.broadcastId,
          target_user_id: r.targetUserId,
          reason: r.reason,
          details: r.details,
          created_at: this.#clock(),
        })
        .execute();
    } catch (err) {
      if (!isUniqueViolation(err, ONE_PER_REPORTER)) throw err;
      const raced = await this.findByReporter(r.reporterId, r.kind, r.targetId);
      if (raced) return { report: raced, created: false };
      throw err;
    }
    const report = await this.get(id);
    if (!report) throw new Error(`report ${id} vanished right after it was created`);
    return { report, created: true };
  }

  /** The reporter's report of this item, in any state. */
  async findByReporter(reporterId: UserId, kind: ReportKind, targetId: string): Promise<ReportRecord | undefined> {
    const row = await this.#select()
      .where('reports.reporter_id', '=', reporterId)
      .where('reports.target_kind', '=', kind)
      .where('reports.target_id', '=', targetId)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  /** The report with this id. */
  async get(id: ReportId): Promise<ReportRecord | undefined> {
    const row = await this.#select().where('reports.id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  }

  /** Reports in one state, oldest first for 'open' (a queue), newest first otherwise; at most `limit` (1–200, default 50). */
  async list(state: 'open' | 'resolved', limit = 50): Promise<ReportRecord[]> {
    const n = Math.min(Math.max(Math.trunc(limit), 1), 200);
    const q = state === 'open' ? this.#select().where('reports.state', '=', 'open') : this.#select().where('reports.state', '<>', 'open');
    const dir = state === 'open' ? 'asc' : 'desc';
    const rows = await q.orderBy(state === 'open' ? 'reports.created_at' : 'reports.resolved_at', dir).orderBy('reports.id', dir).limit(n).execute();
    return rows.map(toRecord);
  }

  /** How many reports of each item are open, for the items given. Keyed `<kind>:<targetId>`. */
  async openCounts(items: Array<{ kind: ReportKind; targetId: string }>): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    const ids = [...new Set(items.map((i) => i.targetId))];
    if (ids.length === 0) return counts;
    const rows = await this.#db
      .selectFrom('reports')
      .select(['target_kind', 'target_id', (eb) => eb.fn.countAll<number | string | bigint>().as('n')])
      .where('state', '=', 'open')
      .where('target_id', 'in', ids)
      .groupBy(['target_kind', 'target_id'])
      .execute();
    for (const r of rows) counts.set(`${r.target_kind}:${r.target_id}`, Number(r.n));
    return counts;
  }

  /**
   * Resolves every open report of one item (the admin acted on the item, not on one report):
   * `state` 'dismissed' or 'actioned', with what was done. Returns how many were resolved.
   */
  async resolveItem(kind: ReportKind, targetId: string, outcome: { state: 'dismissed' | 'actioned'; by: string; resolution: string }): Promise<number> {
    const r = await this.#db
      .updateTable('reports')
      .set({ state: outcome.state, resolved_at: this.#clock(), resolved_by: outcome.by, resolution: outcome.resolution })
      .where('target_kind', '=', kind)
      .where('target_id', '=', targetId)
      .where('state', '=', 'open')
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /** How many reports are open (the admin page's badge). */
  async countOpen(): Promise<number> {
    const row = await this.#db
      .selectFrom('reports')
      .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
      .where('state', '=', 'open')
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
