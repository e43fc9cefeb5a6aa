import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../common/logger.ts';
import { openDatabase } from '../../../signaling/store/Database.ts';
import { createTestDatabase, type TestDatabase } from '../../../testkit/postgres.ts';

/**
 * PostgreSQL drops a connection that Kysely holds checked out between two queries of a
 * transaction (a server restart or crash does this to every connection). The pg client then
 * emits 'error' with no query to hand it to; without a listener that is an uncaught exception
 * that kills the signalling process. The transaction must fail, the process must not.
 */
describe('PostgreSQL drops a connection held by a transaction', () => {
  let db: TestDatabase | undefined;
  afterAll(async () => {
    await db?.drop();
  });

  it('fails the transaction and raises no uncaught exception; the pool serves the next query', async () => {
    db = await createTestDatabase();
    const handle = await openDatabase({ databaseUrl: db.url, sqlitePath: '/nonexistent/ignored.db', logger: createLogger({ level: 'silent' }) });
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.prependListener('uncaughtException', onUncaught);
    const admin = new pg.Client({ connectionString: db.url });
    admin.on('error', () => undefined);
    await admin.connect();
    try {
      const outcome = await handle.db
        .transaction()
        .execute(async (trx) => {
          const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
          await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
          // The FATAL message and the close reach the client between queries.
          await new Promise((resolve) => setTimeout(resolve, 300));
          await sql`select 1`.execute(trx);
        })
        .then(
          () => 'committed',
          () => 'failed',
        );
      expect(outcome).toBe('failed');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(uncaught).toEqual([]);
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(handle.db);
      expect(rows[0]?.one).toBe(1);
    } finally {
      process.removeListener('uncaughtException', onUncaught);
      await admin.end();
      await handle.close();
    }
  });
});
