import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { AppError } from '../common/errors.ts';
import { createLogger } from '../common/logger.ts';
import { openDatabase, type DatabaseHandle } from '../signaling/store/Database.ts';
import type { DialectName } from '../signaling/store/migrations.ts';
import { createStores, type Stores } from '../signaling/store/index.ts';
import { createTestDatabase, type TestDatabase } from './postgres.ts';

export const TEST_STORE_SECRET = 'test-secret-0123456789abcdef';

/** A clock tests drive: every read advances 1 ms, so timestamps are distinct and ordered. */
export function testClock(start = Date.parse('2031-05-01T12:00:00.000Z')): () => number {
  let t = start;
  return () => t++;
}

/**
 * The store tests' database for the enclosing `describe`: SQLite in a temp directory, or a
 * PostgreSQL database of its own, migrated, with `Stores` on a {@link testClock}; `onReady`
 * receives them before the first test. Closed and removed after the last. A set-up that
 * failed fails every test with its error (rather than skipping them).
 */
export function storesOn(dialect: DialectName, onReady: (t: { stores: Stores; handle: DatabaseHandle }) => void): void {
  let handle: DatabaseHandle | undefined;
  let tmpDir: string | undefined;
  let pgDb: TestDatabase | undefined;
  let setupError: unknown;
  beforeAll(async () => {
    try {
      const logger = createLogger({ level: 'silent' });
      let opts: Parameters<typeof openDatabase>[0];
      if (dialect === 'sqlite') {
        tmpDir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-stores-'));
        opts = { sqlitePath: path.join(tmpDir, 'spyglass.db'), logger };
      } else {
        pgDb = await createTestDatabase();
        opts = { databaseUrl: pgDb.url, sqlitePath: '/nonexistent/ignored.db', logger };
      }
      handle = await openDatabase(opts);
      onReady({ handle, stores: createStores(handle.db, TEST_STORE_SECRET, { clock: testClock() }) });
    } catch (err) {
      setupError = err;
    }
  });
  beforeEach(() => {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- what beforeAll caught, thrown in each test as it was
    if (setupError) throw setupError;
  });
  afterAll(async () => {
    await handle?.close();
    await pgDb?.drop();
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  });
}

/** A username no other test uses (`prefix_` and 10 hex digits). */
export function uniqueName(prefix = 'user'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** Expects `p` to reject with an AppError of `code`. */
export async function expectAppError(p: Promise<unknown>, code: string): Promise<void> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected AppError ${code}`).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe(code);
}
