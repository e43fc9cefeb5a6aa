import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../common/errors.ts';
import { BroadcastIdSchema, ChatMessageIdSchema, UserIdSchema } from '../../../common/protocol/ids.ts';
import type { DialectName } from '../../../signaling/store/migrations.ts';
import { type Stores } from '../../../signaling/store/index.ts';
import type { UserRecord } from '../../../signaling/store/UserStore.ts';
import { storesOn } from '../../../testkit/storesOn.ts';


const uniqueName = (prefix: string) => `${prefix}_${randomBytes(5).toString('hex')}`;

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return err instanceof AppError ? err.code : err === undefined ? undefined : `not an AppError: ${err instanceof Error ? err.message : typeof err}`;
}

describe.each(['sqlite', 'postgres'] as const)('moderation store on %s', (dialect: DialectName) => {
  let stores: Stores;
  storesOn(dialect, (t) => ({ stores } = t));

  const user = (prefix: string): Promise<UserRecord> => stores.users.create(uniqueName(prefix), 'scrypt$fake');

  /** A broadcast of `owner` with one message by `author` and one by `other`, and one of the owner. */
  async function chatScene() {
    const owner = await user('owner');
    const author = await user('author');
    const other = await user('other');
    const b = await stores.broadcasts.create({ ownerId: owner.id, title: 'scene', visibility: 'public', inviteeIds: [] });
    const rude = await stores.chat.add({ broadcastId: b.id, userId: author.id, text: 'rude', offsetMs: 1000 });
    const kind = await stores.chat.add({ broadcastId: b.id, userId: other.id, text: 'kind', offsetMs: 2000 });
    const own = await stores.chat.add({ broadcastId: b.id, userId: owner.id, text: 'welcome', offsetMs: 500 });
    return { owner, author, other, b, rude, kind, own };
  }

  it('marks a removed message (who, in what right, when) and keeps its row', async () => {
    const { owner, author, b, rude } = await chatScene();
    expect((await stores.moderation.message(rude.id))?.removal).toBeNull();
    const removed = await stores.moderation.removeMessage(rude.id, owner.id, 'broadcaster');
    expect(removed).toEqual({
      id: rude.id,
      broadcastId: b.id,
      ownerId: owner.id,
      authorId: author.id,
      removal: { by: owner.id, as: 'broadcaster', at: expect.any(String) },
    });
    expect(new Date(removed!.removal!.at).toISOString()).toBe(removed!.removal!.at);
    // Idempotent: a second removal (here by an admin) keeps the first mark.
    const admin = await user('admin');
    expect(await stores.moderation.removeMessage(rude.id, admin.id, 'admin')).toEqual(removed);
    expect(await stores.moderation.message(rude.id)).toEqual(removed);
  });

  it('leaves removed messages out of the live chat and the replay, but not out of their author’s archive', async () => {
    const { owner, author, other, b, rude, kind, own } = await chatScene();
    await stores.moderation.removeMessage(rude.id, owner.id, 'broadcaster');
    // The live chat in order sent; the replay by offset.
    expect((await stores.chat.recent(b.id, 50)).map((m) => m.text)).toEqual(['kind', 'welcome']);
    expect((await stores.chat.list(b.id)).map((m) => m.text)).toEqual(['welcome', 'kind']);
    // The owner's archive of this broadcast: without the removed message of someone else.
    expect((await stores.chat.listForArchive(b.id, owner.id)).map((m) => [m.text, m.removed])).toEqual([
      ['welcome', null],
      ['kind', null],
    ]);
    // Its author's archive keeps their own words, marked; another viewer's does not get them.
    const elsewhere = await stores.chat.listByUserElsewhere(author.id);
    expect(elsewhere.map((m) => [m.id, m.text, m.broadcastTitle, m.removed])).toEqual([
      [rude.id, 'rude', 'scene', { as: 'broadcaster', at: expect.any(String) }],
    ]);
    expect((await stores.chat.listByUserElsewhere(other.id)).map((m) => [m.id, m.removed])).toEqual([[kind.id, null]]);
    // An admin removes the owner's own message: the owner's archive keeps it, marked as removed by an admin.
    const admin = await user('admin');
    await stores.moderation.removeMessage(own.id, admin.id, 'admin');
    expect((await stores.chat.listForArchive(b.id, owner.id)).map((m) => [m.text, m.removed?.as ?? null])).toEqual([
      ['welcome', 'admin'],
      ['kind', null],
    ]);
    expect((await stores.chat.list(b.id)).map((m) => m.text)).toEqual(['kind']);
  });

  it('answers undefined for an unknown message', async () => {
    const ghost = ChatMessageIdSchema.parse('m_doesnotexist00');
    expect(await stores.moderation.message(ghost)).toBeUndefined();
    const someone = await user('someone');
    expect(await stores.moderation.removeMessage(ghost, someone.id, 'admin')).toBeUndefined();
  });

  it('blocks and unblocks, idempotently, and lists whom an owner blocked, newest first', async () => {
    const owner = await user('owner');
    const a = await user('a');
    const b = await user('b');
    expect(await stores.moderation.isBlocked(owner.id, a.id)).toBe(false);
    await stores.moderation.block(owner.id, a.id);
    await stores.moderation.block(owner.id, b.id);
    await stores.moderation.block(owner.id, a.id);
    expect(await stores.moderation.isBlocked(owner.id, a.id)).toBe(true);
    // One way only: a did not block the owner.
    expect(await stores.moderation.isBlocked(a.id, owner.id)).toBe(false);
    const list = await stores.moderation.listBlocked(owner.id);
    expect(list.map((e) => e.user)).toEqual([
      { id: b.id, username: b.username },
      { id: a.id, username: a.username },
    ]);
    expect(new Date(list[0]!.blockedAt).toISOString()).toBe(list[0]!.blockedAt);
    expect([...(await stores.moderation.blockersOf(a.id))]).toEqual([owner.id]);
    expect(await stores.moderation.unblock(owner.id, a.id)).toBe(true);
    expect(await stores.moderation.unblock(owner.id, a.id)).toBe(false);
    expect(await stores.moderation.isBlocked(owner.id, a.id)).toBe(false);
    expect(await stores.moderation.listBlocked(a.id)).toEqual([]);
  });

  it('refuses to block oneself or a user who does not exist', async () => {
    const owner = await user('owner');
    expect(await codeOf(stores.moderation.block(owner.id, owner.id))).toBe('VALIDATION_FAILED');
    expect(await stores.moderation.isBlocked(owner.id, owner.id)).toBe(false);
    expect(await codeOf(stores.moderation.block(owner.id, UserIdSchema.parse('u_doesnotexist00')))).toBe('NOT_FOUND');
    expect(await stores.moderation.listBlocked(owner.id)).toEqual([]);
  });

  it('forgets blocks with a deleted account, on either side', async () => {
    const owner = await user('owner');
    const troll = await user('troll');
    const other = await user('other');
    await stores.moderation.block(owner.id, troll.id);
    await stores.moderation.block(other.id, owner.id);
    expect(await stores.users.deleteAccount(owner.id)).toBe(true);
    expect(await stores.moderation.blockersOf(troll.id)).toEqual(new Set());
    expect(await stores.moderation.listBlocked(other.id)).toEqual([]);
  });

  it('keeps a slow mode per broadcast, 0 to 300 whole seconds', async () => {
    const owner = await user('owner');
    const b = await stores.broadcasts.create({ ownerId: owner.id, title: 'slow', visibility: 'public', inviteeIds: [] });
    expect(await stores.moderation.slowMode(b.id)).toBe(0);
    expect(await stores.moderation.setSlowMode(b.id, 30)).toBe(true);
    expect(await stores.moderation.slowMode(b.id)).toBe(30);
    for (const bad of [-1, 1.5, 301, Number.NaN]) expect(await codeOf(stores.moderation.setSlowMode(b.id, bad)), String(bad)).toBe('VALIDATION_FAILED');
    expect(await stores.moderation.slowMode(b.id)).toBe(30);
    expect(await stores.moderation.setSlowMode(b.id, 0)).toBe(true);
    expect(await stores.moderation.slowMode(b.id)).toBe(0);
    const ghost = BroadcastIdSchema.parse('b_doesnotexist00');
    expect(await stores.moderation.setSlowMode(ghost, 10)).toBe(false);
    expect(await stores.moderation.slowMode(ghost)).toBe(0);
  });

  it('keeps followers-only chat per broadcast, beside slow mode (migration 0013)', async () => {
    const owner = await user('owner');
    const b = await stores.broadcasts.create({ ownerId: owner.id, title: 'fans', visibility: 'public', inviteeIds: [] });
    const other = await stores.broadcasts.create({ ownerId: (await user('other')).id, title: 'open', visibility: 'public', inviteeIds: [] });
    expect(await stores.moderation.chatSettings(b.id)).toEqual({ slowModeSeconds: 0, followersOnly: false });
    expect(await stores.moderation.setFollowersOnly(b.id, true)).toBe(true);
    expect(await stores.moderation.setSlowMode(b.id, 10)).toBe(true);
    expect(await stores.moderation.chatSettings(b.id)).toEqual({ slowModeSeconds: 10, followersOnly: true });
    // Per broadcast: another one is untouched.
    expect(await stores.moderation.chatSettings(other.id)).toEqual({ slowModeSeconds: 0, followersOnly: false });
    // Idempotent, and off again.
    expect(await stores.moderation.setFollowersOnly(b.id, true)).toBe(true);
    expect(await stores.moderation.setFollowersOnly(b.id, false)).toBe(true);
    expect(await stores.moderation.chatSettings(b.id)).toEqual({ slowModeSeconds: 10, followersOnly: false });
    const ghost = BroadcastIdSchema.parse('b_doesnotexist00');
    expect(await stores.moderation.setFollowersOnly(ghost, true)).toBe(false);
    expect(await stores.moderation.chatSettings(ghost)).toEqual({ slowModeSeconds: 0, followersOnly: false });
  });
});
