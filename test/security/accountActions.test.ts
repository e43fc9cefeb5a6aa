import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthResponse } from '../../common/protocol/events.ts';
import { connect, disconnected, grantAdmin, signUp, startTestServer, type ClientSocket, type TestServer } from '../../testkit/server.ts';

const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'lighthouse keeper wanders north';

/**
 * Changing the password and signing out everywhere (docs/http-api.md), as every role: each acts
 * on the caller's own account only, ends the right sessions and closes their sockets at once.
 */
describe('account actions: password change and sign-out everywhere', () => {
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  const post = (p: string, o: { token?: string; cookie?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
    fetch(`${server.url}${p}`, {
      method: 'POST',
      headers: {
        ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
        ...(o.cookie ? { cookie: o.cookie } : {}),
        ...(o.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...o.headers,
      },
      ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
    });
  const signIn = async (username: string, password: string) => {
    const res = await post('/api/auth/signin', { body: { username, password } });
    return { status: res.status, auth: res.status === 200 ? ((await res.json()) as AuthResponse) : undefined };
  };
  const me = async (token: string) => (await fetch(`${server.url}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status;
  const code = async (res: Response) => ({ status: res.status, code: ((await res.json()) as { error: { code: string; message: string } }).error.code });

  beforeAll(async () => {
    server = await startTestServer({ recording: { enabled: false } });
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await server?.stop();
  });

  it('anonymous callers get 401; bad input 400; a wrong current password 401 and nothing changes', async () => {
    for (const p of ['/api/auth/password', '/api/auth/signout-everywhere']) {
      expect(await code(await post(p, { body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } }))).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    }
    const user = await signUp(server.url, 'pw_checks');
    expect(await code(await post('/api/auth/password', { token: user.token, body: { currentPassword: 'wrong password!', newPassword: NEW_PASSWORD } }))).toEqual({
      status: 401,
      code: 'INVALID_CREDENTIALS',
    });
    expect(await code(await post('/api/auth/password', { token: user.token, body: { currentPassword: PASSWORD, newPassword: 'short' } }))).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    const weak = await post('/api/auth/password', { token: user.token, body: { currentPassword: PASSWORD, newPassword: 'password1' } });
    expect(weak.status).toBe(400);
    expect(((await weak.json()) as { error: { message: string } }).error.message).toContain('password is too weak');
    expect(await code(await post('/api/auth/password', { token: user.token, body: { newPassword: NEW_PASSWORD } }))).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect((await signIn('pw_checks', PASSWORD)).status).toBe(200);
    // Cross-origin: refused before anything, for both.
    for (const p of ['/api/auth/password', '/api/auth/signout-everywhere']) {
      expect(await code(await post(p, { token: user.token, body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, headers: { origin: 'http://evil.example' } }))).toEqual({
        status: 403,
        code: 'FORBIDDEN',
      });
    }
    expect(await me(user.token)).toBe(200);
    expect((await signIn('pw_checks', PASSWORD)).status).toBe(200);
  }, 60_000);

  it('a wrong current password counts as a failed sign-in (the per-account limit applies)', async () => {
    const limited = await startTestServer({ recording: { enabled: false }, limits: { signInFailuresPerAccount: 3 } });
    try {
      const u = await signUp(limited.url, 'pw_guess');
      const attempt = () =>
        fetch(`${limited.url}/api/auth/password`, {
          method: 'POST',
          headers: { authorization: `Bearer ${u.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ currentPassword: 'not it at all', newPassword: NEW_PASSWORD }),
        });
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await attempt()).status);
      expect(statuses).toEqual([401, 401, 401, 429]);
    } finally {
      await limited.stop();
    }
  }, 60_000);

  it('changing the password keeps this session, ends every other one of the user (sockets closed at once), and no one else’s', async () => {
    for (const role of ['user', 'admin'] as const) {
      const name = `pw_${role}`;
      const first = await signUp(server.url, name);
      if (role === 'admin') await grantAdmin(server, name);
      const second = (await signIn(name, PASSWORD)).auth!;
      const bystander = await signUp(server.url, `${name}_other`);
      const mine = await connect(server.url, undefined, { cookie: first.cookie });
      const other = await connect(server.url, second.token);
      const theirs = await connect(server.url, bystander.token);
      sockets.push(mine, other, theirs);
      const gone = disconnected(other, 2000);

      const res = await post('/api/auth/password', { cookie: first.cookie, body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } });
      expect(res.status).toBe(204);
      expect(await gone).toBe('io server disconnect');
      expect(await me(second.token)).toBe(401);
      expect(await me(first.token)).toBe(200);
      expect(mine.connected).toBe(true);
      expect(theirs.connected).toBe(true);
      expect(await me(bystander.token)).toBe(200);
      expect((await signIn(name, PASSWORD)).status).toBe(401);
      expect((await signIn(name, NEW_PASSWORD)).status).toBe(200);
      expect((await signIn(`${name}_other`, PASSWORD)).status).toBe(200);
    }
  }, 60_000);

  it('signing out everywhere ends every session of the caller, this one included, and closes all their sockets; others stay', async () => {
    const a = await signUp(server.url, 'everywhere_a');
    const a2 = (await signIn('everywhere_a', PASSWORD)).auth!;
    const b = await signUp(server.url, 'everywhere_b');
    const s1 = await connect(server.url, undefined, { cookie: a.cookie });
    const s2 = await connect(server.url, a2.token);
    const s3 = await connect(server.url, b.token);
    sockets.push(s1, s2, s3);
    const gone = Promise.all([disconnected(s1, 2000), disconnected(s2, 2000)]);
    const res = await post('/api/auth/signout-everywhere', { cookie: a.cookie });
    expect(res.status).toBe(204);
    expect(res.headers.get('set-cookie')).toMatch(/spyglass_session=;.*Max-Age=0/);
    expect(await gone).toEqual(['io server disconnect', 'io server disconnect']);
    expect(await me(a.token)).toBe(401);
    expect(await me(a2.token)).toBe(401);
    expect(await me(b.token)).toBe(200);
    expect(s3.connected).toBe(true);
  }, 60_000);
});
