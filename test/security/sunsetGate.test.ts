import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../common/logger.ts';
import { openDatabase, type DatabaseHandle } from '../../signaling/store/Database.ts';
import { signUp, startTestServer, type TestServer } from '../../testkit/server.ts';

const H = 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const PASSWORD = 'correct horse battery';

/**
 * Spellings of a path that express 5 routes to the same handler (case, one trailing slash),
 * and spellings it routes nowhere (doubled slashes). The gate must treat the first kind like
 * the canonical path, and no spelling may ever reach a refused handler.
 */
function routed(p: string): string[] {
  const mixed = p.replace(/[a-z]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c));
  return [p, p.toUpperCase(), mixed, `${p}/`, `${p.toUpperCase()}/`, `${mixed}/`];
}
function unrouted(p: string): string[] {
  return [`/${p}`, p.replace('/api/', '/api//'), `${p}//`, `/${p.toUpperCase()}/`];
}

/**
 * The sunset gate over real HTTP: every gated route, in every phase that gates it, under
 * every spelling the router accepts (and some it does not).
 */
describe('sunset gate: spelling cannot sidestep it', () => {
  let server: TestServer;
  let db: DatabaseHandle;
  let now = Date.now();
  const t0 = now;
  let alice: string;
  let admin: string;
  let n = 0;

  const call = async (method: string, p: string, token?: string, body?: unknown) => {
    const res = await fetch(`${server.url}${p}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = method === 'HEAD' ? '' : await res.text();
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    } catch {
      code = undefined;
    }
    return { status: res.status, code, json: (res.headers.get('content-type') ?? '').includes('json') };
  };
  const signupBody = () => ({ username: `sneaky${++n}`, password: PASSWORD });

  beforeAll(async () => {
    server = await startTestServer({}, { clock: () => now });
    db = await openDatabase({ sqlitePath: path.join(server.dataDir, 'spyglass.db'), logger: createLogger({ level: 'silent' }) });
    alice = (await signUp(server.url, 'alice')).token;
    admin = (await signUp(server.url, 'boss')).token;
    await db.db.updateTable('users').set({ role: 'admin' }).where('username_lower', '=', 'boss').execute();
    const record = await server.stores.users.findByUsername('boss');
    await server.stores.sunset.schedule(
      { announceAt: iso(t0 + H), readOnlyAt: iso(t0 + 2 * H), exportOnlyAt: iso(t0 + 3 * H), offAt: iso(t0 + 4 * H), message: '' },
      record!.id,
    );
    await server.sunset.refresh();
  }, 60_000);

  afterAll(async () => {
    await db?.close();
    await server?.stop();
  });

  it('before the sunset, every routed spelling of sign-up creates an account (the variants are real)', async () => {
    for (const p of routed('/api/auth/signup')) {
      expect((await call('POST', p, undefined, signupBody())).status, p).toBe(201);
    }
  });

  for (const [phase, at] of [['announced', 1], ['read-only', 2], ['export-only', 3]] as const) {
    it(`${phase}: no spelling of POST /api/auth/signup creates an account`, async () => {
      now = t0 + at * H + 1000;
      const tried: string[] = [];
      for (const p of routed('/api/auth/signup')) {
        const body = signupBody();
        tried.push(body.username);
        const r = await call('POST', p, undefined, body);
        expect([p, r.status, r.code]).toEqual([p, 403, 'SERVICE_SUNSET']);
      }
      for (const p of unrouted('/api/auth/signup')) {
        const body = signupBody();
        tried.push(body.username);
        const r = await call('POST', p, undefined, body);
        expect(r.status, p).not.toBe(201);
        expect([403, 404, 200], p).toContain(r.status); // 200 only for the web client's index.html
        if (r.status === 200) expect(r.json, p).toBe(false);
      }
      for (const username of tried) {
        expect(await server.stores.users.findByUsername(username), username).toBeUndefined();
      }
      // Other routes are not caught by the sign-up rule, in any spelling.
      if (phase !== 'export-only') {
        for (const p of routed('/api/broadcasts')) expect((await call('GET', p)).status, p).toBe(200);
      }
    });
  }

  it('export-only: every spelling of a refused /api route is refused (default deny)', async () => {
    now = t0 + 3 * H + 1000;
    const refused: Array<[string, string]> = [
      ['GET', '/api/broadcasts'],
      ['HEAD', '/api/broadcasts'],
      ['GET', '/api/broadcasts/abc'],
      ['POST', '/api/replays'],
      ['PATCH', '/api/replays/abc'],
      ['GET', '/api/no-such-route'],
      ['POST', '/api/auth/me'],
      ['GET', '/api/auth/signin'],
      // Profiles stay readable, but following and editing are over.
      ['PUT', '/api/users/alice/follow'],
      ['DELETE', '/api/users/alice/follow'],
      ['PATCH', '/api/account/profile'],
      ['PUT', '/api/account/avatar'],
      ['POST', '/api/notifications/read'],
    ];
    for (const [method, route] of refused) {
      for (const p of routed(route)) {
        const r = await call(method, p, alice);
        expect([method, p, r.status, method === 'HEAD' ? 'SERVICE_SUNSET' : r.code]).toEqual([method, p, 403, 'SERVICE_SUNSET']);
      }
      for (const p of unrouted(route)) {
        const r = await call(method, p, alice);
        // Routed nowhere: refused, not found, or the web client's page; never an API answer.
        expect([403, 404, 200], `${method} ${p}`).toContain(r.status);
        if (r.status === 200) expect(r.json, `${method} ${p}`).toBe(false);
      }
    }
  });

  it('export-only: every routed spelling of an allowed route reaches its handler', async () => {
    now = t0 + 3 * H + 1000;
    const allowed: Array<{ method: string; route: string; token?: string; body?: () => unknown; expect: number[] }> = [
      { method: 'GET', route: '/api/replays', expect: [200] },
      { method: 'HEAD', route: '/api/replays', expect: [200] },
      { method: 'GET', route: '/api/sunset', expect: [200] },
      { method: 'GET', route: '/api/auth/me', token: alice, expect: [200] },
      { method: 'POST', route: '/api/auth/signin', body: () => ({ username: 'alice', password: PASSWORD }), expect: [200] },
      { method: 'POST', route: '/api/auth/signout', expect: [204] },
      // Deleting one's replay, changing the password and signing out everywhere stay open (reaching the handler: 404 / 401).
      { method: 'DELETE', route: '/api/replays/abc', token: alice, expect: [404] },
      { method: 'POST', route: '/api/auth/password', body: () => ({ currentPassword: 'x', newPassword: 'y' }), expect: [401] },
      { method: 'POST', route: '/api/auth/signout-everywhere', expect: [401] },
      { method: 'GET', route: '/api/archives/latest', token: alice, expect: [200] },
      // The first request starts an archive (202), the next ones find it in progress (409).
      { method: 'POST', route: '/api/archives', token: alice, expect: [202, 409] },
      { method: 'GET', route: '/api/admin/sunset', token: admin, expect: [200] },
      { method: 'GET', route: '/api/users/alice', expect: [200] },
      { method: 'GET', route: '/api/users/alice/replays', token: admin, expect: [200] },
      { method: 'GET', route: '/api/notifications', token: alice, expect: [200] },
      { method: 'GET', route: '/api/account/profile', token: alice, expect: [200] },
      { method: 'PUT', route: '/api/admin/sunset', token: admin, body: () => ({ nonsense: true }), expect: [400] },
    ];
    for (const a of allowed) {
      for (const p of routed(a.route)) {
        const r = await call(a.method, p, a.token, a.body?.());
        expect(a.expect, `${a.method} ${p} → ${r.status} ${r.code}`).toContain(r.status);
      }
    }
    // Replay and archive downloads (ids are case-sensitive: only the fixed part varies).
    for (const p of ['/api/replays/nope/download', '/API/REPLAYS/nope/download/', '/api/archives/nope/download', '/API/Archives/nope/download/']) {
      const r = await call('GET', p);
      expect(r.code, p).not.toBe('SERVICE_SUNSET');
    }
  });
});
