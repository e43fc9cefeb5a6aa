import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchiveSummary } from '../../../common/protocol/archives.ts';
import { manifestSha256 } from '../../helpers/archiveChecksum.ts';
import { connect, nextEvent, ok, signUp, startTestServer, type ClientSocket, type TestServer } from '../../../testkit/server.ts';
import { spawnWorkers, type WorkersProcess } from '../../../testkit/workers.ts';

/**
 * "Download your data" over the real service: the archive job runs in a real workers
 * process, progress and readiness reach the user over socket.io, and the download link is
 * signed, expiring and resumable.
 */
describe('archives', () => {
  let server: TestServer;
  let workers: WorkersProcess;
  let owner: Awaited<ReturnType<typeof signUp>>;
  let socket: ClientSocket;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'spyglass-archive-it-'));

  beforeAll(async () => {
    // The avatar to upload, made before anything waits on the server.
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=green:s=300x300', '-frames:v', '1', path.join(tmp, 'me.png')]);
    server = await startTestServer();
    workers = await spawnWorkers(server.config);
    owner = await signUp(server.url, 'archivist');
    socket = await connect(server.url, owner.token);
    // Right away (a connection left idle while ffmpeg runs may be closed by the server as it is
    // reused): a profile with a bio and an avatar, a follow each way, and a notification.
    const api = (token: string, method: string, p: string, body?: Buffer | object) =>
      fetch(`${server.url}${p}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': body instanceof Buffer ? 'image/png' : 'application/json' }) },
        ...(body === undefined ? {} : { body: body instanceof Buffer ? new Uint8Array(body) : JSON.stringify(body) }),
      });
    expect((await api(owner.token, 'PUT', '/api/account/avatar', readFileSync(path.join(tmp, 'me.png')))).status).toBe(200);
    expect((await api(owner.token, 'PATCH', '/api/account/profile', { displayName: 'The Archivist', bio: 'I keep everything.' })).status).toBe(200);
    const friend = await signUp(server.url, 'archive_friend');
    expect((await api(owner.token, 'PUT', '/api/users/archive_friend/follow')).status).toBe(200);
    expect((await api(friend.token, 'PUT', '/api/users/archivist/follow')).status).toBe(200);
    const friendSocket = await connect(server.url, friend.token);
    const told = nextEvent(socket, 'notification:new', 10_000);
    const { broadcast: friends } = await ok(friendSocket, 'broadcast:start', { title: 'Friend live', visibility: 'public', invitees: [] });
    await told;
    await ok(friendSocket, 'broadcast:stop', { broadcastId: friends.id });
    friendSocket.close();
    // One ended broadcast with a chat message and a ready replay (files as the finalize job leaves them).
    const { broadcast } = await ok(socket, 'broadcast:start', { title: 'Keep this', visibility: 'public', invitees: [] });
    await ok(socket, 'chat:send', { broadcastId: broadcast.id, text: 'hello archive' });
    await ok(socket, 'broadcast:stop', { broadcastId: broadcast.id });
    const dir = path.join(server.dataDir, 'replays', broadcast.id);
    mkdirSync(dir, { recursive: true });
    const ff = (...args: string[]) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { cwd: dir });
    ff('-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30', '-f', 'lavfi', '-i', 'sine', '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-movflags', '+faststart', 'replay.mp4');
    ff('-f', 'lavfi', '-i', 'testsrc2=size=320x180', '-frames:v', '1', 'poster.jpg');
    const mp4 = execFileSync('sha256sum', [path.join(dir, 'replay.mp4')]).toString().split(' ')[0]!;
    await server.stores.replays.applyOutput(broadcast.id, 'ready', {
      durationMs: 2000,
      width: 320,
      height: 180,
      timeline: [{ offsetMs: 0, mediaStartMs: 0, durationMs: 2000 }],
      poster: 'poster.jpg',
      webm: null,
      videoMp4: null,
      hls: null,
      mp4: { name: 'replay.mp4', sizeBytes: 1, sha256: mp4 },
    });
  }, 120_000);
  afterAll(async () => {
    socket?.close();
    await workers?.stop();
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const post = (token?: string) =>
    fetch(`${server.url}/api/archives`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('builds the archive, tells the user, and serves it with Range from a signed link', async () => {
    const ready = nextEvent(socket, 'archive:status', 60_000, (e) => e.archive.state === 'ready');
    const res = await post(owner.token);
    expect(res.status).toBe(202);
    const { archive } = (await res.json()) as { archive: ArchiveSummary };
    expect(archive).toMatchObject({ state: 'building', downloadUrl: null });
    // One archive at a time.
    const again = await post(owner.token);
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('ARCHIVE_IN_PROGRESS');

    const done = (await ready).archive;
    expect(done.id).toBe(archive.id);
    expect(done.downloadUrl).toMatch(/^\/api\/archives\/a_[\w-]+\/download\?expires=\d+&sig=[0-9a-f]{64}$/);
    const latest = (await (await fetch(`${server.url}/api/archives/latest`, { headers: { authorization: `Bearer ${owner.token}` } })).json()) as {
      archive: ArchiveSummary;
    };
    expect(latest.archive).toMatchObject({ id: archive.id, state: 'ready', percent: 100 });

    // The link works without a session (download managers), resumably.
    const full = await fetch(`${server.url}${done.downloadUrl}`);
    expect(full.status).toBe(200);
    expect(full.headers.get('content-type')).toBe('application/zip');
    expect(full.headers.get('content-disposition')).toMatch(/^attachment; filename="spyglass-archive-\d{4}-\d{2}-\d{2}\.zip"$/);
    const bytes = Buffer.from(await full.arrayBuffer());
    expect(bytes.length).toBe(done.sizeBytes);
    const part = await fetch(`${server.url}${done.downloadUrl}`, { headers: { range: 'bytes=10-99' } });
    expect(part.status).toBe(206);
    expect(Buffer.compare(Buffer.from(await part.arrayBuffer()), bytes.subarray(10, 100))).toBe(0);
    const unsatisfiable = await fetch(`${server.url}${done.downloadUrl}`, { headers: { range: `bytes=${bytes.length}-` } });
    expect(unsatisfiable.status).toBe(416);
    expect(unsatisfiable.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
    const zip = path.join(tmp, 'a.zip');
    writeFileSync(zip, bytes);
    execFileSync('unzip', ['-tq', zip]);
    // The published checksum: the SHA-256 of the manifest, which lists every file's.
    expect(manifestSha256(zip)).toBe(done.sha256);
    const listing = execFileSync('unzip', ['-Z1', zip]).toString();
    expect(listing).toMatch(/replay\.mp4/);
    expect(listing).toMatch(/manifest\.json/);
    expect(listing).toMatch(/index\.html/);
    // Profile (with the avatar), follows and notifications, each listed in the manifest.
    const entry = (name: string) => execFileSync('unzip', ['-p', zip, `spyglass-archivist/${name}`]);
    const manifest = JSON.parse(entry('manifest.json').toString()) as { files: Array<{ path: string }> };
    expect(manifest.files.map((f) => f.path)).toEqual(expect.arrayContaining(['profile.json', 'profile/avatar.jpg', 'follows.json', 'notifications.json']));
    expect(JSON.parse(entry('profile.json').toString())).toMatchObject({ username: 'archivist', displayName: 'The Archivist', bio: 'I keep everything.', avatar: 'profile/avatar.jpg' });
    expect(entry('profile/avatar.jpg').subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
    expect(JSON.parse(entry('follows.json').toString())).toMatchObject({ following: [{ username: 'archive_friend' }], followers: [{ username: 'archive_friend' }] });
    expect(JSON.parse(entry('notifications.json').toString())).toMatchObject([{ kind: 'live', actor: 'archive_friend', broadcastTitle: 'Friend live', readAt: null }]);
  }, 90_000);

  it('refuses tampered, foreign and expired links, and anonymous requests, with clear errors', async () => {
    const latest = (await (await fetch(`${server.url}/api/archives/latest`, { headers: { authorization: `Bearer ${owner.token}` } })).json()) as {
      archive: ArchiveSummary;
    };
    const url = new URL(latest.archive.downloadUrl!, server.url);
    const errorOf = async (u: string) => {
      const r = await fetch(u);
      return { status: r.status, code: ((await r.json()) as { error: { code: string } }).error.code };
    };
    const tampered = new URL(url);
    tampered.searchParams.set('sig', 'f'.repeat(64));
    expect(await errorOf(tampered.href)).toEqual({ status: 403, code: 'FORBIDDEN' });
    const later = new URL(url);
    later.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 1000));
    expect(await errorOf(later.href)).toEqual({ status: 403, code: 'FORBIDDEN' });
    // Someone else's archive id with this link's signature.
    const foreign = new URL(url.href.replace(latest.archive.id, 'a_someoneelse0000'));
    expect(await errorOf(foreign.href)).toEqual({ status: 403, code: 'FORBIDDEN' });
    // Traversal in the id never reaches the file system.
    for (const bad of ['..%2F..%2Fspyglass.db', '%2E%2E%2F%2E%2E%2Fspyglass.db', `${latest.archive.id}%2F..`]) {
      expect(await errorOf(`${server.url}/api/archives/${bad}/download${url.search}`)).toEqual({ status: 403, code: 'FORBIDDEN' });
    }
    // A correctly signed link whose time is up.
    const past = Date.now() - 1000;
    const sig = createHmac('sha256', server.config.secret).update(`archive:${latest.archive.id}:${past}`).digest('hex');
    expect(await errorOf(`${server.url}/api/archives/${latest.archive.id}/download?expires=${past}&sig=${sig}`)).toEqual({
      status: 410,
      code: 'LINK_EXPIRED',
    });
    expect((await post()).status).toBe(401);
  });
});
