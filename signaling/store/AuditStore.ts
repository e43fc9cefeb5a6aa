import type { Kysely } from 'kysely';
import { systemClock, toIso, type Clock, type StoreOptions } from './clock.ts';
import type { DB } from './schema.ts';

/** One admin action: who (a user id or 'cli'), what, when, with details. */
export interface AuditEntry {
  seq: number;
  /** ISO-8601 UTC. */
  at: string;
  actorId: string;
  action: string;
  details: Record<string, unknown>;
}

function parseDetails(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
  } catch {
    return { raw: text };
  }
}

/** The audit log of admin actions. Append-only. */
export class AuditStore {
  readonly #db: Kysely<DB>;
  readonly #clock: Clock;

  constructor(db: Kysely<DB>, options: StoreOptions = {}) {
    this.#db = db;
    this.#clock = options.clock ?? systemClock;
  }

  /** Appends an entry. `details` is stored as JSON. */
  async record(actorId: string, action: string, details: Record<string, unknown> = {}): Promise<void> {
    await this.#db
      .insertInto('audit_log')
      .values({ at: this.#clock(), actor_id: actorId, action, details: JSON.stringify(details) })
      .execute();
  }

  /** The newest entries first, optionally only actions starting with `actionPrefix`. */
  async list(options: { limit?: number; actionPrefix?: string } = {}): Promise<AuditEntry[]> {
    let q = this.#db.selectFrom('audit_log').selectAll();
    if (options.actionPrefix !== undefined) q = q.where('action', 'like', `${options.actionPrefix.replace(/[\\%_]/g, '')}%`);
    const rows = await q
      .orderBy('seq', 'desc')
      .limit(Math.max(1, Math.min(1000, options.limit ?? 100)))
      .execute();
    return rows.map((r) => ({ seq: Number(r.seq), at: toIso(r.at), actorId: r.actor_id, action: r.action, details: parseDetails(r.details) }));
  }
}
