import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Visibility } from '../../../common/protocol/events.ts';
import type { UserId } from '../../../common/protocol/ids.ts';
import { type DatabaseHandle } from '../../../signaling/store/Database.ts';
import type { DialectName } from '../../../signaling/store/migrations.ts';
import { type Stores } from '../../../signaling/store/index.ts';
import type { BroadcastRecord } from '../../../signaling/store/BroadcastStore.ts';
import type { UserRecord } from '../../../signaling/store/UserStore.ts';
import { DELETED_USER_ID } from '../../../signaling/store/UserStore.ts';
import { expectAppError, storesOn, uniqueName } from '../../../testkit/storesOn.ts';
import { replayOutput } from '../../../testkit/replayOutput.ts';


/** Profiles, follows and notifications (migration 0009_profiles_follows), on both dialects. */
describe.each(['sqlite', 'postgres'] as const)('profile, follow and notification stores on %s', (dialect: DialectName) => {
  let handle: DatabaseHandle;
  let stores: Stores;
  storesOn(dialect, (t) => ({ handle, stores } = t));

  const user = (prefix = 'user'): Promise<UserRecord> => stores.users.create(uniqueName(prefix), 'scrypt$fake');

  /** A broadcast of `owner` (live unless ended) with a ready replay when ended. */
  async function broadcast(owner: UserRecord, visibility: Visibility, o: { invitees?: UserId[]; ended?: boolean } = {}): Promise<BroadcastRecord> {
    const b = await stores.broadcasts.create({ ownerId: owner.id, title: `t ${randomBytes(3).toString('hex')}`, visibility, inviteeIds: o.invitees ?? [] });
    if (o.ended === false) return b;
    await stores.replays.begin(b.id);
    const ended = await stores.broadcasts.end(b.id, 'stopped');
    await stores.replays.applyOutput(b.id, 'ready', replayOutput());
    return ended!;
  }

  it('a profile has defaults until edited; names are found in any case; the deleted-user account has none', async () => {
    const u = await user('Prof');
    expect(await stores.profiles.findByUsername(u.username.toUpperCase())).toEqual({
      id: u.id,
      username: u.username,
      role: 'user',
      createdAt: u.createdAt,
      displayName: null,
      bio: '',
      avatar: null,
    });
    expect(await stores.profiles.update(u.id, { displayName: 'Ada L.', bio: 'line one\nline two' })).toMatchObject({ displayName: 'Ada L.', bio: 'line one\nline two' });
    // Only what is given changes; an empty display name clears it.
    expect(await stores.profiles.update(u.id, { bio: 'new bio' })).toMatchObject({ displayName: 'Ada L.', bio: 'new bio' });
    expect(await stores.profiles.update(u.id, { displayName: '' })).toMatchObject({ displayName: null, bio: 'new bio' });
    expect(await stores.profiles.findByUsername('nobody_here')).toBeUndefined();
    expect(await stores.profiles.update('u_doesnotexist0' as UserId, { bio: 'x' })).toBeUndefined();
    // The account that keeps deleted users' messages is nobody's profile.
    const victim = await user();
    await stores.users.deleteAccount(victim.id);
    expect(await stores.profiles.get(DELETED_USER_ID)).toBeUndefined();
    expect(await stores.profiles.findByUsername('deleted user')).toBeUndefined();
  });

  it('setAvatar returns the version it replaces', async () => {
    const u = await user();
    expect(await stores.profiles.setAvatar(u.id, 'AAAAAAAAAAAAAAAA')).toEqual({ previous: null });
    expect(await stores.profiles.setAvatar(u.id, 'BBBBBBBBBBBBBBBB')).toEqual({ previous: 'AAAAAAAAAAAAAAAA' });
    expect((await stores.profiles.get(u.id))?.avatar).toBe('BBBBBBBBBBBBBBBB');
    // Editing the text keeps the avatar.
    await stores.profiles.update(u.id, { bio: 'hi' });
    expect(await stores.profiles.setAvatar(u.id, null)).toEqual({ previous: 'BBBBBBBBBBBBBBBB' });
    expect(await stores.profiles.get(u.id)).toMatchObject({ avatar: null, bio: 'hi' });
    expect(await stores.profiles.setAvatar('u_doesnotexist0' as UserId, 'CCCCCCCCCCCCCCCC')).toBeUndefined();
  });

  it('follows are idempotent, never of oneself, of existing accounts only, and counted both ways', async () => {
    const [a, b, c] = [await user(), await user(), await user()];
    expect(await stores.follows.follow(a.id, b.id)).toBe(true);
    expect(await stores.follows.follow(a.id, b.id)).toBe(false);
    expect(await stores.follows.follow(c.id, b.id)).toBe(true);
    expect(await stores.follows.follow(b.id, a.id)).toBe(true);
    await expectAppError(stores.follows.follow(a.id, a.id), 'VALIDATION_FAILED');
    await expectAppError(stores.follows.follow(a.id, 'u_doesnotexist0' as UserId), 'NOT_FOUND');
    expect(await stores.follows.counts(b.id)).toEqual({ followers: 2, following: 1 });
    expect(await stores.follows.counts(a.id)).toEqual({ followers: 1, following: 1 });
    expect(await stores.follows.isFollowing(a.id, b.id)).toBe(true);
    expect(await stores.follows.isFollowing(b.id, c.id)).toBe(false);
    expect((await stores.follows.listFollowers(b.id)).map((f) => f.username)).toEqual([a.username, c.username]);
    expect((await stores.follows.listFollowing(a.id)).map((f) => f.username)).toEqual([b.username]);
    expect(await stores.follows.unfollow(a.id, b.id)).toBe(true);
    expect(await stores.follows.unfollow(a.id, b.id)).toBe(false);
    expect(await stores.follows.counts(b.id)).toEqual({ followers: 1, following: 1 });
  });

  it('follower ids come a page at a time, each once', async () => {
    const star = await user('star');
    const fans: UserId[] = [];
    for (let i = 0; i < 7; i++) {
      const f = await user('fan');
      fans.push(f.id);
      await stores.follows.follow(f.id, star.id);
    }
    const pages: UserId[][] = [];
    let after: UserId | null = null;
    for (;;) {
      const page: UserId[] = await stores.follows.followerIds(star.id, after, 3);
      if (page.length === 0) break;
      pages.push(page);
      after = page[page.length - 1]!;
    }
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    // Every follower once (the order is the database's collation of the ids).
    expect([...pages.flat()].sort()).toEqual([...fans].sort());
  });

  it('a profile\'s follower and following lists come newest first, a page at a time, with what lists show of each person', async () => {
    const star = await user('star');
    const fans: UserRecord[] = [];
    for (let i = 0; i < 5; i++) {
      const f = await user('fan');
      fans.push(f);
      await stores.follows.follow(f.id, star.id);
    }
    await stores.profiles.update(fans[4]!.id, { displayName: 'Newest Fan' });
    await stores.profiles.setAvatar(fans[4]!.id, 'AAAAAAAAAAAAAAAA');
    const first = await stores.follows.page(star.id, 'followers', 2);
    expect(first.map((p) => p.id)).toEqual([fans[4]!.id, fans[3]!.id]);
    expect(first[0]).toEqual({ id: fans[4]!.id, username: fans[4]!.username, displayName: 'Newest Fan', avatar: 'AAAAAAAAAAAAAAAA', since: expect.any(Number) });
    expect(first[1]).toMatchObject({ displayName: null, avatar: null });
    const second = await stores.follows.page(star.id, 'followers', 2, { since: first[1]!.since, id: first[1]!.id });
    expect(second.map((p) => p.id)).toEqual([fans[2]!.id, fans[1]!.id]);
    const last = await stores.follows.page(star.id, 'followers', 2, { since: second[1]!.since, id: second[1]!.id });
    expect(last.map((p) => p.id)).toEqual([fans[0]!.id]);
    expect(await stores.follows.page(star.id, 'followers', 2, { since: last[0]!.since, id: last[0]!.id })).toEqual([]);
    // The other side: whom a fan follows.
    await stores.follows.follow(fans[0]!.id, fans[1]!.id);
    expect((await stores.follows.page(fans[0]!.id, 'following', 10)).map((p) => p.id)).toEqual([fans[1]!.id, star.id]);
    expect(await stores.follows.page(star.id, 'following', 10)).toEqual([]);
    // A deleted account leaves both lists.
    await stores.users.deleteAccount(fans[4]!.id);
    expect((await stores.follows.page(star.id, 'followers', 10)).map((p) => p.id)).toEqual([fans[3]!.id, fans[2]!.id, fans[1]!.id, fans[0]!.id]);
  });

  it('"following, live now": only live broadcasts of followed people the viewer may see', async () => {
    const viewer = await user('viewer');
    const [followedPub, followedPriv, followedPrivInvited, stranger] = [await user(), await user(), await user(), await user()];
    for (const u of [followedPub, followedPriv, followedPrivInvited]) await stores.follows.follow(viewer.id, u.id);
    const pub = await broadcast(followedPub, 'public', { ended: false });
    await broadcast(followedPriv, 'private', { ended: false });
    const invited = await broadcast(followedPrivInvited, 'private', { ended: false, invitees: [viewer.id] });
    await broadcast(stranger, 'public', { ended: false });
    const list = await stores.broadcasts.listLiveVisible({ viewerId: viewer.id, limit: 100, followedBy: viewer.id });
    expect(list.map((b) => b.id).sort()).toEqual([pub.id, invited.id].sort());
    // Without the filter, the stranger's public broadcast is there too.
    const everyone = await stores.broadcasts.listLiveVisible({ viewerId: viewer.id, limit: 100 });
    expect(everyone.map((b) => b.ownerId)).toContain(stranger.id);
    for (const b of [...list, ...everyone]) await stores.broadcasts.end(b.id, 'stopped');
  });

  it('a profile lists ready replays others may see, everything to its owner, newest first, a page at a time', async () => {
    const owner = await user('owner');
    const [invitee, other] = [await user(), await user()];
    const p1 = await broadcast(owner, 'public');
    const priv = await broadcast(owner, 'private', { invitees: [invitee.id] });
    const p2 = await broadcast(owner, 'public');
    const processing = await stores.broadcasts.create({ ownerId: owner.id, title: 'processing', visibility: 'public', inviteeIds: [] });
    await stores.replays.begin(processing.id);
    await stores.broadcasts.end(processing.id, 'stopped');
    await stores.replays.markProcessing(processing.id);
    const ids = async (viewerId: UserId | undefined) => (await stores.replays.listProfile({ ownerId: owner.id, viewerId, limit: 50 })).map((r) => r.broadcastId);
    expect(await ids(undefined)).toEqual([p2.id, p1.id]);
    expect(await ids(other.id)).toEqual([p2.id, p1.id]);
    expect(await ids(invitee.id)).toEqual([p2.id, priv.id, p1.id]);
    expect(await ids(owner.id)).toEqual([processing.id, p2.id, priv.id, p1.id]);
    // Pages resume strictly after the cursor.
    const first = await stores.replays.listProfile({ ownerId: owner.id, viewerId: owner.id, limit: 2 });
    const last = first[first.length - 1]!;
    const second = await stores.replays.listProfile({ ownerId: owner.id, viewerId: owner.id, limit: 2, after: { startedAt: last.startedAt, id: last.broadcastId } });
    expect([...first, ...second].map((r) => r.broadcastId)).toEqual([processing.id, p2.id, priv.id, p1.id]);
  });

  it('notifications: stored per recipient, listed while the broadcast may be seen, read only by their user', async () => {
    const star = await user('star');
    const [fan, other] = [await user('fan'), await user('other')];
    const b = await broadcast(star, 'public', { ended: false });
    const { added, createdAt } = await stores.notifications.addLive({ id: 'n_event00000001', actorId: star.id, broadcastId: b.id, recipients: [fan.id, other.id] });
    expect(added).toBe(2);
    expect(Number.isNaN(Date.parse(createdAt))).toBe(false);
    // Adding the same event again changes nothing.
    expect((await stores.notifications.addLive({ id: 'n_event00000001', actorId: star.id, broadcastId: b.id, recipients: [fan.id] })).added).toBe(0);
    await stores.profiles.update(star.id, { displayName: 'The Star' });
    const list = await stores.notifications.list(fan.id, 20);
    expect(list).toEqual([
      {
        id: 'n_event00000001',
        kind: 'live',
        actor: { id: star.id, username: star.username, displayName: 'The Star', avatar: null },
        broadcast: { id: b.id, title: b.title },
        createdAt,
        readAt: null,
      },
    ]);
    expect(await stores.notifications.unreadCount(fan.id)).toBe(1);
    // Someone else's ids mark nothing of theirs.
    expect(await stores.notifications.markRead(other.id, ['n_doesnotexist0'])).toBe(0);
    expect(await stores.notifications.markRead(fan.id, ['n_event00000001'])).toBe(1);
    expect(await stores.notifications.unreadCount(fan.id)).toBe(0);
    expect(await stores.notifications.unreadCount(other.id)).toBe(1);
    expect(await stores.notifications.markRead(other.id, 'all')).toBe(1);
    expect((await stores.notifications.list(other.id, 20))[0]?.readAt).not.toBeNull();

    // Made private afterwards (without them): the notification is gone for them, as the broadcast is.
    await stores.broadcasts.end(b.id, 'stopped');
    const priv = await broadcast(star, 'private', { invitees: [fan.id] });
    await stores.notifications.addLive({ id: 'n_event00000002', actorId: star.id, broadcastId: priv.id, recipients: [fan.id] });
    expect((await stores.notifications.list(fan.id, 20)).map((n) => n.id)).toEqual(['n_event00000002', 'n_event00000001']);
    await stores.broadcasts.updateEnded(priv.id, { visibility: 'private', inviteeIds: [] });
    expect((await stores.notifications.list(fan.id, 20)).map((n) => n.id)).toEqual(['n_event00000001']);
    expect(await stores.notifications.unreadCount(fan.id)).toBe(0);
    expect((await stores.notifications.listAll(fan.id)).map((n) => n.id)).toEqual(['n_event00000001']);
    // A broadcast that is gone takes its notifications with it; adding to it stores nothing.
    await stores.replays.delete(b.id);
    expect(await stores.notifications.list(fan.id, 20)).toEqual([]);
    expect((await stores.notifications.addLive({ id: 'n_event00000003', actorId: star.id, broadcastId: b.id, recipients: [fan.id] })).added).toBe(0);
  });

  it('deleting an account removes its profile, its follows both ways and the notifications to and about it', async () => {
    const gone = await user('gone');
    const [fan, idol] = [await user(), await user()];
    await stores.profiles.update(gone.id, { bio: 'bye' });
    await stores.follows.follow(fan.id, gone.id);
    await stores.follows.follow(gone.id, idol.id);
    const theirs = await broadcast(gone, 'public', { ended: false });
    const idols = await broadcast(idol, 'public', { ended: false });
    await stores.notifications.addLive({ id: 'n_aboutgone0001', actorId: gone.id, broadcastId: theirs.id, recipients: [fan.id] });
    await stores.notifications.addLive({ id: 'n_togone0000001', actorId: idol.id, broadcastId: idols.id, recipients: [gone.id] });
    await stores.broadcasts.end(theirs.id, 'stopped');
    expect(await stores.users.deleteAccount(gone.id)).toBe(true);
    expect(await stores.profiles.get(gone.id)).toBeUndefined();
    expect(await stores.follows.counts(fan.id)).toEqual({ followers: 0, following: 0 });
    expect(await stores.follows.counts(idol.id)).toEqual({ followers: 0, following: 0 });
    expect(await stores.notifications.list(fan.id, 20)).toEqual([]);
    const left = await handle.db.selectFrom('notifications').select('id').where((eb) => eb.or([eb('user_id', '=', gone.id), eb('actor_id', '=', gone.id)])).execute();
    expect(left).toEqual([]);
    expect(await handle.db.selectFrom('profiles').select('user_id').where('user_id', '=', gone.id).execute()).toEqual([]);
    await stores.broadcasts.end(idols.id, 'stopped');
  });
});
