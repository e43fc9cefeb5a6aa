import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthResponse } from '../../common/protocol/events.ts';
import { connect, disconnected, ok, request, signUp, startTestServer, type ClientSocket, type TestServer } from '../../testkit/server.ts';

/**
 * Ending a session must end its open sockets: a socket opened before sign-out used to stay
 * signed in and could still go live afterwards.
 */
describe('revoking a session disconnects its sockets', () => {
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  beforeAll(async () => {
    server = await startTestServer({ recording: { enabled: false } });
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await server?.stop();
  });

  it('sign-out disconnects the session’s socket at once; another session of the same user stays', async () => {
    const first = await signUp(server.url, 'leaver');
    // A second session of the same user (another device).
    const res = await fetch(`${server.url}/api/auth/signin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'leaver', password: 'correct horse battery' }),
    });
    expect(res.status).toBe(200);
    const second = (await res.json()) as AuthResponse;

    const old = await connect(server.url, undefined, { cookie: first.cookie });
    const other = await connect(server.url, second.token);
    sockets.push(old, other);
    const gone = disconnected(old, 1000);

    const out = await fetch(`${server.url}/api/auth/signout`, { method: 'POST', headers: { cookie: first.cookie } });
    expect(out.status).toBe(204);
    expect(await gone).toBe('io server disconnect');

    // Nothing sent on it reaches the server any more…
    await expect(old.timeout(500).emitWithAck('broadcast:start', { title: 'after sign-out', visibility: 'public', invitees: [] })).rejects.toThrow();
    // …and reconnecting the same socket with the old cookie is anonymous: going live is refused.
    old.connect();
    await new Promise<void>((resolve, reject) => {
      old.once('connect', () => resolve());
      old.once('connect_error', reject);
    });
    const again = await request(old, 'broadcast:start', { title: 'after sign-out', visibility: 'public', invitees: [] });
    expect(again.ok).toBe(false);
    if (!again.ok) expect(again.error.code).toBe('UNAUTHENTICATED');
    expect(await server.stores.broadcasts.listLive({ limit: 10 })).toEqual([]);

    // The other session's socket is untouched and still acts as the user.
    expect(other.connected).toBe(true);
    const { broadcast } = await ok(other, 'broadcast:start', { title: 'still signed in here', visibility: 'public', invitees: [] });
    expect(broadcast.owner.username).toBe('leaver');
    await ok(other, 'broadcast:stop', { broadcastId: broadcast.id });
  }, 30_000);

  it('signing out everywhere (every session of the user) disconnects every socket of the user', async () => {
    const a = await signUp(server.url, 'everywhere');
    const b = await signUp(server.url, 'bystander');
    const s1 = await connect(server.url, a.token);
    const s2 = await connect(server.url, undefined, { cookie: a.cookie });
    const s3 = await connect(server.url, b.token);
    sockets.push(s1, s2, s3);
    const gone = Promise.all([disconnected(s1, 1000), disconnected(s2, 1000)]);
    expect(await server.stores.sessions.revokeAllForUser(a.user.id)).toBe(1);
    expect(await gone).toEqual(['io server disconnect', 'io server disconnect']);
    expect(s3.connected).toBe(true);
  }, 30_000);
});
