import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../common/logger.ts';
import type { SunsetSchedule } from '../../../common/protocol/sunset.ts';
import { openDatabase, type DatabaseHandle } from '../../../signaling/store/Database.ts';
import { createStores, type Stores } from '../../../signaling/store/index.ts';
import type { DialectName } from '../../../signaling/store/migrations.ts';
import { SunsetService } from '../../../signaling/sunset/SunsetService.ts';
import { createTestDatabase, type TestDatabase } from '../../../testkit/postgres.ts';

const logger = createLogger({ level: 'silent' });
const T0 = Date.parse('2031-05-01T12:00:00.000Z');
const H = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();

function schedule(offsetH = 0, message = 'So long'): SunsetSchedule {
  return {
    announceAt: iso(T0 + (1 + offsetH) * H),
    readOnlyAt: iso(T0 + (2 + offsetH) * H),
    exportOnlyAt: iso(T0 + (3 + offsetH) * H),
    offAt: iso(T0 + (4 + offsetH) * H),
    message,
  };
}

describe.each(['sqlite', 'postgres'] as const)('sunset and audit stores on %s', (dialect: DialectName) => {
  let handle: DatabaseHandle;
  let second: DatabaseHandle;
  let stores: Stores;
  let now = T0;
  let tmpDir: string | undefined;
  let pgDb: TestDatabase | undefined;
  let setupError: unknown;

  beforeEach(() => {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- what beforeAll caught, thrown in each test as it was
    if (setupError) throw setupError;
  });

  beforeAll(async () => {
    try {
      let opts: Parameters<typeof openDatabase>[0];
      if (dialect === 'sqlite') {
        tmpDir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-sunset-'));
        opts = { sqlitePath: path.join(tmpDir, 'spyglass.db'), logger };
      } else {
        pgDb = await createTestDatabase();
        opts = { databaseUrl: pgDb.url, sqlitePath: '/nonexistent/ignored.db', logger };
      }
      handle = await openDatabase(opts);
      // A second handle on the same database: another process.
      second = await openDatabase(opts);
      stores = createStores(handle.db, 'test-secret-0123456789abcdef', { clock: () => now++ });
    } catch (err) {
      setupError = err;
    }
  });

  afterAll(async () => {
    await second?.close();
    await handle?.close();
    await pgDb?.drop();
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  });

  it('has no schedule at first; schedules, replaces and cancels one', async () => {
    expect(await stores.sunset.current()).toBeUndefined();
    expect(await stores.sunset.cancel('cli')).toBeUndefined();

    const first = await stores.sunset.schedule(schedule(), 'u_admin0000000000');
    expect(first).toMatchObject({ ...schedule(), createdBy: 'u_admin0000000000' });
    expect(new Date(first.createdAt).toISOString()).toBe(first.createdAt);
    expect(await stores.sunset.current()).toEqual(first);

    // A new schedule replaces the current one: still exactly one.
    const second_ = await stores.sunset.schedule(schedule(5, 'moved'), 'cli');
    expect(second_.id).not.toBe(first.id);
    expect(await stores.sunset.current()).toEqual(second_);

    expect(await stores.sunset.cancel('cli')).toEqual(second_);
    expect(await stores.sunset.current()).toBeUndefined();
    expect(await stores.sunset.cancel('cli')).toBeUndefined();
  });

  it('keeps one current schedule when two are made at once', async () => {
    await Promise.all([stores.sunset.schedule(schedule(1, 'a'), 'a'), stores.sunset.schedule(schedule(2, 'b'), 'b')]);
    const rows = await handle.db.selectFrom('sunset_schedules').select(['id']).where('active', '=', 1).execute();
    expect(rows).toHaveLength(1);
    await stores.sunset.cancel('cli');
  });

  it('refuses dates out of order in the database too', async () => {
    await expect(stores.sunset.schedule({ ...schedule(), readOnlyAt: schedule().offAt }, 'cli')).rejects.toThrow();
    expect(await stores.sunset.current()).toBeUndefined();
  });

  it('records audit entries, newest first, with JSON details', async () => {
    await stores.audit.record('cli', 'user.grant-admin', { username: 'alice' });
    await stores.audit.record('u_x', 'sunset.schedule', { offAt: 'x', nested: { ok: true } });
    await stores.audit.record('u_x', 'sunset.cancel');
    const all = await stores.audit.list();
    expect(all.slice(0, 3).map((e) => e.action)).toEqual(['sunset.cancel', 'sunset.schedule', 'user.grant-admin']);
    expect(all[1]).toMatchObject({ actorId: 'u_x', details: { offAt: 'x', nested: { ok: true } } });
    expect(new Date(all[1]!.at).toISOString()).toBe(all[1]!.at);
    const sunsetOnly = await stores.audit.list({ actionPrefix: 'sunset.' });
    expect(sunsetOnly.map((e) => e.action)).toEqual(['sunset.cancel', 'sunset.schedule']);
    expect(await stores.audit.list({ limit: 1 })).toHaveLength(1);
  });

  it('lets every process agree on the phase, across restarts, from the stored dates and the clock', async () => {
    let clock = T0;
    const a = new SunsetService({ store: stores.sunset, logger, clock: () => clock, refreshMs: 60_000 });
    const b = new SunsetService({ store: createStores(second.db, 'other-secret-0123456789').sunset, logger, clock: () => clock, refreshMs: 60_000 });
    await a.start();
    await b.start();
    try {
      expect([a.phase(), b.phase()]).toEqual(['none', 'none']);
      await stores.sunset.schedule(schedule(), 'cli');
      await a.refresh();
      await b.refresh();
      const seen: string[] = [];
      b.onPhaseChange((p) => seen.push(p));
      for (const [at, phase] of [
        [T0 + H, 'announced'],
        [T0 + 2 * H, 'read-only'],
        [T0 + 3 * H, 'export-only'],
        [T0 + 4 * H, 'off'],
      ] as const) {
        clock = at;
        expect([a.phase(), b.phase()]).toEqual([phase, phase]);
        await b.refresh();
      }
      expect(seen).toEqual(['announced', 'read-only', 'export-only', 'off']);
      expect(() => a.assertAllowed('download')).toThrow(expect.objectContaining({ code: 'SERVICE_SUNSET' }));

      // A "restarted" process reads the same phase without anything to replay.
      const c = new SunsetService({ store: stores.sunset, logger, clock: () => clock });
      await c.start();
      expect(c.phase()).toBe('off');
      c.close();
    } finally {
      a.close();
      b.close();
      await stores.sunset.cancel('cli');
    }
  });
});
