import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../common/errors.ts';
import { BroadcastIdSchema } from '../../../common/protocol/ids.ts';
import type { Visibility } from '../../../common/protocol/events.ts';
import { type DatabaseHandle } from '../../../signaling/store/Database.ts';
import type { DialectName } from '../../../signaling/store/migrations.ts';
import { type Stores } from '../../../signaling/store/index.ts';
import type { BroadcastRecord } from '../../../signaling/store/BroadcastStore.ts';
import type { ReplayOutput } from '../../../common/jobs/results.ts';
import { storesOn, uniqueName } from '../../../testkit/storesOn.ts';


/** What the finalize job reports, with a two-run timeline and an MP4 larger than 2^32 bytes (bigint columns). */
function output(over: Partial<ReplayOutput> = {}): ReplayOutput {
  return {
    durationMs: 5000,
    width: 1280,
    height: 720,
    timeline: [
      { offsetMs: 0, mediaStartMs: 0, durationMs: 3000 },
      { offsetMs: 10_000, mediaStartMs: 3000, durationMs: 2000 },
    ],
    poster: 'poster.jpg',
    webm: 'video.webm',
    videoMp4: null,
    hls: 'hls/index.m3u8',
    mp4: { name: 'replay.mp4', sizeBytes: 5_000_000_123, sha256: 'ab'.repeat(32) },
    ...over,
  };
}

describe.each(['sqlite', 'postgres'] as const)('replay store on %s', (dialect: DialectName) => {
  let handle: DatabaseHandle;
  let stores: Stores;
  storesOn(dialect, (t) => ({ handle, stores } = t));

  /** A broadcast of a new user; ended unless `live`. */
  async function broadcast(visibility: Visibility = 'public', live = false): Promise<BroadcastRecord> {
    const owner = await stores.users.create(uniqueName('owner'), 'scrypt$fake');
    const b = await stores.broadcasts.create({ ownerId: owner.id, title: `t ${owner.username}`, visibility, inviteeIds: [] });
    return live ? b : (await stores.broadcasts.end(b.id, 'stopped'))!;
  }

  it('begins a replay once, recording, with nothing in it yet', async () => {
    const b = await broadcast('public', true);
    expect(await stores.replays.get(b.id)).toBeUndefined();
    expect(await stores.replays.begin(b.id)).toBe(true);
    const r = await stores.replays.get(b.id);
    expect(r).toEqual({
      broadcastId: b.id,
      state: 'recording',
      reason: null,
      durationMs: null,
      width: null,
      height: null,
      timeline: [],
      poster: null,
      webm: null,
      videoMp4: null,
      hls: null,
      mp4: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect(new Date(r!.createdAt).toISOString()).toBe(r!.createdAt);
    // Idempotent: a second begin changes nothing.
    expect(await stores.replays.begin(b.id)).toBe(false);
    expect(await stores.replays.get(b.id)).toEqual(r);
  });

  it('refuses to begin a replay of an unknown broadcast', async () => {
    const ghost = BroadcastIdSchema.parse('b_doesnotexist00');
    const err = await stores.replays.begin(ghost).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('NOT_FOUND');
    expect(await stores.replays.get(ghost)).toBeUndefined();
  });

  it('goes recording → processing → preview → ready, storing what each step reports', async () => {
    const b = await broadcast();
    await stores.replays.begin(b.id);
    expect(await stores.replays.markProcessing(b.id)).toBe(true);
    expect(await stores.replays.markProcessing(b.id)).toBe(false);
    expect((await stores.replays.get(b.id))?.state).toBe('processing');

    // The quick remux: playable WebM and poster, the rest still missing even if reported.
    expect(await stores.replays.applyOutput(b.id, 'preview', output())).toBe(true);
    expect(await stores.replays.get(b.id)).toMatchObject({
      state: 'processing',
      durationMs: 5000,
      width: 1280,
      height: 720,
      timeline: output().timeline,
      poster: 'poster.jpg',
      webm: 'video.webm',
      videoMp4: null,
      hls: null,
      mp4: null,
    });

    expect(await stores.replays.applyOutput(b.id, 'ready', output({ durationMs: 5040 }))).toBe(true);
    const ready = await stores.replays.get(b.id);
    expect(ready).toMatchObject({
      state: 'ready',
      reason: null,
      durationMs: 5040,
      timeline: output().timeline,
      poster: 'poster.jpg',
      webm: 'video.webm',
      videoMp4: null,
      hls: 'hls/index.m3u8',
      mp4: { name: 'replay.mp4', sizeBytes: 5_000_000_123, sha256: 'ab'.repeat(32) },
    });
    expect(Date.parse(ready!.updatedAt)).toBeGreaterThan(Date.parse(ready!.createdAt));
  });

  it('keeps the MP4 CRC-32 finalize recorded (up to 2^32 - 1); an output without one reads back without it', async () => {
    const a = await broadcast();
    await stores.replays.begin(a.id);
    const mp4 = { name: 'replay.mp4', sizeBytes: 5_000_000_123, sha256: 'cd'.repeat(32), crc32: 0xfffffffe };
    expect(await stores.replays.applyOutput(a.id, 'ready', output({ mp4 }))).toBe(true);
    expect((await stores.replays.get(a.id))?.mp4).toEqual(mp4);

    const b = await broadcast();
    await stores.replays.begin(b.id);
    expect(await stores.replays.applyOutput(b.id, 'ready', output())).toBe(true);
    expect((await stores.replays.get(b.id))?.mp4).toEqual({ name: 'replay.mp4', sizeBytes: 5_000_000_123, sha256: 'ab'.repeat(32) });
  });

  it("stores an H.264 replay's preview (video.mp4) and keeps it at ready", async () => {
    const a = await broadcast();
    await stores.replays.begin(a.id);
    expect(await stores.replays.applyOutput(a.id, 'preview', output({ webm: null, videoMp4: 'video.mp4', hls: null, mp4: null }))).toBe(true);
    expect(await stores.replays.get(a.id)).toMatchObject({ state: 'processing', webm: null, videoMp4: 'video.mp4', hls: null, mp4: null });
    expect(await stores.replays.applyOutput(a.id, 'ready', output({ webm: null, videoMp4: 'video.mp4' }))).toBe(true);
    expect(await stores.replays.get(a.id)).toMatchObject({ state: 'ready', webm: null, videoMp4: 'video.mp4', hls: 'hls/index.m3u8' });
  });

  it('accepts a ready output straight from recording, and a preview from recording', async () => {
    const a = await broadcast();
    await stores.replays.begin(a.id);
    expect(await stores.replays.applyOutput(a.id, 'ready', output({ hls: null, mp4: null }))).toBe(true);
    expect(await stores.replays.get(a.id)).toMatchObject({ state: 'ready', hls: null, mp4: null, webm: 'video.webm' });

    const b = await broadcast();
    await stores.replays.begin(b.id);
    expect(await stores.replays.applyOutput(b.id, 'preview', output())).toBe(true);
    expect((await stores.replays.get(b.id))?.state).toBe('processing');
  });

  it('never moves a ready replay back: late preview, failure, processing and stop notes are ignored', async () => {
    const b = await broadcast();
    await stores.replays.begin(b.id);
    await stores.replays.applyOutput(b.id, 'ready', output());
    const ready = await stores.replays.get(b.id);

    expect(await stores.replays.applyOutput(b.id, 'preview', output({ durationMs: 1, poster: null, webm: 'other.webm' }))).toBe(false);
    expect(await stores.replays.applyOutput(b.id, 'ready', output({ durationMs: 1 }))).toBe(false);
    expect(await stores.replays.markFailed(b.id, 'too late')).toBe(false);
    expect(await stores.replays.markProcessing(b.id)).toBe(false);
    expect(await stores.replays.noteStopped(b.id, 'disk full')).toBe(false);
    expect(await stores.replays.begin(b.id)).toBe(false);
    expect(await stores.replays.get(b.id)).toEqual(ready);
  });

  it('fails from recording or processing, keeps the first reason, and stays failed', async () => {
    const a = await broadcast();
    await stores.replays.begin(a.id);
    expect(await stores.replays.markFailed(a.id, 'no media recorded')).toBe(true);
    expect(await stores.replays.get(a.id)).toMatchObject({ state: 'failed', reason: 'no media recorded' });

    const b = await broadcast();
    await stores.replays.begin(b.id);
    await stores.replays.markProcessing(b.id);
    expect(await stores.replays.markFailed(b.id, 'ffmpeg exited 1')).toBe(true);
    const failed = await stores.replays.get(b.id);
    expect(failed).toMatchObject({ state: 'failed', reason: 'ffmpeg exited 1' });

    expect(await stores.replays.markFailed(b.id, 'second reason')).toBe(false);
    expect(await stores.replays.applyOutput(b.id, 'preview', output())).toBe(false);
    expect(await stores.replays.applyOutput(b.id, 'ready', output())).toBe(false);
    expect(await stores.replays.markProcessing(b.id)).toBe(false);
    expect(await stores.replays.get(b.id)).toEqual(failed);
  });

  it('notes an early stop without changing the state', async () => {
    const b = await broadcast('public', true);
    await stores.replays.begin(b.id);
    expect(await stores.replays.noteStopped(b.id, 'disk space low')).toBe(true);
    expect(await stores.replays.get(b.id)).toMatchObject({ state: 'recording', reason: 'disk space low' });
    await stores.broadcasts.end(b.id, 'stopped');
    await stores.replays.markProcessing(b.id);
    await stores.replays.applyOutput(b.id, 'ready', output());
    // The reason survives to the finished replay: it says why the replay is short.
    expect(await stores.replays.get(b.id)).toMatchObject({ state: 'ready', reason: 'disk space low' });
  });

  it('ignores every transition of a replay that was never begun', async () => {
    const b = await broadcast();
    expect(await stores.replays.markProcessing(b.id)).toBe(false);
    expect(await stores.replays.noteStopped(b.id, 'x')).toBe(false);
    expect(await stores.replays.applyOutput(b.id, 'preview', output())).toBe(false);
    expect(await stores.replays.applyOutput(b.id, 'ready', output())).toBe(false);
    expect(await stores.replays.markFailed(b.id, 'x')).toBe(false);
    expect(await stores.replays.get(b.id)).toBeUndefined();
  });

  it('lists ready public replays newest first, and every replay of an owner', async () => {
    const owner = await stores.users.create(uniqueName('lister'), 'scrypt$fake');
    const make = async (title: string, visibility: Visibility) => {
      const b = await stores.broadcasts.create({ ownerId: owner.id, title, visibility, inviteeIds: [] });
      await stores.replays.begin(b.id);
      await stores.broadcasts.end(b.id, 'stopped');
      return b;
    };
    const oldest = await make('oldest', 'public');
    const priv = await make('private', 'private');
    const processing = await make('processing', 'public');
    const failed = await make('failed', 'public');
    const newest = await make('newest', 'public');
    // Someone else's live broadcast, recording: in no list of this owner, not public.
    const other = await broadcast('public', true);
    await stores.replays.begin(other.id);

    for (const b of [oldest, priv, newest]) await stores.replays.applyOutput(b.id, 'ready', output());
    await stores.replays.applyOutput(processing.id, 'preview', output());
    await stores.replays.markFailed(failed.id, 'broken');

    // Newest two public ready replays are ours; the private, processing and failed ones are not listed.
    const pub = await stores.replays.listPublic({ limit: 2 });
    expect(pub.map((r) => r.broadcastId)).toEqual([newest.id, oldest.id]);
    expect(pub[0]).toMatchObject({
      title: 'newest',
      ownerId: owner.id,
      ownerUsername: owner.username,
      visibility: 'public',
      broadcastStatus: 'ended',
      startedAt: newest.startedAt,
      state: 'ready',
      durationMs: 5000,
    });
    expect(pub[0]?.endedAt).not.toBeNull();
    const all = await stores.replays.listPublic({ limit: 1000 });
    expect(all.every((r) => r.visibility === 'public' && r.state === 'ready')).toBe(true);
    expect(all.map((r) => r.broadcastId)).not.toContain(priv.id);
    expect(await stores.replays.listPublic({ limit: 0 })).toEqual([]);

    const mine = await stores.replays.listByOwner(owner.id);
    expect(mine.map((r) => [r.title, r.state])).toEqual([
      ['newest', 'ready'],
      ['failed', 'failed'],
      ['processing', 'processing'],
      ['private', 'ready'],
      ['oldest', 'ready'],
    ]);
    expect((await stores.replays.listByOwner(owner.id, { limit: 2 })).map((r) => r.title)).toEqual(['newest', 'failed']);
    expect((await stores.replays.listByOwner(other.ownerId)).map((r) => [r.broadcastId, r.state, r.broadcastStatus])).toEqual([
      [other.id, 'recording', 'live'],
    ]);
  });

  it('lists unfinished replays of ended broadcasts only', async () => {
    const live = await broadcast('public', true);
    const ended = await broadcast();
    const processing = await broadcast();
    const ready = await broadcast();
    const failed = await broadcast();
    for (const b of [live, ended, processing, ready, failed]) await stores.replays.begin(b.id);
    await stores.replays.markProcessing(processing.id);
    await stores.replays.applyOutput(ready.id, 'ready', output());
    await stores.replays.markFailed(failed.id, 'x');

    const unfinished = (await stores.replays.listUnfinished()).map((r) => r.broadcastId);
    expect(unfinished).toContain(ended.id);
    expect(unfinished).toContain(processing.id);
    for (const id of [live.id, ready.id, failed.id]) expect(unfinished).not.toContain(id);
  });

  it('is deleted with its broadcast, and the schema refuses unknown states', async () => {
    const b = await broadcast();
    await stores.replays.begin(b.id);
    await handle.db.deleteFrom('broadcasts').where('id', '=', b.id).execute();
    expect(await stores.replays.get(b.id)).toBeUndefined();

    const c = await broadcast();
    await expect(
      sql`insert into replays (broadcast_id, state, created_at, updated_at) values (${c.id}, 'bogus', 1, 1)`.execute(handle.db),
    ).rejects.toThrow();
    await expect(
      sql`insert into replays (broadcast_id, state, mp4_name, created_at, updated_at) values (${c.id}, 'ready', 'replay.mp4', 1, 1)`.execute(handle.db),
    ).rejects.toThrow();
    expect(await stores.replays.get(c.id)).toBeUndefined();
  });

  it('deletes an ended replay with its broadcast, chat, hearts and invitees, leaving a tombstone; refuses while live', async () => {
    const guest = await stores.users.create(uniqueName('guest'), 'scrypt$fake');
    const owner = await stores.users.create(uniqueName('owner'), 'scrypt$fake');
    const live = await stores.broadcasts.create({ ownerId: owner.id, title: 'doomed', visibility: 'private', inviteeIds: [guest.id] });
    await stores.replays.begin(live.id);
    await stores.chat.add({ broadcastId: live.id, userId: guest.id, text: 'hello', offsetMs: 5 });
    await stores.chat.addHearts(live.id, 1000, 3);
    const err = await stores.replays.delete(live.id).catch((e: unknown) => e);
    expect((err as AppError).code).toBe('WRONG_STATE');
    expect(await stores.replays.tombstone(live.id)).toBeUndefined();

    await stores.broadcasts.end(live.id, 'stopped');
    await stores.replays.applyOutput(live.id, 'ready', output());
    const other = await broadcast();
    await stores.replays.begin(other.id);
    await stores.replays.applyOutput(other.id, 'ready', output());

    const t = await stores.replays.delete(live.id);
    expect(t).toEqual({ broadcastId: live.id, ownerId: owner.id, visibility: 'private', deletedAt: expect.any(String), purgedAt: null });
    expect(await stores.replays.tombstone(live.id)).toEqual(t);
    expect(await stores.broadcasts.get(live.id)).toBeUndefined();
    expect(await stores.replays.get(live.id)).toBeUndefined();
    expect(await stores.chat.list(live.id)).toEqual([]);
    expect(await stores.chat.hearts(live.id)).toEqual([]);
    expect((await stores.replays.listByOwner(owner.id)).map((r) => r.broadcastId)).toEqual([]);
    const invited = await handle.db.selectFrom('broadcast_invitees').selectAll().where('broadcast_id', '=', live.id).execute();
    expect(invited).toEqual([]);
    // A second delete finds nothing; the other replay is untouched.
    expect(await stores.replays.delete(live.id)).toBeUndefined();
    expect((await stores.replays.get(other.id))?.state).toBe('ready');
    expect(await stores.replays.tombstone(other.id)).toBeUndefined();

    // The file sweep's queue: unpurged until marked, again when a worker wrote late.
    expect((await stores.replays.listUnpurged(1000)).map((x) => x.broadcastId)).toContain(live.id);
    expect(await stores.replays.markPurged(live.id)).toBe(true);
    expect((await stores.replays.listUnpurged(1000)).map((x) => x.broadcastId)).not.toContain(live.id);
    expect((await stores.replays.tombstone(live.id))?.purgedAt).toEqual(expect.any(String));
    expect(await stores.replays.markUnpurged(live.id)).toBe(true);
    expect((await stores.replays.listUnpurged(1000)).map((x) => x.broadcastId)).toContain(live.id);
    expect(await stores.replays.markUnpurged(other.id)).toBe(false);
  });

  it('renames an ended broadcast and changes who may watch it; refuses while live', async () => {
    const owner = await stores.users.create(uniqueName('owner'), 'scrypt$fake');
    const a = await stores.users.create(uniqueName('a'), 'scrypt$fake');
    const b = await stores.users.create(uniqueName('b'), 'scrypt$fake');
    const live = await stores.broadcasts.create({ ownerId: owner.id, title: 'first', visibility: 'public', inviteeIds: [] });
    const err = await stores.broadcasts.updateEnded(live.id, { title: 'x' }).catch((e: unknown) => e);
    expect((err as AppError).code).toBe('WRONG_STATE');
    await stores.broadcasts.end(live.id, 'stopped');

    expect(await stores.broadcasts.updateEnded(live.id, { title: 'renamed' })).toMatchObject({ title: 'renamed', visibility: 'public', invitees: [] });
    const priv = await stores.broadcasts.updateEnded(live.id, { visibility: 'private', inviteeIds: [a.id, b.id, a.id, owner.id] });
    expect(priv).toMatchObject({ title: 'renamed', visibility: 'private' });
    expect([...priv!.invitees].sort()).toEqual([a.id, b.id].sort());
    expect(stores.broadcasts.canView(priv!, a.id)).toBe(true);
    const fewer = await stores.broadcasts.updateEnded(live.id, { visibility: 'private', inviteeIds: [b.id] });
    expect(fewer?.invitees).toEqual([b.id]);
    expect(stores.broadcasts.canView(fewer!, a.id)).toBe(false);
    const pub = await stores.broadcasts.updateEnded(live.id, { visibility: 'public' });
    expect(pub).toMatchObject({ visibility: 'public', invitees: [] });

    const ghost = BroadcastIdSchema.parse('b_doesnotexist00');
    expect(await stores.broadcasts.updateEnded(ghost, { title: 'x' })).toBeUndefined();
    const unknownUser = await stores.broadcasts.updateEnded(live.id, { visibility: 'private', inviteeIds: ['u_nobody000000' as typeof a.id] }).catch((e: unknown) => e);
    expect((unknownUser as AppError).code).toBe('NOT_FOUND');
    // The failed change left it as it was.
    expect(await stores.broadcasts.get(live.id)).toMatchObject({ visibility: 'public', invitees: [] });
  });

  it('deletes an account: its messages in others’ broadcasts go to "deleted user", everything else of it cascades', async () => {
    const leaver = await stores.users.create(uniqueName('leaver'), 'scrypt$fake');
    const host = await stores.users.create(uniqueName('host'), 'scrypt$fake');
    const theirs = await stores.broadcasts.create({ ownerId: host.id, title: 'theirs', visibility: 'private', inviteeIds: [leaver.id] });
    const own = await stores.broadcasts.create({ ownerId: leaver.id, title: 'own', visibility: 'public', inviteeIds: [] });
    await stores.chat.add({ broadcastId: theirs.id, userId: leaver.id, text: 'hi', offsetMs: 1 });
    await stores.sessions.create(leaver.id, 60_000);
    expect(await stores.users.deleteAccount(leaver.id)).toBe(true);
    expect(await stores.users.deleteAccount(leaver.id)).toBe(false);
    expect(await stores.users.findById(leaver.id)).toBeUndefined();
    expect(await stores.broadcasts.get(own.id)).toBeUndefined();
    expect((await stores.broadcasts.get(theirs.id))?.invitees).toEqual([]);
    expect((await stores.chat.list(theirs.id)).map((m) => `${m.user.username}: ${m.text}`)).toEqual(['deleted user: hi']);
    const sessions = await handle.db.selectFrom('sessions').selectAll().where('user_id', '=', leaver.id).execute();
    expect(sessions).toEqual([]);
    // A second deletion reuses the one "deleted user" account.
    const second = await stores.users.create(uniqueName('leaver'), 'scrypt$fake');
    await stores.chat.add({ broadcastId: theirs.id, userId: second.id, text: 'me too', offsetMs: 2 });
    expect(await stores.users.deleteAccount(second.id)).toBe(true);
    expect(new Set((await stores.chat.list(theirs.id)).map((m) => m.user.id)).size).toBe(1);
  });
});
