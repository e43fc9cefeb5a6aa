import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../testkit/postgres.ts';
import { connect, grantAdmin, ok, request, signUp, startTestServer, type ClientSocket, type TestServer } from '../../testkit/server.ts';

/** Single-line text with a control character (or a line separator) inside. */
const BAD = ['a\u0000b', 'a\u0007b', 'a\u001b[2Jb', 'a\nb', 'a\tb', 'a\u007fb', 'a\u0085b', 'a\u2028b'];
const code = (s: string) => `U+${s.charCodeAt(1).toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Every user-supplied string that is stored refuses control characters at the schema with
 * VALIDATION_FAILED (PostgreSQL answered 500 on U+0000; SQLite stored it), and nothing is
 * stored. Run on both databases.
 */
describe.each(['sqlite', 'postgres'] as const)('control characters in stored text (%s)', (dialect) => {
  let server: TestServer;
  let pg: TestDatabase | undefined;
  let alice: { token: string; user: { id: string } };
  let root: { token: string };
  let socket: ClientSocket;
  const H = 3600_000;

  const post = (p: string, body: unknown, token?: string, method = 'POST') =>
    fetch(`${server.url}${p}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    if (dialect === 'postgres') pg = await createTestDatabase();
    server = await startTestServer({ recording: { enabled: false }, ...(pg ? { databaseUrl: pg.url } : {}) });
    root = await signUp(server.url, 'root');
    await grantAdmin(server, 'root');
    alice = await signUp(server.url, 'alice');
    await signUp(server.url, 'bob');
    socket = await connect(server.url, alice.token);
  });

  afterAll(async () => {
    socket?.disconnect();
    await server?.stop();
    await pg?.drop();
  });

  it('refuses them in a broadcast title and an invitee name, and stores no broadcast', async () => {
    for (const bad of BAD) {
      const res = await request(socket, 'broadcast:start', { title: bad });
      expect(res).toEqual({ ok: false, error: { code: 'VALIDATION_FAILED', message: `title: must not contain control characters (found ${code(bad)})` } });
      const inv = await request(socket, 'broadcast:start', { title: 'fine', visibility: 'private', invitees: [`b${bad}`] });
      expect(inv.ok).toBe(false);
      if (!inv.ok) expect(inv.error.code).toBe('VALIDATION_FAILED');
    }
    expect(await server.stores.broadcasts.listByOwner(alice.user.id as never)).toEqual([]);
  });

  it('refuses them in a chat message, and stores no message', async () => {
    const { broadcast } = await ok(socket, 'broadcast:start', { title: 'clean title' });
    for (const bad of BAD) {
      const res = await request(socket, 'chat:send', { broadcastId: broadcast.id, text: bad });
      expect(res).toEqual({ ok: false, error: { code: 'VALIDATION_FAILED', message: `text: must not contain control characters (found ${code(bad)})` } });
    }
    expect(await server.stores.chat.list(broadcast.id)).toEqual([]);
    await ok(socket, 'broadcast:stop', { broadcastId: broadcast.id });
  });

  it('refuses them in a username at sign-up and at sign-in with 400, and creates no account', async () => {
    const before = await server.stores.users.count();
    for (const bad of BAD) {
      const up = await post('/api/auth/signup', { username: `user${bad}`, password: 'correct horse battery' });
      expect(up.status).toBe(400);
      expect(((await up.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
      const inn = await post('/api/auth/signin', { username: `alice${bad}`, password: 'correct horse battery' });
      expect(inn.status).toBe(400);
      expect(await inn.json()).toEqual({ error: { code: 'VALIDATION_FAILED', message: `username: must not contain control characters (found ${code(bad)})` } });
    }
    expect(await server.stores.users.count()).toBe(before);
  });

  it('refuses them in the sunset message (new lines and tabs allowed), and stores no schedule', async () => {
    const t = Date.now();
    const dates = {
      announceAt: new Date(t + H).toISOString(),
      readOnlyAt: new Date(t + 2 * H).toISOString(),
      exportOnlyAt: new Date(t + 3 * H).toISOString(),
      offAt: new Date(t + 4 * H).toISOString(),
    };
    for (const bad of ['a\u0000b', 'a\u001bb', 'a\u0085b', 'a\u2028b']) {
      const res = await post('/api/admin/sunset', { ...dates, message: bad }, root.token, 'PUT');
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: { code: 'VALIDATION_FAILED', message: `message: must not contain control characters (found ${code(bad)})` } });
    }
    expect(await server.stores.sunset.current()).toBeUndefined();
    const fine = await post('/api/admin/sunset', { ...dates, message: 'Thank you.\n\tSee you.\r\nBye' }, root.token, 'PUT');
    expect(fine.status).toBe(200);
    expect((await server.stores.sunset.current())?.message).toBe('Thank you.\n\tSee you.\r\nBye');
    expect((await post('/api/admin/sunset', {}, root.token, 'DELETE')).status).toBe(200);
  });
});
