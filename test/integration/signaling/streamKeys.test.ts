import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedStreamKey, StreamKeyList, StreamKeyView } from '../../../common/protocol/streamKeys.ts';
import { signUp, startTestServer, type TestServer } from '../../../testkit/server.ts';

/**
 * `/api/stream-keys` (docs/http-api.md, docs/ingest.md) per role: anonymous, the owner, another
 * user (someone else's key reads exactly like a missing one), a suspended account; bad input.
 */
describe('HTTP API: /api/stream-keys', () => {
  let server: TestServer;
  let alice: Awaited<ReturnType<typeof signUp>>;
  let bob: Awaited<ReturnType<typeof signUp>>;

  beforeAll(async () => {
    server = await startTestServer({ recording: { enabled: false } });
    alice = await signUp(server.url, 'keys_alice');
    bob = await signUp(server.url, 'keys_bob');
  });
  afterAll(async () => {
    await server?.stop();
  });

  const call = async (method: string, p: string, o: { token?: string; cookie?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) => {
    const res = await fetch(`${server.url}/api/stream-keys${p}`, {
      method,
      headers: {
        ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
        ...(o.cookie ? { cookie: o.cookie } : {}),
        ...(o.body !== undefined || o.raw !== undefined ? { 'content-type': 'application/json' } : {}),
        ...o.headers,
      },
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : o.raw !== undefined ? { body: o.raw } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as unknown };
  };
  const errorOf = (r: { status: number; body: unknown }) => ({ status: r.status, code: (r.body as { error?: { code: string } }).error?.code });

  it('creates a key (the secret once), lists, renames and revokes it, as its owner with a cookie', async () => {
    const created = await call('POST', '', { cookie: alice.cookie, body: { name: 'OBS at home', title: 'Evening show', visibility: 'private' } });
    expect(created.status).toBe(201);
    const { key, secret } = created.body as CreatedStreamKey;
    expect(secret).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    expect(key).toEqual({ id: expect.stringMatching(/^k_/), name: 'OBS at home', title: 'Evening show', visibility: 'private', createdAt: expect.any(String), lastUsedAt: null });

    const list = await call('GET', '', { cookie: alice.cookie });
    expect(list).toEqual({ status: 200, body: { keys: [key], rtmpPort: null, live: null } satisfies StreamKeyList });
    expect(JSON.stringify(list.body)).not.toContain(secret);

    const renamed = await call('PATCH', `/${key.id}`, { cookie: alice.cookie, body: { name: 'Studio', visibility: 'public' } });
    expect(renamed).toEqual({ status: 200, body: { key: { ...key, name: 'Studio', visibility: 'public' } } });
    expect(await server.ingest.keys.authorise(secret)).toMatchObject({ keyId: key.id, title: 'Evening show', visibility: 'public', user: { id: alice.user.id } });

    expect((await call('DELETE', `/${key.id}`, { cookie: alice.cookie })).status).toBe(204);
    expect(await server.ingest.keys.authorise(secret)).toBeUndefined();
    expect((await call('GET', '', { token: alice.token })).body).toEqual({ keys: [], rtmpPort: null, live: null });
    // Revoked: gone for every action.
    expect(errorOf(await call('DELETE', `/${key.id}`, { token: alice.token }))).toEqual({ status: 404, code: 'NOT_FOUND' });
    expect(errorOf(await call('PATCH', `/${key.id}`, { token: alice.token, body: { name: 'back' } }))).toEqual({ status: 404, code: 'NOT_FOUND' });
  });

  it('answers anonymous callers UNAUTHENTICATED for every method', async () => {
    for (const [method, p, body] of [['GET', ''], ['POST', '', { name: 'x', title: 'x' }], ['PATCH', '/k_0123456789', { name: 'x' }], ['DELETE', '/k_0123456789']] as const) {
      expect(errorOf(await call(method, p, body ? { body } : {})), `${method} ${p}`).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    }
  });

  it('answers another user’s key exactly like a missing one, and never lists it', async () => {
    const { key } = (await call('POST', '', { token: alice.token, body: { name: 'mine', title: 'mine' } })).body as CreatedStreamKey;
    const theirs = await call('PATCH', `/${key.id}`, { token: bob.token, body: { name: 'stolen' } });
    const missing = await call('PATCH', '/k_doesnotexist0', { token: bob.token, body: { name: 'stolen' } });
    expect(theirs).toEqual(missing);
    expect(errorOf(theirs)).toEqual({ status: 404, code: 'NOT_FOUND' });
    expect(await call('DELETE', `/${key.id}`, { token: bob.token })).toEqual(await call('DELETE', '/k_doesnotexist0', { token: bob.token }));
    expect(await call('DELETE', '/not-a-key-id', { token: bob.token })).toEqual(await call('DELETE', '/k_doesnotexist0', { token: bob.token }));
    expect((await call('GET', '', { token: bob.token })).body).toEqual({ keys: [], rtmpPort: null, live: null });
    expect((await call('GET', '', { token: alice.token })).body).toMatchObject({ keys: [{ id: key.id, name: 'mine' }] });
    await call('DELETE', `/${key.id}`, { token: alice.token });
  });

  it('refuses bad input with VALIDATION_FAILED (or BAD_REQUEST for a body that is not JSON)', async () => {
    const bad: Array<[string, unknown, RegExp]> = [
      ['POST', {}, /name: .*required|name/],
      ['POST', { name: '', title: 'x' }, /name is required/],
      ['POST', { name: 'x'.repeat(61), title: 'x' }, /name must be at most 60/],
      ['POST', { name: 'x', title: 'x'.repeat(121) }, /title must be at most 120/],
      ['POST', { name: 'x', title: 'x', visibility: 'friends' }, /visibility/],
      ['POST', { name: 'a\u0000b', title: 'x' }, /control/i],
      ['POST', { name: 'x', title: 'x', secret: 'sk_mine' }, /secret|unrecognized/i],
      ['POST', [], /expected object|object/i],
    ];
    for (const [method, body, message] of bad) {
      const r = await call(method, '', { token: alice.token, body });
      expect(errorOf(r), JSON.stringify(body)).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
      expect((r.body as { error: { message: string } }).error.message, JSON.stringify(body)).toMatch(message);
    }
    const { key } = (await call('POST', '', { token: alice.token, body: { name: 'ok', title: 'ok' } })).body as CreatedStreamKey;
    expect(errorOf(await call('PATCH', `/${key.id}`, { token: alice.token, body: {} }))).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect(errorOf(await call('PATCH', `/${key.id}`, { token: alice.token, body: { title: '' } }))).toEqual({ status: 400, code: 'VALIDATION_FAILED' });
    expect(errorOf(await call('POST', '', { token: alice.token, raw: '{"name": ' }))).toEqual({ status: 400, code: 'BAD_REQUEST' });
    expect(errorOf(await call('POST', '', { token: alice.token, body: { name: 'x', title: 'y'.repeat(20_000) } }))).toEqual({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    // Nothing was created by any of them.
    expect(((await call('GET', '', { token: alice.token })).body as StreamKeyList).keys.map((k: StreamKeyView) => k.id)).toEqual([key.id]);
    await call('DELETE', `/${key.id}`, { token: alice.token });
  });

  it('lets a suspended account list and revoke its keys but not create one (SUSPENDED)', async () => {
    const carol = await signUp(server.url, 'keys_carol');
    const { key } = (await call('POST', '', { token: carol.token, body: { name: 'before', title: 'before' } })).body as CreatedStreamKey;
    await server.stores.suspensions.suspend(carol.user.id, 'spam', 'test');
    const refused = await call('POST', '', { token: carol.token, body: { name: 'after', title: 'after' } });
    expect(errorOf(refused)).toEqual({ status: 403, code: 'SUSPENDED' });
    expect((refused.body as { error: { message: string } }).error.message).toContain('spam');
    expect(((await call('GET', '', { token: carol.token })).body as StreamKeyList).keys.map((k) => k.id)).toEqual([key.id]);
    expect((await call('PATCH', `/${key.id}`, { token: carol.token, body: { name: 'renamed' } })).status).toBe(200);
    expect((await call('DELETE', `/${key.id}`, { token: carol.token })).status).toBe(204);
  });

  it('refuses the 21st key until one is revoked', async () => {
    const dave = await signUp(server.url, 'keys_dave');
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(((await call('POST', '', { token: dave.token, body: { name: `k${i}`, title: 't' } })).body as CreatedStreamKey).key.id);
    const refused = await call('POST', '', { token: dave.token, body: { name: 'k20', title: 't' } });
    expect(errorOf(refused)).toEqual({ status: 409, code: 'WRONG_STATE' });
    expect((await call('DELETE', `/${ids[0] ?? ''}`, { token: dave.token })).status).toBe(204);
    expect((await call('POST', '', { token: dave.token, body: { name: 'k20', title: 't' } })).status).toBe(201);
  });

  it('lists the caller’s broadcast an encoder started (what the go-live page shows), not a browser’s', async () => {
    const gil = await signUp(server.url, 'keys_gil');
    const { secret } = (await call('POST', '', { token: gil.token, body: { name: 'OBS', title: 'from OBS' } })).body as CreatedStreamKey;
    const session = await server.ingest.broadcasts.open(secret, '192.0.2.40', 'rtmp');
    try {
      expect(((await call('GET', '', { token: gil.token })).body as StreamKeyList).live).toMatchObject({ id: session.broadcastId, title: 'from OBS', source: 'rtmp', status: 'live' });
      // Not to anyone else.
      expect(((await call('GET', '', { token: bob.token })).body as StreamKeyList).live).toBeNull();
    } finally {
      await session.end();
    }
    expect(((await call('GET', '', { token: gil.token })).body as StreamKeyList).live).toBeNull();
  });

  it('deleting the account removes its keys', async () => {
    const erin = await signUp(server.url, 'keys_erin');
    const { secret } = (await call('POST', '', { token: erin.token, body: { name: 'x', title: 'x' } })).body as CreatedStreamKey;
    const res = await fetch(`${server.url}/api/account`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${erin.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ password: 'correct horse battery' }),
    });
    expect(res.status).toBeLessThan(300);
    expect(await server.stores.streamKeys.authorise(secret)).toBeUndefined();
    expect(await server.ingest.keys.authorise(secret)).toBeUndefined();
  });
});
