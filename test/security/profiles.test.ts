import { execFile } from 'node:child_process';
import http from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastSummary } from '../../common/protocol/events.ts';
import type { FollowState, NotificationList, NotificationView, Profile } from '../../common/protocol/profiles.ts';
import type { ReplaySummary } from '../../common/protocol/replays.ts';
import { connect, grantAdmin, nextEvent, ok, signUp, startTestServer, type ClientSocket, type TestServer } from '../../testkit/server.ts';
import { replayOutput } from '../../testkit/replayOutput.ts';

const run = promisify(execFile);
const H = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();

type Role = 'anonymous' | 'owner' | 'fan' | 'stranger' | 'admin';
/** Test images made by ffmpeg: real files of each kind the avatar check must tell apart. */
async function makeFixtures(dir: string): Promise<Record<'png' | 'gif' | 'mp4' | 'svg' | 'text', Buffer>> {
  const ff = (args: string[]) => run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
  await ff(['-f', 'lavfi', '-i', 'color=c=red:s=320x200', '-frames:v', '1', path.join(dir, 'a.png')]);
  await ff(['-f', 'lavfi', '-i', 'color=c=blue:s=64x48', '-frames:v', '1', path.join(dir, 'a.gif')]);
  await ff(['-f', 'lavfi', '-i', 'testsrc=s=64x48:d=1:r=10', '-pix_fmt', 'yuv420p', path.join(dir, 'a.mp4')]);
  writeFileSync(path.join(dir, 'a.svg'), '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>');
  writeFileSync(path.join(dir, 'a.txt'), 'this is not an image\n'.repeat(20));
  const read = (f: string) => readFileSync(path.join(dir, f));
  return { png: read('a.png'), gif: read('a.gif'), mp4: read('a.mp4'), svg: read('a.svg'), text: read('a.txt') };
}

/**
 * Profiles, avatars, following and notifications (docs/http-api.md, "Profiles and following"),
 * tried as every role over HTTP and socket.io, with the bad inputs: unknown users, oversized
 * bios and avatars, files that are not images, following oneself, foreign origins; and what
 * deleting an account removes.
 */
describe('profiles, avatars, following, notifications: every role, bad input', () => {
  let server: TestServer;
  let fixtures: Awaited<ReturnType<typeof makeFixtures>>;
  let tmp: string;
  const tokens = {} as Record<Exclude<Role, 'anonymous'>, string>;
  const sockets: ClientSocket[] = [];
  const NAMES: Record<Exclude<Role, 'anonymous'>, string> = { owner: 'pf_owner', fan: 'pf_fan', stranger: 'pf_stranger', admin: 'pf_admin' };

  const call = (method: string, p: string, role: Role, body?: unknown, headers: Record<string, string> = {}) => {
    const raw = body instanceof Buffer;
    return fetch(`${server.url}${p}`, {
      method,
      headers: {
        ...(role === 'anonymous' ? {} : { authorization: `Bearer ${tokens[role]}` }),
        ...(body === undefined ? {} : { 'content-type': raw ? 'image/png' : 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: raw ? body : JSON.stringify(body) }),
    });
  };
  const answer = async (res: Response) => ({ status: res.status, body: res.status === 204 ? null : ((await res.json()) as unknown) });
  const error = async (res: Response) => ({ status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code });
  /** Where `GET /api/avatars/:userId` (the lists' avatar) sends the browser: status, Location and Cache-Control. */
  const avatarRedirect = async (userId: string, role: Role = 'anonymous') => {
    const res = await fetch(`${server.url}/api/avatars/${userId}`, { redirect: 'manual', headers: role === 'anonymous' ? {} : { authorization: `Bearer ${tokens[role]}` } });
    await res.arrayBuffer();
    return { status: res.status, location: res.headers.get('location'), cache: res.headers.get('cache-control') };
  };
  const profile = async (name: string, role: Role) => ((await (await call('GET', `/api/users/${name}`, role)).json()) as { profile: Profile }).profile;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'spyglass-avatars-'));
    fixtures = await makeFixtures(tmp);
    server = await startTestServer({ recording: { enabled: false } });
    for (const role of ['owner', 'fan', 'stranger', 'admin'] as const) tokens[role] = (await signUp(server.url, NAMES[role])).token;
    await grantAdmin(server, NAMES.admin);
  }, 60_000);
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('a profile answers everyone alike; unknown, malformed and deleted names get the one 404', async () => {
    const notFound = { status: 404, body: { error: { code: 'NOT_FOUND', message: 'user not found' } } };
    for (const role of ['anonymous', 'owner', 'fan', 'stranger', 'admin'] as const) {
      const p = await profile('PF_OWNER', role);
      expect(p).toMatchObject({ username: NAMES.owner, displayName: null, bio: '', followers: 0, following: 0, live: null });
      expect(p.avatarUrl).toBe(`/api/avatars/${p.id}/default.svg`);
      // Whether the caller follows: null when signed out and for oneself.
      expect(p.followedByYou).toBe(role === 'anonymous' || role === 'owner' ? null : false);
      for (const name of ['nobody_at_all', 'x', 'bad%20name', 'deleted%20user', 'a%2Fb', 'a'.repeat(33)]) {
        for (const p2 of [`/api/users/${name}`, `/api/users/${name}/replays`]) {
          expect(await answer(await call('GET', p2, role)), `${role} ${p2}`).toEqual(notFound);
        }
      }
    }
    const svg = await call('GET', (await profile(NAMES.owner, 'anonymous')).avatarUrl, 'anonymous');
    expect(svg.status).toBe(200);
    expect(svg.headers.get('content-type')).toBe('image/svg+xml; charset=utf-8');
    expect(await svg.text()).toMatch(/^<svg [^]*>P<\/text><\/svg>$/);
    expect((await call('GET', '/api/avatars/u_doesnotexist0/default.svg', 'anonymous')).status).toBe(404);
    // The lists' avatar by id alone: a short-lived redirect to the current one, alike for every role.
    const ownerId = (await profile(NAMES.owner, 'anonymous')).id;
    for (const role of ['anonymous', 'owner', 'fan', 'admin'] as const) {
      expect(await avatarRedirect(ownerId, role)).toEqual({ status: 302, location: `/api/avatars/${ownerId}/default.svg`, cache: 'public, max-age=60' });
    }
    for (const id of ['u_doesnotexist0', 'nobody', '..%2Fsecret']) expect((await avatarRedirect(id)).status, id).toBe(404);
  });

  it('only its owner edits a profile; oversized or control-character text and foreign pages are refused', async () => {
    expect(await error(await call('PATCH', '/api/account/profile', 'anonymous', { bio: 'x' }))).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    const bad: unknown[] = [{}, { bio: 'b'.repeat(301) }, { displayName: 'd'.repeat(51) }, { displayName: 'a\u0000b' }, { displayName: 'two\nlines' }, { bio: 'bell\u0007' }, { role: 'admin' }, { bio: 42 }];
    for (const body of bad) {
      expect(await error(await call('PATCH', '/api/account/profile', 'stranger', body)), JSON.stringify(body)).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    }
    const tooLong = (await (await call('PATCH', '/api/account/profile', 'stranger', { bio: 'b'.repeat(301) })).json()) as { error: { message: string } };
    expect(tooLong.error.message).toBe('bio: bio must be at most 300 characters');
    // A page of another origin (or another site, without Origin) may not act as the user.
    for (const headers of [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }]) {
      expect(await error(await call('PATCH', '/api/account/profile', 'stranger', { bio: 'pwned' }, headers))).toEqual({ status: 403, code: 'FORBIDDEN' });
      expect(await error(await call('PUT', `/api/users/${NAMES.owner}/follow`, 'stranger', undefined, headers))).toEqual({ status: 403, code: 'FORBIDDEN' });
      expect(await error(await call('PUT', '/api/account/avatar', 'stranger', fixtures.png, headers))).toEqual({ status: 403, code: 'FORBIDDEN' });
    }
    expect((await profile(NAMES.stranger, 'anonymous')).bio).toBe('');
    // The owner may; two lines of bio are kept, the display name trimmed.
    const edited = await answer(await call('PATCH', '/api/account/profile', 'stranger', { displayName: '  Stranger Danger ', bio: 'line one\nline two' }, { origin: new URL(server.url).origin }));
    expect(edited).toMatchObject({ status: 200, body: { profile: { displayName: 'Stranger Danger', bio: 'line one\nline two' } } });
    expect(await profile(NAMES.stranger, 'fan')).toMatchObject({ displayName: 'Stranger Danger', bio: 'line one\nline two' });
  });

  it('an avatar must be an image of at most 5 MB; it is made a 256×256 JPEG, served immutable, replaced and removed with its file', async () => {
    expect(await error(await call('PUT', '/api/account/avatar', 'anonymous', fixtures.png))).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    for (const [kind, data] of [['text', fixtures.text], ['video', fixtures.mp4], ['svg', fixtures.svg], ['empty', Buffer.alloc(0)]] as const) {
      const res = await call('PUT', '/api/account/avatar', 'fan', data);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect({ kind, status: res.status, code: body.error.code }).toEqual({ kind, status: 415, code: 'NOT_AN_IMAGE' });
      expect(body.error.message).toContain('the avatar must be a JPEG, PNG, WebP or GIF image');
    }
    const huge = Buffer.concat([fixtures.png, Buffer.alloc(5 * 1024 * 1024 + 1 - fixtures.png.length)]);
    const tooBig = await call('PUT', '/api/account/avatar', 'fan', huge);
    expect(tooBig.status).toBe(413);
    expect(await tooBig.json()).toEqual({ error: { code: 'PAYLOAD_TOO_LARGE', message: 'the avatar image must be at most 5 MB' } });
    expect((await profile(NAMES.fan, 'anonymous')).avatarUrl).toMatch(/\/default\.svg$/);

    const first = (await answer(await call('PUT', '/api/account/avatar', 'fan', fixtures.png))) as { status: number; body: { profile: Profile } };
    expect(first.status).toBe(200);
    const url1 = first.body.profile.avatarUrl;
    expect(url1).toMatch(new RegExp(`^/api/avatars/${first.body.profile.id}/[A-Za-z0-9_-]{16}\\.jpg$`));
    expect((await avatarRedirect(first.body.profile.id)).location).toBe(url1);
    const got = await call('GET', url1, 'anonymous');
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('image/jpeg');
    expect(got.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const jpeg = Buffer.from(await got.arrayBuffer());
    writeFileSync(path.join(tmp, 'got.jpg'), jpeg);
    const { stdout } = await run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_streams', path.join(tmp, 'got.jpg')]);
    expect((JSON.parse(stdout) as { streams: Array<{ codec_name: string; width: number; height: number }> }).streams[0]).toMatchObject({ codec_name: 'mjpeg', width: 256, height: 256 });
    const version1 = /([A-Za-z0-9_-]{16})\.jpg$/.exec(url1)![1]!;
    const file1 = path.join(server.dataDir, 'avatars', first.body.profile.id, version1, 'avatar.jpg');
    expect(existsSync(file1)).toBe(true);
    // Revalidation by ETag (node:http: fetch adds Cache-Control: no-cache to conditional requests).
    const revalidated = await new Promise<number>((resolve, reject) => {
      http.get(`${server.url}${url1}`, { headers: { 'if-none-match': got.headers.get('etag')! } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(revalidated).toBe(304);

    // A GIF replaces it: the old URL and file are gone.
    const second = (await answer(await call('PUT', '/api/account/avatar', 'fan', fixtures.gif, { 'content-type': 'image/gif' }))) as { status: number; body: { profile: Profile } };
    expect(second.status).toBe(200);
    expect(second.body.profile.avatarUrl).not.toBe(url1);
    expect((await call('GET', url1, 'anonymous')).status).toBe(404);
    expect(existsSync(file1)).toBe(false);
    // Made-up versions and names are not served.
    for (const f of ['AAAAAAAAAAAAAAAA.jpg', '..%2F..%2Fsecret', 'avatar.jpg', 'default.png']) {
      expect((await call('GET', `/api/avatars/${first.body.profile.id}/${f}`, 'anonymous')).status, f).toBe(404);
    }

    const removed = (await answer(await call('DELETE', '/api/account/avatar', 'fan'))) as { status: number; body: { profile: Profile } };
    expect(removed.status).toBe(200);
    expect(removed.body.profile.avatarUrl).toMatch(/\/default\.svg$/);
    expect((await avatarRedirect(first.body.profile.id)).location).toBe(removed.body.profile.avatarUrl);
    expect((await call('GET', second.body.profile.avatarUrl, 'anonymous')).status).toBe(404);
    const version2 = /([A-Za-z0-9_-]{16})\.jpg$/.exec(second.body.profile.avatarUrl)![1]!;
    expect(existsSync(path.join(server.dataDir, 'avatars', first.body.profile.id, version2))).toBe(false);
    expect(await error(await call('DELETE', '/api/account/avatar', 'anonymous'))).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
  }, 60_000);

  it('following: signed in only, never oneself, idempotent both ways, counted on profiles', async () => {
    expect(await error(await call('PUT', `/api/users/${NAMES.owner}/follow`, 'anonymous'))).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    expect(await error(await call('PUT', '/api/users/nobody_at_all/follow', 'anonymous'))).toEqual({ status: 404, code: 'NOT_FOUND' });
    expect(await error(await call('PUT', '/api/users/nobody_at_all/follow', 'fan'))).toEqual({ status: 404, code: 'NOT_FOUND' });
    const self = await call('PUT', `/api/users/${NAMES.owner}/follow`, 'owner');
    expect(await self.json()).toEqual({ error: { code: 'VALIDATION_FAILED', message: 'you cannot follow yourself' } });
    for (const role of ['fan', 'fan', 'admin'] as const) {
      const res = await answer(await call('PUT', `/api/users/${NAMES.owner.toUpperCase()}/follow`, role));
      expect(res.status).toBe(200);
    }
    expect(await profile(NAMES.owner, 'fan')).toMatchObject({ followers: 2, followedByYou: true });
    expect(await profile(NAMES.fan, 'anonymous')).toMatchObject({ following: 1 });
    const un = (await (await call('DELETE', `/api/users/${NAMES.owner}/follow`, 'admin')).json()) as FollowState;
    expect(un).toEqual({ following: false, followers: 1 });
    expect(await (await call('DELETE', `/api/users/${NAMES.owner}/follow`, 'admin')).json()).toEqual({ following: false, followers: 1 });
    expect(await error(await call('DELETE', `/api/users/${NAMES.owner}/follow`, 'anonymous'))).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
  });

  it('follower and following lists: alike for everyone, newest first, paged; unknown names 404, bad paging 400', async () => {
    for (const role of ['stranger', 'admin'] as const) expect((await call('PUT', `/api/users/${NAMES.owner}/follow`, role)).status).toBe(200);
    type Page = { people: Array<{ username: string; displayName: string | null; avatarUrl: string; since: string }>; nextCursor: string | null };
    const list = async (p: string, role: Role) => (await answer(await call('GET', p, role))) as { status: number; body: Page };
    const first = await list(`/api/users/${NAMES.owner}/followers?limit=2`, 'anonymous');
    expect(first.status).toBe(200);
    expect(first.body.people.map((p) => p.username)).toEqual([NAMES.admin, NAMES.stranger]);
    expect(first.body.people[0]).toEqual({ id: expect.any(String), username: NAMES.admin, displayName: null, avatarUrl: expect.stringMatching(/^\/api\/avatars\/u_[^/]+\/default\.svg$/), since: expect.any(String) });
    expect(first.body.nextCursor).toEqual(expect.any(String));
    for (const role of ['owner', 'fan', 'stranger', 'admin'] as const) expect(await list(`/api/users/${NAMES.owner}/followers?limit=2`, role), role).toEqual(first);
    // A suspended reader gets the same.
    const strangerId = (await server.stores.users.findByUsername(NAMES.stranger))!.id;
    const ownerId = (await server.stores.users.findByUsername(NAMES.owner))!.id;
    await server.stores.suspensions.suspend(strangerId, 'testing', ownerId);
    expect(await list(`/api/users/${NAMES.owner}/followers?limit=2`, 'stranger')).toEqual(first);
    await server.stores.suspensions.unsuspend(strangerId);
    const second = await list(`/api/users/${NAMES.owner}/followers?limit=2&cursor=${first.body.nextCursor}`, 'fan');
    expect(second.body).toEqual({ people: [expect.objectContaining({ username: NAMES.fan })], nextCursor: null });
    expect((await list(`/api/users/${NAMES.fan}/following`, 'anonymous')).body.people.map((p) => p.username)).toEqual([NAMES.owner]);
    expect((await list(`/api/users/${NAMES.owner}/following`, 'owner')).body).toEqual({ people: [], nextCursor: null });
    // Unknown, malformed or deleted-user names: the one 404.
    for (const name of ['nobody_at_all', 'bad%20name', 'deleted%20user']) {
      for (const side of ['followers', 'following']) expect(await error(await call('GET', `/api/users/${name}/${side}`, 'fan'))).toEqual({ status: 404, code: 'NOT_FOUND' });
    }
    const garbage = Buffer.from('not.a-cursor').toString('base64url');
    for (const qs of ['limit=0', 'limit=101', 'limit=x', 'cursor=bad!', `cursor=${garbage}`, 'cursor=']) {
      expect(await error(await call('GET', `/api/users/${NAMES.owner}/followers?${qs}`, 'anonymous')), qs).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    }
    for (const role of ['stranger', 'admin'] as const) expect((await call('DELETE', `/api/users/${NAMES.owner}/follow`, role)).status).toBe(200);
  });

  it('going live notifies every open page of each follower who may watch it, and nobody else; the bell reads and marks them', async () => {
    // fan follows owner (above); stranger follows owner too, but is not invited to the private one.
    await call('PUT', `/api/users/${NAMES.owner}/follow`, 'stranger');
    const [fanA, fanB, strangerSocket, owner] = [await connect(server.url, tokens.fan), await connect(server.url, tokens.fan), await connect(server.url, tokens.stranger), await connect(server.url, tokens.owner)];
    sockets.push(fanA, fanB, strangerSocket, owner);
    const strangerHeard: NotificationView[] = [];
    strangerSocket.on('notification:new', ({ notification }) => strangerHeard.push(notification));

    const onFanA = nextEvent(fanA, 'notification:new', 10_000);
    const onFanB = nextEvent(fanB, 'notification:new', 10_000);
    const { broadcast: priv } = await ok(owner, 'broadcast:start', { title: 'Invited only', visibility: 'private', invitees: [NAMES.fan] });
    const [a, b] = await Promise.all([onFanA, onFanB]);
    expect(a.notification).toEqual(b.notification);
    expect(a.notification).toMatchObject({ kind: 'live', read: false, broadcast: { id: priv.id, title: 'Invited only' }, actor: { username: NAMES.owner } });
    await ok(owner, 'broadcast:stop', { broadcastId: priv.id });

    const onStranger = nextEvent(strangerSocket, 'notification:new', 10_000);
    const { broadcast: pub } = await ok(owner, 'broadcast:start', { title: 'Everyone welcome', visibility: 'public', invitees: [] });
    expect((await onStranger).notification.broadcast).toEqual({ id: pub.id, title: 'Everyone welcome' });
    // The stranger heard of the public broadcast only: the private one never reached them.
    expect(strangerHeard.map((n) => n.broadcast.id)).toEqual([pub.id]);

    // The stored lists say the same; the profile shows the live broadcast to those who may see it.
    const list = async (role: Role) => (await (await call('GET', '/api/notifications', role)).json()) as NotificationList;
    expect((await list('fan')).notifications.map((n) => n.broadcast.title)).toEqual(['Everyone welcome', 'Invited only']);
    expect(await list('stranger')).toMatchObject({ unread: 1, notifications: [{ broadcast: { id: pub.id } }] });
    expect(await list('admin')).toEqual({ notifications: [], unread: 0 });
    expect((await profile(NAMES.owner, 'anonymous')).live).toMatchObject({ id: pub.id, title: 'Everyone welcome' });

    // "Following — live now" on the home page.
    const following = async (role: Role) => call('GET', '/api/broadcasts?following=true', role);
    expect(((await (await following('fan')).json()) as { broadcasts: BroadcastSummary[] }).broadcasts.map((x) => x.id)).toEqual([pub.id]);
    expect(((await (await following('admin')).json()) as { broadcasts: BroadcastSummary[] }).broadcasts).toEqual([]);
    expect(await error(await following('anonymous'))).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    expect(await error(await call('GET', '/api/broadcasts?following=yes', 'fan'))).toEqual({ status: 400, code: 'VALIDATION_FAILED' });

    // Marking read: one's own only (the private one's id, which the stranger never got, marks
    // nothing of theirs or of the fan's); bad bodies refused.
    const fanIds = (await list('fan')).notifications.map((n) => n.id);
    const privateId = fanIds[1]!;
    expect(await answer(await call('POST', '/api/notifications/read', 'stranger', { ids: [privateId] }))).toEqual({ status: 200, body: { unread: 1 } });
    expect((await list('fan')).unread).toBe(2);
    expect(await answer(await call('POST', '/api/notifications/read', 'fan', { ids: [privateId] }))).toEqual({ status: 200, body: { unread: 1 } });
    expect(await answer(await call('POST', '/api/notifications/read', 'fan', { all: true }))).toEqual({ status: 200, body: { unread: 0 } });
    for (const body of [{}, { ids: [] }, { ids: ['../x'] }, { all: false }, { ids: fanIds, all: true }]) {
      expect(await error(await call('POST', '/api/notifications/read', 'fan', body)), JSON.stringify(body)).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    }
    expect(await error(await call('GET', '/api/notifications?limit=0', 'fan'))).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect(await error(await call('GET', '/api/notifications', 'anonymous'))).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    expect(await error(await call('POST', '/api/notifications/read', 'anonymous', { all: true }))).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    expect(await error(await call('POST', '/api/notifications/read', 'fan', { all: true }, { origin: 'https://evil.example' }))).toEqual({ status: 403, code: 'FORBIDDEN' });
    await ok(owner, 'broadcast:stop', { broadcastId: pub.id });
  }, 60_000);

  it("a profile's replays: public to all, private to the owner and invitees only, newest first, paged", async () => {
    const owner = await connect(server.url, tokens.owner);
    sockets.push(owner);
    const made: string[] = [];
    for (const [title, visibility, invitees] of [['Old public', 'public', []], ['Private for fan', 'private', [NAMES.fan]], ['New public', 'public', []]] as const) {
      const { broadcast } = await ok(owner, 'broadcast:start', { title, visibility, invitees: [...invitees] });
      await server.stores.replays.begin(broadcast.id);
      await ok(owner, 'broadcast:stop', { broadcastId: broadcast.id });
      await server.stores.replays.applyOutput(broadcast.id, 'ready', replayOutput());
      made.push(broadcast.id);
    }
    const titles = async (role: Role, q = '') => {
      const body = (await (await call('GET', `/api/users/${NAMES.owner}/replays${q}`, role)).json()) as { replays: ReplaySummary[]; nextCursor: string | null };
      return { titles: body.replays.map((r) => r.title).filter((t) => ['Old public', 'Private for fan', 'New public'].includes(t)), nextCursor: body.nextCursor };
    };
    expect((await titles('anonymous')).titles).toEqual(['New public', 'Old public']);
    expect((await titles('stranger')).titles).toEqual(['New public', 'Old public']);
    expect((await titles('admin')).titles).toEqual(['New public', 'Old public']);
    expect((await titles('fan')).titles).toEqual(['New public', 'Private for fan', 'Old public']);
    expect((await titles('owner')).titles).toEqual(['New public', 'Private for fan', 'Old public']);
    const page1 = await titles('owner', '?limit=2');
    expect(page1.titles).toEqual(['New public', 'Private for fan']);
    expect(page1.nextCursor).not.toBeNull();
    expect((await titles('owner', `?limit=2&cursor=${page1.nextCursor!}`)).titles).toEqual(['Old public']);
    for (const q of ['?limit=0', '?limit=51', '?limit=x', '?cursor=nope!', `?cursor=${Buffer.from('12.notanid').toString('base64url')}`]) {
      expect(await error(await call('GET', `/api/users/${NAMES.owner}/replays${q}`, 'fan')), q).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    }
  }, 60_000);

  it('deleting an account removes its profile, avatar files, follows both ways and notifications', async () => {
    const gone = await signUp(server.url, 'pf_gone');
    const goneCall = (method: string, p: string, body?: unknown) =>
      fetch(`${server.url}${p}`, {
        method,
        headers: { authorization: `Bearer ${gone.token}`, ...(body instanceof Buffer ? { 'content-type': 'image/png' } : body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: body instanceof Buffer ? new Uint8Array(body) : JSON.stringify(body) }),
      });
    const avatarUrl = (((await (await goneCall('PUT', '/api/account/avatar', fixtures.png)).json()) as { profile: Profile }).profile).avatarUrl;
    await goneCall('PATCH', '/api/account/profile', { bio: 'soon gone' });
    await goneCall('PUT', `/api/users/${NAMES.owner}/follow`);
    await call('PUT', '/api/users/pf_gone/follow', 'fan');
    const followersBefore = (await profile(NAMES.owner, 'anonymous')).followers;
    expect((await call('GET', avatarUrl, 'anonymous')).status).toBe(200);

    expect((await goneCall('DELETE', '/api/account', { password: 'correct horse battery' })).status).toBe(204);
    expect(await error(await call('GET', '/api/users/pf_gone', 'fan'))).toEqual({ status: 404, code: 'NOT_FOUND' });
    expect((await call('GET', avatarUrl, 'anonymous')).status).toBe(404);
    expect((await call('GET', `/api/avatars/${gone.user.id}/default.svg`, 'anonymous')).status).toBe(404);
    expect((await avatarRedirect(gone.user.id)).status).toBe(404);
    expect(existsSync(path.join(server.dataDir, 'avatars', gone.user.id))).toBe(false);
    expect((await profile(NAMES.owner, 'anonymous')).followers).toBe(followersBefore - 1);
    expect((await profile(NAMES.fan, 'anonymous')).following).toBe(1);
    // Nothing of theirs is left in the database.
    expect(await server.stores.follows.counts(gone.user.id)).toEqual({ followers: 0, following: 0 });
    expect(await server.stores.notifications.list(gone.user.id, 100)).toEqual([]);
    expect(await server.stores.profiles.get(gone.user.id)).toBeUndefined();
  }, 60_000);
});

/** During a sunset's export-only phase profiles stay readable; following and editing are refused. */
describe('profiles in a sunset', () => {
  let server: TestServer;
  let now = Date.now();
  const t0 = now;
  let alice: string;

  const call = (method: string, p: string, body?: unknown) =>
    fetch(`${server.url}${p}`, {
      method,
      headers: { authorization: `Bearer ${alice}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    server = await startTestServer({ recording: { enabled: false } }, { clock: () => now });
    alice = (await signUp(server.url, 'sun_alice')).token;
    await signUp(server.url, 'sun_bob');
    const admin = await server.stores.users.findByUsername('sun_alice');
    await server.stores.sunset.schedule({ announceAt: iso(t0 + H), readOnlyAt: iso(t0 + 2 * H), exportOnlyAt: iso(t0 + 3 * H), offAt: iso(t0 + 4 * H), message: 'Bye.' }, admin!.id);
    await server.sunset.refresh();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('read-only still lets people follow and edit; export-only keeps the pages readable and refuses changes with SERVICE_SUNSET', async () => {
    now = t0 + 2.5 * H;
    expect((await call('PUT', '/api/users/sun_bob/follow')).status).toBe(200);
    expect((await call('PATCH', '/api/account/profile', { bio: 'still here' })).status).toBe(200);

    now = t0 + 3.5 * H;
    const bob = (await (await call('GET', '/api/users/sun_bob')).json()) as { profile: Profile };
    expect(bob.profile).toMatchObject({ username: 'sun_bob', followers: 1, followedByYou: true });
    expect((await call('GET', bob.profile.avatarUrl)).status).toBe(200);
    expect((await call('GET', '/api/users/sun_bob/replays')).status).toBe(200);
    expect((await call('GET', '/api/notifications')).status).toBe(200);
    for (const [method, p, body] of [
      ['PUT', '/api/users/sun_bob/follow', undefined],
      ['DELETE', '/api/users/sun_bob/follow', undefined],
      ['PATCH', '/api/account/profile', { bio: 'changed' }],
      ['DELETE', '/api/account/avatar', undefined],
      ['POST', '/api/notifications/read', { all: true }],
    ] as const) {
      const res = await call(method, p, body);
      const wire = (await res.json()) as { error: { code: string; message: string } };
      expect([method, p, res.status, wire.error.code]).toEqual([method, p, 403, 'SERVICE_SUNSET']);
      expect(wire.error.message).toContain('editing profiles, following and notifications is no longer available');
    }
    const put = await fetch(`${server.url}/api/account/avatar`, { method: 'PUT', headers: { authorization: `Bearer ${alice}`, 'content-type': 'image/png' }, body: Buffer.alloc(10) });
    expect(put.status).toBe(403);
    expect(((await (await call('GET', '/api/users/sun_alice')).json()) as { profile: Profile }).profile.bio).toBe('still here');
  });
});
