import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { CompiledQuery, Kysely, PostgresDialect, SqliteAdapter, SqliteDialect, SqliteDriver, type DatabaseConnection, type DialectAdapter, type Driver } from 'kysely';
import pg from 'pg';
import type { Logger } from '../../common/logger.ts';
import { migrateToLatest, type DialectName } from './migrations.ts';
import type { DB } from './schema.ts';

/** An open database: the Kysely instance the stores use, and how to close it. */
export interface DatabaseHandle {
  readonly db: Kysely<DB>;
  readonly dialect: DialectName;
  /** True once `close()` was called. */
  readonly closed: boolean;
  /** Closes the pool or file. Idempotent. */
  close(): Promise<void>;
}

/** Options of `openDatabase`. */
export interface OpenDatabaseOptions {
  /** PostgreSQL URL (`postgres://…`). When set, PostgreSQL is used and `sqlitePath` ignored. */
  databaseUrl?: string | undefined;
  /** SQLite file, created with its parent directory when missing (`:memory:` for a private in-memory db). */
  sqlitePath: string;
  logger: Logger;
  /** PostgreSQL pool size. Default 10. */
  poolSize?: number;
  /** SQLite: how long a writer waits for another process's lock, in ms. Default 5000. */
  busyTimeoutMs?: number;
}

// SQLite can roll back DDL, but Kysely's adapter says it cannot, so a migration that fails
// half-way would leave half a schema behind. Run each migration batch in a transaction.
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

// Every transaction here writes. `begin immediate` takes the write lock up front and waits
// `busy_timeout` for it; a deferred `begin` that reads first can instead fail at once with
// SQLITE_BUSY when another connection (a second process, a migration) writes meanwhile.
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class SpyglassSqliteDialect extends SqliteDialect {
  readonly #database: SqliteDatabase.Database;
  constructor(database: SqliteDatabase.Database) {
    super({ database });
    this.#database = database;
  }
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver({ database: this.#database });
  }
}

const INT8_OID = pg.types.builtins.INT8;

// Times and offsets are `bigint` columns; pg returns int8 as strings by default. Epoch
// milliseconds fit in a double exactly, so read them as numbers (per pool, not globally).
function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${value} does not fit in a JS number`);
  return n;
}

const pgTypes: pg.CustomTypesConfig = {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-return -- pg-types declares its parsers' results as `any`
  getTypeParser: (oid, format) => (oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format)),
};

/**
 * Opens the metadata database and migrates it to the latest schema before returning.
 * PostgreSQL when `databaseUrl` is set, otherwise SQLite at `sqlitePath` (WAL journal,
 * foreign keys on, a busy timeout). Safe to call on every start.
 */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<DatabaseHandle> {
  const dialect: DialectName = opts.databaseUrl ? 'postgres' : 'sqlite';
  let db: Kysely<DB>;
  if (opts.databaseUrl) {
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: opts.poolSize ?? 10, types: pgTypes });
    // A client losing its connection (a server restart) must not crash the process: the pool
    // hears idle clients' errors; a checked-out client between queries (Kysely holds one for a
    // transaction) emits its own, which the query in flight or the next one reports.
    pool.on('error', (err) => opts.logger.warn({ err }, 'postgres idle client error'));
    pool.on('connect', (client) => client.on('error', (err) => opts.logger.debug({ err }, 'postgres client lost its connection')));
    db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  } else {
    if (opts.sqlitePath !== ':memory:') mkdirSync(path.dirname(path.resolve(opts.sqlitePath)), { recursive: true });
    const file = new SqliteDatabase(opts.sqlitePath, { timeout: opts.busyTimeoutMs ?? 5000 });
    try {
      file.pragma('journal_mode = WAL');
      // WAL makes NORMAL durable against application crashes; only power loss may lose the last commits.
      file.pragma('synchronous = NORMAL');
      file.pragma('foreign_keys = ON');
      file.pragma(`busy_timeout = ${Math.trunc(opts.busyTimeoutMs ?? 5000)}`);
    } catch (err) {
      file.close();
      throw err;
    }
    db = new Kysely<DB>({ dialect: new SpyglassSqliteDialect(file) });
  }

  try {
    await migrateToLatest(db, dialect, opts.logger);
  } catch (err) {
    await db.destroy().catch(() => undefined);
    throw err;
  }
  opts.logger.debug({ dialect }, 'database open');

  let closing: Promise<void> | undefined;
  return {
    db,
    dialect,
    get closed() {
      return closing !== undefined;
    },
    close() {
      closing ??= db.destroy();
      return closing;
    },
  };
}
