import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../../../testkit/server.ts';

describe('HTTP API', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server?.stop());

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('answers health and readiness probes', async () => {
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ ok: true });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });

  it('signs up, signs in, tells who you are, signs out', async () => {
    const up = await signUp(server.url, 'Olivia');
    expect(up.user.username).toBe('Olivia');
    expect(up.cookie).toMatch(/^spyglass_session=/);
    const meCookie = await fetch(`${server.url}/api/auth/me`, { headers: { cookie: up.cookie } });
    expect(await meCookie.json()).toEqual({ user: { id: up.user.id, username: 'Olivia' }, suspension: null });

    const signin = await post('/api/auth/signin', { username: 'olivia', password: 'correct horse battery' });
    expect(signin.status).toBe(200);
    const setCookie = signin.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    const { token } = (await signin.json()) as { token: string };
    expect((await fetch(`${server.url}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);

    expect((await post('/api/auth/signout', {}, { authorization: `Bearer ${token}` })).status).toBe(204);
    expect((await fetch(`${server.url}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    // The other session (the cookie) is unaffected.
    expect((await fetch(`${server.url}/api/auth/me`, { headers: { cookie: up.cookie } })).status).toBe(200);
  });

  it('refuses bad sign-ups and sign-ins with clear codes', async () => {
    await signUp(server.url, 'taken');
    const cases: Array<[unknown, number, string]> = [
      [{ username: 'Taken', password: 'long enough pw' }, 409, 'USERNAME_TAKEN'],
      [{ username: 'ab', password: 'long enough pw' }, 400, 'VALIDATION_FAILED'],
      [{ username: 'bad name!', password: 'long enough pw' }, 400, 'VALIDATION_FAILED'],
      [{ username: 'shortpw', password: 'short' }, 400, 'VALIDATION_FAILED'],
      [{ username: 'extra', password: 'long enough pw', role: 'admin' }, 400, 'VALIDATION_FAILED'],
      ['{"username": ', 400, 'BAD_REQUEST'],
      [{ username: 'huge', password: 'x'.repeat(20_000) }, 413, 'PAYLOAD_TOO_LARGE'],
    ];
    for (const [body, status, code] of cases) {
      const res = await post('/api/auth/signup', body);
      expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(status);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    }
    const wrong = await post('/api/auth/signin', { username: 'taken', password: 'wrong password' });
    expect(wrong.status).toBe(401);
    const wrongBody = (await wrong.json()) as { error: { code: string } };
    expect(wrongBody.error.code).toBe('INVALID_CREDENTIALS');
    // An unknown username looks exactly like a wrong password.
    const nobody = await post('/api/auth/signin', { username: 'nobody', password: 'wrong password' });
    expect(nobody.status).toBe(401);
    expect(await nobody.json()).toEqual(wrongBody);
  });

  it('treats garbage and tampered tokens as anonymous', async () => {
    const up = await signUp(server.url, 'tamper');
    const tampered = up.token.slice(0, -2) + (up.token.endsWith('AA') ? 'BB' : 'AA');
    for (const auth of [`Bearer ${tampered}`, 'Bearer ', 'Bearer ../../../etc', 'Basic abc']) {
      expect((await fetch(`${server.url}/api/auth/me`, { headers: { authorization: auth } })).status).toBe(401);
    }
    expect((await fetch(`${server.url}/api/broadcasts`, { headers: { authorization: `Bearer ${tampered}` } })).status).toBe(200);
  });

  it('404s unknown API routes and unknown or malformed broadcast ids', async () => {
    const unknown = await fetch(`${server.url}/api/nope`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    expect((await fetch(`${server.url}/api/broadcasts/b_doesnotexist000`)).status).toBe(404);
    expect((await fetch(`${server.url}/api/broadcasts/..%2F..%2Fetc`)).status).toBe(404);
  });

  it('serves the web client for page routes', async () => {
    for (const page of ['/', '/live', '/watch/b_abcdefgh1234', '/signin']) {
      const res = await fetch(`${server.url}${page}`);
      expect(res.status, page).toBe(200);
      expect(await res.text()).toMatch(/<html/i);
    }
  });
});
