import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { ChatMessageIdSchema, UserIdSchema, type ChatMessageId } from '../../../common/protocol/ids.ts';
import type { ReportKind } from '../../../common/protocol/reports.ts';
import { type DatabaseHandle } from '../../../signaling/store/Database.ts';
import type { DialectName } from '../../../signaling/store/migrations.ts';
import { type Stores } from '../../../signaling/store/index.ts';
import type { BroadcastRecord } from '../../../signaling/store/BroadcastStore.ts';
import type { UserRecord } from '../../../signaling/store/UserStore.ts';
import { storesOn } from '../../../testkit/storesOn.ts';


const uniqueName = (prefix: string) => `${prefix}_${randomBytes(5).toString('hex')}`;

/** ReportStore and SuspensionStore (migration 0011_reports), and the chat lookups reports use, on both dialects. */
describe.each(['sqlite', 'postgres'] as const)('moderation stores on %s', (dialect: DialectName) => {
  let handle: DatabaseHandle;
  let stores: Stores;
  storesOn(dialect, (t) => ({ handle, stores } = t));

  const user = (prefix = 'user'): Promise<UserRecord> => stores.users.create(uniqueName(prefix), 'scrypt$fake');
  async function broadcastOf(owner: UserRecord): Promise<BroadcastRecord> {
    return stores.broadcasts.create({ ownerId: owner.id, title: `t ${owner.username}`, visibility: 'public', inviteeIds: [] });
  }
  const report = (reporter: UserRecord, kind: ReportKind, targetId: string, b: BroadcastRecord, reason: 'spam' | 'hate' = 'spam', details = '') =>
    stores.reports.create({ reporterId: reporter.id, kind, targetId, broadcastId: b.id, targetUserId: b.ownerId, reason, details });

  it('has the 0011_reports tables', async () => {
    const names = dialect === 'sqlite'
      ? (await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(handle.db)).rows.map((r) => r.name)
      : (await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = 'public'`.execute(handle.db)).rows.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(['reports', 'suspensions']));
  });

  it('files one report per reporter and item: the second is the first, whatever its reason', async () => {
    const [alice, bob, carol] = [await user('alice'), await user('bob'), await user('carol')];
    const b = await broadcastOf(bob);
    const first = await report(alice, 'broadcast', b.id, b, 'spam', 'selling things');
    expect(first.created).toBe(true);
    expect(first.report).toMatchObject({
      id: expect.stringMatching(/^r_/),
      reporterId: alice.id,
      reporterUsername: alice.username,
      kind: 'broadcast',
      targetId: b.id,
      broadcastId: b.id,
      targetUserId: bob.id,
      reason: 'spam',
      details: 'selling things',
      state: 'open',
      resolvedAt: null,
      resolvedBy: null,
      resolution: null,
    });
    const again = await report(alice, 'broadcast', b.id, b, 'hate');
    expect(again).toEqual({ report: first.report, created: false });
    expect(await stores.reports.findByReporter(alice.id, 'broadcast', b.id)).toEqual(first.report);
    // The same item as a replay is another item; another reporter is another report.
    expect((await report(alice, 'replay', b.id, b)).created).toBe(true);
    const other = await report(carol, 'broadcast', b.id, b);
    expect(other.created).toBe(true);
    expect(other.report.id).not.toBe(first.report.id);
    const counts = await stores.reports.openCounts([{ kind: 'broadcast', targetId: b.id }]);
    expect(counts.get(`broadcast:${b.id}`)).toBe(2);
    expect(counts.get(`replay:${b.id}`)).toBe(1);
  });

  it('two racing reports of the same item by one user make one report', async () => {
    const [alice, bob] = [await user('alice'), await user('bob')];
    const b = await broadcastOf(bob);
    const results = await Promise.all([report(alice, 'broadcast', b.id, b), report(alice, 'broadcast', b.id, b), report(alice, 'broadcast', b.id, b)]);
    expect(new Set(results.map((r) => r.report.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
  });

  it('lists the open queue oldest first, resolves every open report of an item at once, and lists resolved ones newest first', async () => {
    const [alice, carol, bob] = [await user('alice'), await user('carol'), await user('bob')];
    const b = await broadcastOf(bob);
    const openBefore = await stores.reports.countOpen();
    const r1 = (await report(alice, 'broadcast', b.id, b)).report;
    const r2 = (await report(carol, 'broadcast', b.id, b)).report;
    const r3 = (await report(alice, 'replay', b.id, b)).report;
    expect(await stores.reports.countOpen()).toBe(openBefore + 3);
    const open = (await stores.reports.list('open', 200)).map((r) => r.id);
    expect(open.indexOf(r1.id)).toBeLessThan(open.indexOf(r2.id));
    expect(open.indexOf(r2.id)).toBeLessThan(open.indexOf(r3.id));

    expect(await stores.reports.resolveItem('broadcast', b.id, { state: 'dismissed', by: 'u_admin0000', resolution: 'dismissed' })).toBe(2);
    // Nothing open left of that item: resolving again changes nothing (the first resolution stays).
    expect(await stores.reports.resolveItem('broadcast', b.id, { state: 'actioned', by: 'u_admin0000', resolution: 'ended' })).toBe(0);
    const after = await stores.reports.get(r1.id);
    expect(after).toMatchObject({ state: 'dismissed', resolvedBy: 'u_admin0000', resolution: 'dismissed', resolvedAt: expect.any(String) });
    expect((await stores.reports.get(r3.id))?.state).toBe('open');
    expect(await stores.reports.countOpen()).toBe(openBefore + 1);

    await stores.reports.resolveItem('replay', b.id, { state: 'actioned', by: 'u_admin0000', resolution: 'deleted' });
    const resolved = (await stores.reports.list('resolved', 200)).map((r) => r.id);
    expect(resolved.indexOf(r3.id)).toBeLessThan(resolved.indexOf(r1.id));
    expect(resolved).not.toContain(undefined);
    expect((await stores.reports.list('open', 200)).map((r) => r.id)).not.toContain(r3.id);
  });

  it('keeps a report after its broadcast is deleted, and drops it with its reporter’s account', async () => {
    const [alice, bob, dave] = [await user('alice'), await user('bob'), await user('dave')];
    const b = await broadcastOf(bob);
    await stores.broadcasts.end(b.id, 'stopped');
    const kept = (await report(alice, 'replay', b.id, b)).report;
    const dropped = (await report(dave, 'replay', b.id, b)).report;
    await stores.replays.begin(b.id);
    await stores.replays.delete(b.id);
    expect((await stores.reports.get(kept.id))?.targetId).toBe(b.id);
    expect(await stores.users.deleteAccount(dave.id)).toBe(true);
    expect(await stores.reports.get(dropped.id)).toBeUndefined();
    expect(await stores.reports.get(kept.id)).toBeDefined();
  });

  it('finds a chat message by id and reads it with the lines around it', async () => {
    const [alice, bob] = [await user('alice'), await user('bob')];
    const b = await broadcastOf(bob);
    const other = await broadcastOf(alice);
    const ids: ChatMessageId[] = [];
    for (let i = 0; i < 9; i++) {
      ids.push((await stores.chat.add({ broadcastId: b.id, userId: i % 2 ? alice.id : bob.id, text: `line ${i}`, offsetMs: i * 100 })).id);
      // Another broadcast's lines in between never show up in the context.
      await stores.chat.add({ broadcastId: other.id, userId: alice.id, text: `elsewhere ${i}`, offsetMs: i });
    }
    const found = await stores.chat.find(ids[4]!);
    expect(found).toMatchObject({ id: ids[4], broadcastId: b.id, user: { id: bob.id, username: bob.username }, text: 'line 4' });
    expect(await stores.chat.find(ChatMessageIdSchema.parse('m_doesnotexist00'))).toBeUndefined();
    expect((await stores.chat.around(ids[4]!, 3)).map((m) => m.text)).toEqual(['line 1', 'line 2', 'line 3', 'line 4', 'line 5', 'line 6', 'line 7']);
    expect((await stores.chat.around(ids[0]!, 2)).map((m) => m.text)).toEqual(['line 0', 'line 1', 'line 2']);
    expect((await stores.chat.around(ids[8]!, 2)).map((m) => m.text)).toEqual(['line 6', 'line 7', 'line 8']);
    expect(await stores.chat.around(ChatMessageIdSchema.parse('m_doesnotexist00'), 3)).toEqual([]);
  });

  it('suspends an account with a reason, replaces the reason, lists and lifts it', async () => {
    const [bob, admin] = [await user('bob'), await user('admin')];
    expect(await stores.suspensions.isSuspended(bob.id)).toBe(false);
    expect(await stores.suspensions.get(bob.id)).toBeUndefined();
    expect(await stores.suspensions.suspend(bob.id, 'spam in every chat', admin.id)).toBe(true);
    expect(await stores.suspensions.isSuspended(bob.id)).toBe(true);
    const first = await stores.suspensions.get(bob.id);
    expect(first).toEqual({ reason: 'spam in every chat', since: expect.any(String) });
    // Again: the reason is replaced, the date it began stays.
    expect(await stores.suspensions.suspend(bob.id, 'threats', 'cli')).toBe(true);
    expect(await stores.suspensions.get(bob.id)).toEqual({ reason: 'threats', since: first!.since });
    expect((await stores.suspensions.list()).find((s) => s.user.id === bob.id)).toEqual({ user: { id: bob.id, username: bob.username }, reason: 'threats', since: first!.since, by: 'cli' });
    expect(await stores.suspensions.unsuspend(bob.id)).toBe(true);
    expect(await stores.suspensions.unsuspend(bob.id)).toBe(false);
    expect(await stores.suspensions.isSuspended(bob.id)).toBe(false);
    expect((await stores.suspensions.list()).some((s) => s.user.id === bob.id)).toBe(false);
  });

  it('refuses to suspend an account that does not exist, and forgets a suspension with its account', async () => {
    expect(await stores.suspensions.suspend(UserIdSchema.parse('u_doesnotexist00'), 'x', 'cli')).toBe(false);
    const eve = await user('eve');
    await stores.suspensions.suspend(eve.id, 'x', 'cli');
    expect(await stores.users.deleteAccount(eve.id)).toBe(true);
    expect(await stores.suspensions.get(eve.id)).toBeUndefined();
  });
});
