import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { SunsetSchedule } from '../../common/protocol/sunset.ts';
import { systemClock, toIso, type Clock, type StoreOptions } from './clock.ts';
import { isUniqueViolation } from './dbErrors.ts';
import type { DB, SunsetSchedulesTable } from './schema.ts';

const ACTIVE_UNIQUE = { constraint: 'sunset_schedules_active_key', sqliteColumns: 'sunset_schedules.active' };

/** The current sunset schedule with who made it. Dates are ISO-8601 UTC. */
export interface SunsetRecord extends SunsetSchedule {
  id: string;
  /** A user id, or 'cli'. */
  createdBy: string;
  createdAt: string;
}

function toRecord(row: SunsetSchedulesTable): SunsetRecord {
  return {
    id: row.id,
    announceAt: toIso(row.announce_at),
    readOnlyAt: toIso(row.read_only_at),
    exportOnlyAt: toIso(row.export_only_at),
    offAt: toIso(row.off_at),
    message: row.message,
    createdBy: row.created_by,
    createdAt: toIso(row.created_at),
  };
}

/**
 * The sunset schedule: at most one current row (unique `active`), replaced or cancelled as a
 * whole. Cancelled rows are kept (with who cancelled them) as history. The caller validates
 * the schedule (common/protocol/sunset.ts validateSchedule); the table's check constraint
 * still refuses dates out of order.
 */
export class SunsetStore {
  readonly #db: Kysely<DB>;
  readonly #clock: Clock;

  constructor(db: Kysely<DB>, options: StoreOptions = {}) {
    this.#db = db;
    this.#clock = options.clock ?? systemClock;
  }

  /** The current schedule, or undefined when none is scheduled (or it was cancelled). */
  async current(): Promise<SunsetRecord | undefined> {
    const row = await this.#db.selectFrom('sunset_schedules').selectAll().where('active', '=', 1).executeTakeFirst();
    return row && toRecord(row);
  }

  /** Makes `schedule` the current one, replacing (cancelling) any earlier one, in one transaction. */
  async schedule(schedule: SunsetSchedule, createdBy: string): Promise<SunsetRecord> {
    const now = this.#clock();
    const row: SunsetSchedulesTable = {
      id: randomUUID(),
      announce_at: Date.parse(schedule.announceAt),
      read_only_at: Date.parse(schedule.readOnlyAt),
      export_only_at: Date.parse(schedule.exportOnlyAt),
      off_at: Date.parse(schedule.offAt),
      message: schedule.message,
      created_by: createdBy,
      created_at: now,
      active: 1,
      cancelled_at: null,
      cancelled_by: null,
    };
    // Two admins scheduling at once: on PostgreSQL (read committed) both may find no current
    // row and insert; the unique `active` column refuses the second, which then retries and
    // replaces the first. The last one wins, and there is never more than one current row.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#db.transaction().execute(async (tx) => {
          await tx
            .updateTable('sunset_schedules')
            .set({ active: null, cancelled_at: now, cancelled_by: createdBy })
            .where('active', '=', 1)
            .execute();
          await tx.insertInto('sunset_schedules').values(row).execute();
        });
        return toRecord(row);
      } catch (err) {
        if (attempt >= 5 || !isUniqueViolation(err, ACTIVE_UNIQUE)) throw err;
      }
    }
  }

  /** Cancels the current schedule; returns it, or undefined when there was none. */
  async cancel(cancelledBy: string): Promise<SunsetRecord | undefined> {
    const now = this.#clock();
    return this.#db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('sunset_schedules').selectAll().where('active', '=', 1).executeTakeFirst();
      if (!row) return undefined;
      await tx
        .updateTable('sunset_schedules')
        .set({ active: null, cancelled_at: now, cancelled_by: cancelledBy })
        .where('id', '=', row.id)
        .execute();
      return toRecord(row);
    });
  }
}
