import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReplayDetail } from '../../common/protocol/replays.ts';
import type { BroadcastId, UserId } from '../../common/protocol/ids.ts';
import { connect, ok, signUp, startTestServer, type ClientSocket, type TestServer } from '../../testkit/server.ts';

const PASSWORD = 'correct horse battery';

/** Deleting an account (DELETE /api/account): who may, what goes, what stays. */
describe('account deletion', () => {
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  const del = (o: { token?: string; body?: unknown; headers?: Record<string, string> }) =>
    fetch(`${server.url}/api/account`, {
      method: 'DELETE',
      headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), 'content-type': 'application/json', ...o.headers },
      body: JSON.stringify(o.body ?? { password: PASSWORD }),
    });
  const code = async (res: Response) => ({ status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code });

  async function endedReplay(ownerId: UserId, title: string): Promise<BroadcastId> {
    const b = await server.stores.broadcasts.create({ ownerId, title, visibility: 'public', inviteeIds: [] });
    await server.stores.broadcasts.end(b.id, 'stopped');
    await server.stores.replays.begin(b.id);
    const dir = path.join(server.dataDir, 'replays', b.id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'replay.mp4'), 'data');
    return b.id;
  }

  beforeAll(async () => {
    server = await startTestServer({ recording: { enabled: false } });
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await server?.stop();
  });

  it('is refused anonymously, with a wrong password, cross-origin, and while on air; nothing goes', async () => {
    const u = await signUp(server.url, 'del_refused');
    expect(await code(await del({}))).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    expect(await code(await del({ token: u.token, body: { password: 'not the password' } }))).toEqual({ status: 401, code: 'INVALID_CREDENTIALS' });
    expect(await code(await del({ token: u.token, body: {} }))).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect(await code(await del({ token: u.token, headers: { origin: 'http://evil.example' } }))).toEqual({ status: 403, code: 'FORBIDDEN' });
    const socket = await connect(server.url, u.token);
    sockets.push(socket);
    const { broadcast } = await ok(socket, 'broadcast:start', { title: 'on air', visibility: 'public', invitees: [] });
    expect(await code(await del({ token: u.token }))).toEqual({ status: 409, code: 'WRONG_STATE' });
    await ok(socket, 'broadcast:stop', { broadcastId: broadcast.id });
    expect(await server.stores.users.findByUsername('del_refused')).toBeDefined();
    expect(await server.stores.broadcasts.get(broadcast.id)).toBeDefined();
  }, 60_000);

  it('removes the profile, broadcasts, replays and their files, sessions (sockets closed), archives; their lines in others’ replays read "deleted user"', async () => {
    const leaver = await signUp(server.url, 'del_leaver');
    const other = await signUp(server.url, 'del_other');
    const mine = await endedReplay(leaver.user.id, 'mine to go');
    const theirs = await endedReplay(other.user.id, 'theirs to keep');
    await server.stores.chat.add({ broadcastId: theirs, userId: leaver.user.id, text: 'bye all', offsetMs: 10 });
    await server.stores.chat.add({ broadcastId: theirs, userId: other.user.id, text: 'bye', offsetMs: 20 });
    await server.stores.chat.add({ broadcastId: mine, userId: other.user.id, text: 'nice', offsetMs: 20 });
    const archive = await server.stores.archives.create(leaver.user.id);
    await server.stores.archives.markReady(archive.id, { fileName: 'a.zip', sizeBytes: 4, sha256: 'ab'.repeat(32), expiresAt: Date.now() + 3600_000 });
    mkdirSync(path.join(server.dataDir, 'archives', archive.id), { recursive: true });
    writeFileSync(path.join(server.dataDir, 'archives', archive.id, 'a.zip'), 'data');
    const socket = await connect(server.url, leaver.token);
    sockets.push(socket);
    const gone = new Promise((resolve) => socket.once('disconnect', resolve));

    const res = await del({ token: leaver.token });
    expect(res.status).toBe(204);
    expect(res.headers.get('set-cookie')).toMatch(/Max-Age=0/);
    expect(await gone).toBe('io server disconnect');
    expect((await fetch(`${server.url}/api/auth/me`, { headers: { authorization: `Bearer ${leaver.token}` } })).status).toBe(401);
    const signIn = await fetch(`${server.url}/api/auth/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'del_leaver', password: PASSWORD }) });
    expect(signIn.status).toBe(401);
    expect(await server.stores.users.findByUsername('del_leaver')).toBeUndefined();
    expect(await server.stores.broadcasts.listByOwner(leaver.user.id)).toEqual([]);
    expect((await fetch(`${server.url}/api/replays/${mine}`)).status).toBe(410);
    expect(existsSync(path.join(server.dataDir, 'replays', mine))).toBe(false);
    expect(await server.stores.archives.get(archive.id)).toBeUndefined();
    expect(existsSync(path.join(server.dataDir, 'archives', archive.id))).toBe(false);

    const detail = (await (await fetch(`${server.url}/api/replays/${theirs}`)).json()) as ReplayDetail;
    expect(detail.chat.map((m) => `${m.user.username}: ${m.text}`)).toEqual(['deleted user: bye all', 'del_other: bye']);
    expect(existsSync(path.join(server.dataDir, 'replays', theirs, 'replay.mp4'))).toBe(true);
    // Kept: the audit entry of the deletion, by id only.
    const audit = await server.stores.audit.list({ actionPrefix: 'account.' });
    expect(audit.some((e) => e.actorId === leaver.user.id && e.action === 'account.deleted')).toBe(true);
    // The name is free again; "deleted user" can never sign in.
    expect((await signUp(server.url, 'del_leaver')).user.id).not.toBe(leaver.user.id);
    const ghost = await fetch(`${server.url}/api/auth/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'deleted user', password: '!' }) });
    expect(ghost.status).toBe(401);
  }, 60_000);
});
