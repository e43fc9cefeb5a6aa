import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../../common/errors.ts';
import { createLogger } from '../../../common/logger.ts';
import { BroadcastIdSchema, ChatMessageIdSchema, UserIdSchema, type UserId } from '../../../common/protocol/ids.ts';
import { openDatabase, type DatabaseHandle } from '../../../signaling/store/Database.ts';
import { migrateToLatest, migrations, type DialectName } from '../../../signaling/store/migrations.ts';
import { createStores, type Stores } from '../../../signaling/store/index.ts';
import type { UserRecord } from '../../../signaling/store/UserStore.ts';
import { createTestDatabase, type TestDatabase } from '../../../testkit/postgres.ts';
import { expectAppError, uniqueName } from '../../../testkit/storesOn.ts';

const run = promisify(execFile);
const SECRET = 'test-secret-0123456789abcdef';
const logger = createLogger({ level: 'silent' });

/** A clock tests drive: every read advances 1 ms so timestamps are distinct and ordered. */
class TestClock {
  #t = Date.parse('2031-05-01T12:00:00.000Z');
  readonly now = (): number => this.#t++;
  advance(ms: number): void {
    this.#t += ms;
  }
}

describe.each(['sqlite', 'postgres'] as const)('stores on %s', (dialect: DialectName) => {
  let handle: DatabaseHandle;
  let stores: Stores;
  let clock: TestClock;
  let tmpDir: string | undefined;
  let pgDb: TestDatabase | undefined;
  let openOpts: Parameters<typeof openDatabase>[0];

  // A setup failure (PostgreSQL unreachable) fails every test with its message instead of
  // leaving them skipped.
  let setupError: unknown;
  beforeEach(() => {
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- what beforeAll caught, thrown in each test as it was
    if (setupError) throw setupError;
  });

  beforeAll(async () => {
    try {
      await setUp();
    } catch (err) {
      setupError = err;
    }
  });

  async function setUp(): Promise<void> {
    if (dialect === 'sqlite') {
      tmpDir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-store-'));
      // A missing parent directory is created.
      openOpts = { sqlitePath: path.join(tmpDir, 'nested', 'dir', 'spyglass.db'), logger };
    } else {
      pgDb = await createTestDatabase();
      openOpts = { databaseUrl: pgDb.url, sqlitePath: '/nonexistent/ignored.db', logger };
    }
    handle = await openDatabase(openOpts);
    clock = new TestClock();
    stores = createStores(handle.db, SECRET, { clock: clock.now });
  }

  afterAll(async () => {
    await handle?.close();
    await pgDb?.drop();
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  });

  async function newUser(prefix = 'user'): Promise<UserRecord> {
    return stores.users.create(uniqueName(prefix), 'scrypt$fake');
  }

  it('opens the dialect it was asked for', async () => {
    expect(handle.dialect).toBe(dialect);
    if (dialect === 'sqlite') {
      expect(existsSync(openOpts.sqlitePath)).toBe(true);
      const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(handle.db);
      expect(mode.rows[0]?.journal_mode).toBe('wal');
      const fk = await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(handle.db);
      expect(fk.rows[0]?.foreign_keys).toBe(1);
    }
  });

  describe('users', () => {
    it('creates a user and finds it by id and by username in any case', async () => {
      const name = uniqueName('Alice');
      const user = await stores.users.create(name, 'scrypt$hash');
      expect(UserIdSchema.safeParse(user.id).success).toBe(true);
      expect(user).toMatchObject({ username: name, role: 'user' });
      expect(new Date(user.createdAt).toISOString()).toBe(user.createdAt);

      expect(await stores.users.findById(user.id)).toEqual(user);
      expect(await stores.users.findByUsername(name.toUpperCase())).toEqual({ ...user, passwordHash: 'scrypt$hash' });
      expect(await stores.users.findByUsername(name.toLowerCase())).toEqual({ ...user, passwordHash: 'scrypt$hash' });
      expect(await stores.users.findByUsername(uniqueName('nobody'))).toBeUndefined();
      expect(await stores.users.findById(UserIdSchema.parse('u_doesnotexist00'))).toBeUndefined();
    });

    it('refuses a duplicate username in any case with USERNAME_TAKEN', async () => {
      const name = uniqueName('Bob');
      await stores.users.create(name, 'h');
      await expectAppError(stores.users.create(name, 'h'), 'USERNAME_TAKEN');
      await expectAppError(stores.users.create(name.toUpperCase(), 'h'), 'USERNAME_TAKEN');
      await expectAppError(stores.users.create(name.toLowerCase(), 'h'), 'USERNAME_TAKEN');
    });

    it('lets exactly one of several concurrent sign-ups with the same name win', async () => {
      const name = uniqueName('race');
      const variants = [name, name.toUpperCase(), name, `${name[0]!.toUpperCase()}${name.slice(1)}`, name.toLowerCase()];
      const results = await Promise.allSettled(variants.map((v) => stores.users.create(v, 'h')));
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(variants.length - 1);
      for (const r of lost) {
        expect(r.reason).toBeInstanceOf(AppError);
        expect((r.reason as AppError).code).toBe('USERNAME_TAKEN');
      }
    });

    it('resolves usernames to ids in one call, keyed lowercased', async () => {
      const a = await newUser('Carol');
      const b = await newUser('dave');
      const missing = uniqueName('ghost');
      const ids = await stores.users.findIdsByUsernames([a.username.toUpperCase(), b.username, b.username.toUpperCase(), missing]);
      expect(ids).toEqual(
        new Map([
          [a.username.toLowerCase(), a.id],
          [b.username.toLowerCase(), b.id],
        ]),
      );
      expect(await stores.users.findIdsByUsernames([])).toEqual(new Map());
    });
  });

  describe('sessions', () => {
    it('creates an opaque token that resolves to its user and stores only a hash', async () => {
      const user = await newUser();
      const token = await stores.sessions.create(user.id, 60_000);
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(token, 'base64url')).toHaveLength(32);
      expect(await stores.sessions.resolve(token)).toEqual(user);

      const rows = await handle.db.selectFrom('sessions').select('token_hash').where('user_id', '=', user.id).execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]!.token_hash).not.toBe(token);
      expect(rows[0]!.token_hash).not.toContain(token);

      const second = await stores.sessions.create(user.id, 60_000);
      expect(second).not.toBe(token);
    });

    it('revokes a token; revoking unknown or garbage tokens is a no-op', async () => {
      const user = await newUser();
      const token = await stores.sessions.create(user.id, 60_000);
      const other = await stores.sessions.create(user.id, 60_000);
      await stores.sessions.revoke(token);
      expect(await stores.sessions.resolve(token)).toBeUndefined();
      expect(await stores.sessions.resolve(other)).toEqual(user);
      await stores.sessions.revoke(token);
      await stores.sessions.revoke('garbage');
      await stores.sessions.revoke('');
    });

    it('does not resolve expired tokens and purges them', async () => {
      const user = await newUser();
      const token = await stores.sessions.create(user.id, 1000);
      expect(await stores.sessions.resolve(token)).toEqual(user);
      clock.advance(1000);
      expect(await stores.sessions.resolve(token)).toBeUndefined();
      expect(await stores.sessions.purgeExpired()).toBeGreaterThanOrEqual(1);
      const left = await handle.db.selectFrom('sessions').select('token_hash').where('user_id', '=', user.id).execute();
      expect(left).toHaveLength(0);
    });

    it('returns undefined for garbage tokens without throwing', async () => {
      const garbage: unknown[] = [
        '',
        'x',
        'not a token',
        "' or 1=1 --",
        'A'.repeat(42),
        'A'.repeat(44),
        'A'.repeat(10_000),
        '🙂'.repeat(43),
        `${'A'.repeat(42)}=`,
        undefined,
        null,
        42,
        {},
      ];
      for (const g of garbage) {
        // Untyped callers (cookie parsers, headers) can hand over anything.
        expect(await stores.sessions.resolve(g as string)).toBeUndefined();
      }
      expect(await stores.sessions.resolve('A'.repeat(43))).toBeUndefined();
    });

    it('rejects tampered tokens and tokens hashed under another secret', async () => {
      const user = await newUser();
      const token = await stores.sessions.create(user.id, 60_000);
      for (const i of [0, 20, 42]) {
        const c = token[i] === 'A' ? 'B' : 'A';
        const tampered = token.slice(0, i) + c + token.slice(i + 1);
        expect(await stores.sessions.resolve(tampered)).toBeUndefined();
      }
      const otherSecret = createStores(handle.db, 'another-secret-0123456789', { clock: clock.now });
      expect(await otherSecret.sessions.resolve(token)).toBeUndefined();
      expect(await stores.sessions.resolve(token)).toEqual(user);
    });

    it('revokes every session of a user and refuses nonsensical ttls', async () => {
      const user = await newUser();
      const a = await stores.sessions.create(user.id, 60_000);
      const b = await stores.sessions.create(user.id, 60_000);
      expect(await stores.sessions.revokeAllForUser(user.id)).toBe(2);
      expect(await stores.sessions.resolve(a)).toBeUndefined();
      expect(await stores.sessions.resolve(b)).toBeUndefined();
      await expect(stores.sessions.create(user.id, 0)).rejects.toThrow(RangeError);
      await expect(stores.sessions.create(user.id, Number.NaN)).rejects.toThrow(RangeError);
    });
  });

  describe('broadcasts', () => {
    it('creates a broadcast with invitees in one go and reads it back', async () => {
      const owner = await newUser('owner');
      const i1 = await newUser('inv');
      const i2 = await newUser('inv');
      const b = await stores.broadcasts.create({
        ownerId: owner.id,
        title: 'Sunset over the bay',
        visibility: 'private',
        // Duplicates and the owner are dropped.
        inviteeIds: [i1.id, i2.id, i1.id, owner.id],
      });
      expect(BroadcastIdSchema.safeParse(b.id).success).toBe(true);
      expect(b).toMatchObject({
        ownerId: owner.id,
        ownerUsername: owner.username,
        title: 'Sunset over the bay',
        visibility: 'private',
        status: 'live',
        endedAt: null,
        endReason: null,
      });
      expect(new Date(b.startedAt).toISOString()).toBe(b.startedAt);
      expect([...b.invitees].sort()).toEqual([i1.id, i2.id].sort());
      expect(await stores.broadcasts.get(b.id)).toEqual(b);
      expect(await stores.broadcasts.findLiveByOwner(owner.id)).toEqual(b);
      expect(await stores.broadcasts.get(BroadcastIdSchema.parse('b_doesnotexist00'))).toBeUndefined();
    });

    it('rolls back the whole broadcast when an invitee does not exist', async () => {
      const owner = await newUser('owner');
      const ghost = UserIdSchema.parse('u_ghostghostghost');
      await expectAppError(
        stores.broadcasts.create({ ownerId: owner.id, title: 't', visibility: 'private', inviteeIds: [ghost] }),
        'NOT_FOUND',
      );
      expect(await stores.broadcasts.findLiveByOwner(owner.id)).toBeUndefined();
    });

    it('allows one unended broadcast per owner, also under a race', async () => {
      const owner = await newUser('owner');
      const first = await stores.broadcasts.create({ ownerId: owner.id, title: 'one', visibility: 'public', inviteeIds: [] });
      await expectAppError(
        stores.broadcasts.create({ ownerId: owner.id, title: 'two', visibility: 'public', inviteeIds: [] }),
        'ALREADY_LIVE',
      );
      await stores.broadcasts.setStatus(first.id, 'reconnecting');
      await expectAppError(
        stores.broadcasts.create({ ownerId: owner.id, title: 'two', visibility: 'public', inviteeIds: [] }),
        'ALREADY_LIVE',
      );
      await stores.broadcasts.end(first.id, 'stopped');
      await stores.broadcasts.create({ ownerId: owner.id, title: 'after', visibility: 'public', inviteeIds: [] });

      const racer = await newUser('racer');
      const results = await Promise.allSettled(
        [1, 2, 3, 4].map((n) => stores.broadcasts.create({ ownerId: racer.id, title: `r${n}`, visibility: 'public', inviteeIds: [] })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') expect((r.reason as AppError).code).toBe('ALREADY_LIVE');
      }
    });

    it('lists live and reconnecting broadcasts newest first, without ended ones', async () => {
      const owners = await Promise.all([newUser('o'), newUser('o'), newUser('o'), newUser('o')]);
      const created = [];
      for (const [i, o] of owners.entries()) {
        created.push(await stores.broadcasts.create({ ownerId: o.id, title: `b${i}`, visibility: i % 2 ? 'private' : 'public', inviteeIds: [] }));
      }
      const [b0, b1, b2, b3] = created;
      await stores.broadcasts.setStatus(b1!.id, 'reconnecting');
      await stores.broadcasts.end(b2!.id, 'stopped');

      const mine = new Set(created.map((b) => b.id));
      const live = (await stores.broadcasts.listLive()).filter((b) => mine.has(b.id));
      expect(live.map((b) => b.id)).toEqual([b3!.id, b1!.id, b0!.id]);
      expect(live[1]!.status).toBe('reconnecting');
      // Newest first overall, too.
      const all = await stores.broadcasts.listLive({ limit: 1000 });
      const starts = all.map((b) => b.startedAt);
      expect(starts).toEqual([...starts].sort().reverse());
      expect(all.every((b) => b.status !== 'ended')).toBe(true);
      expect(await stores.broadcasts.listLive({ limit: 2 })).toHaveLength(2);
      expect(await stores.broadcasts.listLive({ limit: 0 })).toEqual([]);
    });

    it('decides who can view: public to everyone, private to owner and invitees', async () => {
      const owner = await newUser('owner');
      const owner2 = await newUser('owner');
      const invitee = await newUser('invitee');
      const stranger = await newUser('stranger');
      const priv = await stores.broadcasts.create({ ownerId: owner.id, title: 'p', visibility: 'private', inviteeIds: [invitee.id] });
      const pub = await stores.broadcasts.create({ ownerId: owner2.id, title: 'q', visibility: 'public', inviteeIds: [] });
      const who: Array<[string, UserId | undefined, boolean, boolean]> = [
        // name, user, can view private, can view public
        ['owner', owner.id, true, true],
        ['invitee', invitee.id, true, true],
        ['stranger', stranger.id, false, true],
        ['anonymous', undefined, false, true],
      ];
      for (const [name, id, canPrivate, canPublic] of who) {
        expect(stores.broadcasts.canView(priv, id), `${name} on private`).toBe(canPrivate);
        expect(stores.broadcasts.canView(pub, id), `${name} on public`).toBe(canPublic);
      }
    });

    it('switches between live and reconnecting, never back from ended', async () => {
      const owner = await newUser('owner');
      const b = await stores.broadcasts.create({ ownerId: owner.id, title: 's', visibility: 'public', inviteeIds: [] });
      await stores.broadcasts.setStatus(b.id, 'reconnecting');
      expect((await stores.broadcasts.get(b.id))?.status).toBe('reconnecting');
      expect((await stores.broadcasts.findLiveByOwner(owner.id))?.id).toBe(b.id);
      await stores.broadcasts.setStatus(b.id, 'live');
      expect((await stores.broadcasts.get(b.id))?.status).toBe('live');
      await stores.broadcasts.end(b.id, 'stopped');
      await stores.broadcasts.setStatus(b.id, 'live');
      expect((await stores.broadcasts.get(b.id))?.status).toBe('ended');
      await stores.broadcasts.setStatus(BroadcastIdSchema.parse('b_doesnotexist00'), 'live');
    });

    it('ends a broadcast once: a second end keeps the first time and reason', async () => {
      const owner = await newUser('owner');
      const b = await stores.broadcasts.create({ ownerId: owner.id, title: 'e', visibility: 'public', inviteeIds: [] });
      const ended = await stores.broadcasts.end(b.id, 'stopped');
      expect(ended).toMatchObject({ id: b.id, status: 'ended', endReason: 'stopped' });
      expect(ended!.endedAt).not.toBeNull();
      expect(Date.parse(ended!.endedAt!)).toBeGreaterThan(Date.parse(b.startedAt));
      clock.advance(5000);
      const again = await stores.broadcasts.end(b.id, 'broadcaster-left');
      expect(again).toEqual(ended);
      expect(await stores.broadcasts.findLiveByOwner(owner.id)).toBeUndefined();
      expect(await stores.broadcasts.end(BroadcastIdSchema.parse('b_doesnotexist00'), 'stopped')).toBeUndefined();
    });

    it('ends every live and reconnecting broadcast at start', async () => {
      await stores.broadcasts.endAllLive('server-shutdown');
      const [a, b, c, d] = await Promise.all([newUser('o'), newUser('o'), newUser('o'), newUser('o')]);
      const live = await stores.broadcasts.create({ ownerId: a.id, title: 'a', visibility: 'public', inviteeIds: [] });
      const away = await stores.broadcasts.create({ ownerId: b.id, title: 'b', visibility: 'private', inviteeIds: [] });
      await stores.broadcasts.setStatus(away.id, 'reconnecting');
      const live2 = await stores.broadcasts.create({ ownerId: c.id, title: 'c', visibility: 'public', inviteeIds: [] });
      const done = await stores.broadcasts.create({ ownerId: d.id, title: 'd', visibility: 'public', inviteeIds: [] });
      const doneEnded = await stores.broadcasts.end(done.id, 'stopped');

      expect(await stores.broadcasts.endAllLive('server-shutdown')).toBe(3);
      for (const id of [live.id, away.id, live2.id]) {
        expect(await stores.broadcasts.get(id)).toMatchObject({ status: 'ended', endReason: 'server-shutdown' });
      }
      expect(await stores.broadcasts.get(done.id)).toEqual(doneEnded);
      expect(await stores.broadcasts.listLive()).toEqual([]);
      expect(await stores.broadcasts.endAllLive('server-shutdown')).toBe(0);
    });
  });

  describe('chat and hearts', () => {
    it('adds messages and reads the recent ones oldest first', async () => {
      const owner = await newUser('owner');
      const viewer = await newUser('viewer');
      const b = await stores.broadcasts.create({ ownerId: owner.id, title: 'chat', visibility: 'public', inviteeIds: [] });
      const first = await stores.chat.add({ broadcastId: b.id, userId: viewer.id, text: 'hello', offsetMs: 1500 });
      expect(ChatMessageIdSchema.safeParse(first.id).success).toBe(true);
      expect(first).toMatchObject({
        broadcastId: b.id,
        user: { id: viewer.id, username: viewer.username },
        text: 'hello',
        offsetMs: 1500,
      });
      expect(new Date(first.sentAt).toISOString()).toBe(first.sentAt);

      const sent = [first];
      for (let i = 1; i < 6; i++) {
        sent.push(await stores.chat.add({ broadcastId: b.id, userId: i % 2 ? owner.id : viewer.id, text: `m${i}`, offsetMs: 1500 + i * 100 }));
      }
      expect(await stores.chat.recent(b.id, 3)).toEqual(sent.slice(-3));
      expect(await stores.chat.recent(b.id, 100)).toEqual(sent);
      expect(await stores.chat.recent(b.id, 0)).toEqual([]);
    });

    it('lists a broadcast’s messages by offset for the replay', async () => {
      const owner = await newUser('owner');
      const b = await stores.broadcasts.create({ ownerId: owner.id, title: 'replay', visibility: 'public', inviteeIds: [] });
      const other = await stores.broadcasts.create({ ownerId: (await newUser('o')).id, title: 'x', visibility: 'public', inviteeIds: [] });
      const late = await stores.chat.add({ broadcastId: b.id, userId: owner.id, text: 'late', offsetMs: 9000 });
      const early = await stores.chat.add({ broadcastId: b.id, userId: owner.id, text: 'early', offsetMs: 100 });
      const tieA = await stores.chat.add({ broadcastId: b.id, userId: owner.id, text: 'tie a', offsetMs: 5000 });
      const tieB = await stores.chat.add({ broadcastId: b.id, userId: owner.id, text: 'tie b', offsetMs: 5000 });
      await stores.chat.add({ broadcastId: other.id, userId: owner.id, text: 'elsewhere', offsetMs: 1 });
      expect(await stores.chat.list(b.id)).toEqual([early, tieA, tieB, late]);
      expect(await stores.chat.recent(b.id, 10)).toEqual([late, early, tieA, tieB]);
    });

    it('refuses messages for unknown broadcasts or users', async () => {
      const owner = await newUser('owner');
      const b = await stores.broadcasts.create({ ownerId: owner.id, title: 't', visibility: 'public', inviteeIds: [] });
      await expectAppError(
        stores.chat.add({ broadcastId: BroadcastIdSchema.parse('b_doesnotexist00'), userId: owner.id, text: 'x', offsetMs: 0 }),
        'NOT_FOUND',
      );
      await expectAppError(
        stores.chat.add({ broadcastId: b.id, userId: UserIdSchema.parse('u_ghostghostghost'), text: 'x', offsetMs: 0 }),
        'NOT_FOUND',
      );
    });

    it('stores heart batches, summing batches at the same offset', async () => {
      const owner = await newUser('owner');
      const b = await stores.broadcasts.create({ ownerId: owner.id, title: 'hearts', visibility: 'public', inviteeIds: [] });
      expect(await stores.chat.hearts(b.id)).toEqual([]);
      await stores.chat.addHearts(b.id, 750, 4);
      await stores.chat.addHearts(b.id, 250, 3);
      await stores.chat.addHearts(b.id, 750, 2);
      await stores.chat.addHearts(b.id, 1000, 0);
      await Promise.all([1, 2, 3, 4, 5].map(() => stores.chat.addHearts(b.id, 1250, 1)));
      expect(await stores.chat.hearts(b.id)).toEqual([
        { offsetMs: 250, count: 3 },
        { offsetMs: 750, count: 6 },
        { offsetMs: 1250, count: 5 },
      ]);
      await expectAppError(stores.chat.addHearts(BroadcastIdSchema.parse('b_doesnotexist00'), 0, 1), 'NOT_FOUND');
    });
  });

  describe('migrations and restarts', () => {
    it('re-running migrations is a no-op', async () => {
      expect(await migrateToLatest(handle.db, dialect, logger)).toEqual([]);
      const rows = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(handle.db);
      expect(rows.rows.map((r) => r.name)).toEqual(Object.keys(migrations(dialect)));
    });

    it('migrates a fresh database opened by several processes at once', async () => {
      const names = [uniqueName('p'), uniqueName('p'), uniqueName('p')];
      let fresh: TestDatabase | undefined;
      let opts: Parameters<typeof openDatabase>[0];
      if (dialect === 'sqlite') {
        // One connection per process is the SQLite design (better-sqlite3 waits for locks
        // synchronously), so the racers are real processes.
        opts = { sqlitePath: path.join(tmpDir!, 'concurrent', 'spyglass.db'), logger };
        const child = fileURLToPath(new URL('./openDatabase.child.ts', import.meta.url));
        await Promise.all(
          names.map((name) => run(process.execPath, ['--import', 'tsx', child, opts.sqlitePath, name], { timeout: 60_000 })),
        );
      } else {
        fresh = await createTestDatabase();
        opts = { databaseUrl: fresh.url, sqlitePath: '/nonexistent/ignored.db', logger };
        const handles = await Promise.all(names.map(() => openDatabase(opts)));
        await Promise.all(handles.map((h, i) => createStores(h.db, SECRET).users.create(names[i]!, 'h')));
        await Promise.all(handles.map((h) => h.close()));
      }
      const check = await openDatabase(opts);
      try {
        const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(check.db);
        expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(migrations(dialect)));
        const ids = await createStores(check.db, SECRET).users.findIdsByUsernames(names);
        expect(ids.size).toBe(names.length);
      } finally {
        await check.close();
        await fresh?.drop();
      }
    });

    it('keeps data across close and reopen', async () => {
      const user = await newUser('persist');
      const token = await stores.sessions.create(user.id, 60 * 60_000);
      const b = await stores.broadcasts.create({ ownerId: user.id, title: 'kept', visibility: 'public', inviteeIds: [] });
      const m = await stores.chat.add({ broadcastId: b.id, userId: user.id, text: 'still here', offsetMs: 42 });

      await handle.close();
      expect(handle.closed).toBe(true);
      await handle.close();

      handle = await openDatabase(openOpts);
      stores = createStores(handle.db, SECRET, { clock: clock.now });
      expect(await migrateToLatest(handle.db, dialect, logger)).toEqual([]);
      expect(await stores.users.findByUsername(user.username)).toMatchObject({ id: user.id });
      expect(await stores.sessions.resolve(token)).toEqual(user);
      expect(await stores.broadcasts.get(b.id)).toEqual(b);
      expect(await stores.chat.list(b.id)).toEqual([m]);
    });
  });
});
