/**
 * Recognises constraint violations from both drivers. better-sqlite3 throws SqliteError with
 * an extended result `code` and a message naming `table.column`; pg throws DatabaseError with
 * the SQLSTATE in `code` and the violated constraint or index name in `constraint`.
 */

interface DriverError {
  code?: unknown;
  constraint?: unknown;
  message?: unknown;
}

function asDriverError(err: unknown): DriverError | undefined {
  return typeof err === 'object' && err !== null ? err : undefined;
}

/** Where a unique constraint lives, in the terms each dialect reports it. */
export interface UniqueTarget {
  /** PostgreSQL constraint or unique index name. */
  constraint: string;
  /** SQLite's `table.column` list as in "UNIQUE constraint failed: users.username_lower". */
  sqliteColumns: string;
}

/** True when `err` is a unique violation of `target` on either dialect. */
export function isUniqueViolation(err: unknown, target: UniqueTarget): boolean {
  const e = asDriverError(err);
  if (!e) return false;
  if (e.code === '23505') return e.constraint === target.constraint;
  if (e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return typeof e.message === 'string' && e.message.endsWith(`failed: ${target.sqliteColumns}`);
  }
  return false;
}

/** True when `err` is a foreign-key violation on either dialect. */
export function isForeignKeyViolation(err: unknown): boolean {
  const e = asDriverError(err);
  return e?.code === '23503' || e?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}
