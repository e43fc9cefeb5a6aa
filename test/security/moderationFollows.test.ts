import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserId } from '../../common/protocol/ids.ts';
import { connect, grantAdmin, ok, signUp, startTestServer, type ClientSocket, type TestServer } from '../../testkit/server.ts';

/**
 * Where following meets moderation (docs/moderation.md): a user the broadcaster blocked cannot
 * follow them and stops following them; a suspended account follows no one; an admin acting on
 * a reported chat message removes it as the broadcaster would.
 */
describe('following and moderation together', () => {
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  const tokens = {} as Record<'star' | 'fan' | 'troll' | 'admin', string>;
  const ids = {} as Record<'star' | 'fan' | 'troll' | 'admin', UserId>;
  const NAMES = { star: 'mf_star', fan: 'mf_fan', troll: 'mf_troll', admin: 'mf_admin' } as const;

  const call = (method: string, p: string, who: keyof typeof tokens, body?: unknown) =>
    fetch(`${server.url}${p}`, {
      method,
      headers: {
        authorization: `Bearer ${tokens[who]}`,
        origin: new URL(server.url).origin,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const code = async (res: Response) => ({ status: res.status, code: res.status < 300 ? null : ((await res.json()) as { error: { code: string } }).error.code });
  const follows = async (who: keyof typeof tokens) =>
    ((await (await call('GET', `/api/users/${NAMES.star}`, who)).json()) as { profile: { following?: boolean; followers: number } }).profile;

  beforeAll(async () => {
    server = await startTestServer({ recording: { enabled: false } });
    for (const who of ['star', 'fan', 'troll', 'admin'] as const) {
      const auth = await signUp(server.url, NAMES[who]);
      tokens[who] = auth.token;
      ids[who] = auth.user.id;
    }
    await grantAdmin(server, NAMES.admin);
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await server?.stop();
  });

  it('a blocked user stops following and cannot follow again; unblocked, they may', async () => {
    expect(await code(await call('PUT', `/api/users/${NAMES.star}/follow`, 'troll'))).toEqual({ status: 200, code: null });
    expect((await follows('troll')).followers).toBe(1);
    expect(await code(await call('POST', '/api/blocks', 'star', { username: NAMES.troll }))).toEqual({ status: 201, code: null });
    // The block removed the follow, and a new one is refused.
    expect((await follows('fan')).followers).toBe(0);
    expect(await code(await call('PUT', `/api/users/${NAMES.star}/follow`, 'troll'))).toEqual({ status: 403, code: 'FORBIDDEN' });
    // Others are not affected.
    expect(await code(await call('PUT', `/api/users/${NAMES.star}/follow`, 'fan'))).toEqual({ status: 200, code: null });
    expect(await code(await call('DELETE', `/api/blocks/${ids.troll}`, 'star'))).toEqual({ status: 204, code: null });
    expect(await code(await call('PUT', `/api/users/${NAMES.star}/follow`, 'troll'))).toEqual({ status: 200, code: null });
    expect((await follows('fan')).followers).toBe(2);
  });

  it('a suspended account cannot follow; unsuspended, it can', async () => {
    await server.stores.suspensions.suspend(ids.fan, 'spam', 'test');
    await call('DELETE', `/api/users/${NAMES.star}/follow`, 'fan');
    expect(await code(await call('PUT', `/api/users/${NAMES.star}/follow`, 'fan'))).toEqual({ status: 403, code: 'SUSPENDED' });
    await server.stores.suspensions.unsuspend(ids.fan);
    expect(await code(await call('PUT', `/api/users/${NAMES.star}/follow`, 'fan'))).toEqual({ status: 200, code: null });
  });

  it("an admin's 'remove' on a reported chat message removes it from the chat", async () => {
    const star = await connect(server.url, tokens.star);
    const fan = await connect(server.url, tokens.fan);
    sockets.push(star, fan);
    const live = (await ok(star, 'broadcast:start', { title: 'Chat to report', visibility: 'public' })).broadcast.id;
    await ok(fan, 'broadcast:join', { broadcastId: live });
    const rude = (await ok(fan, 'chat:send', { broadcastId: live, text: 'a rude line' })).message;
    const report = (await (await call('POST', '/api/reports', 'troll', { kind: 'message', id: rude.id, reason: 'harassment' })).json()) as { report: { id: string } };
    const acted = await call('POST', `/api/admin/reports/${report.report.id}`, 'admin', { action: 'remove' });
    expect(acted.status).toBe(200);
    const left = await server.stores.chat.recent(live, 50);
    expect(left.map((m) => m.id)).not.toContain(rude.id);
    const removal = await server.stores.moderation.message(rude.id);
    expect(removal?.removal).toMatchObject({ by: ids.admin, as: 'admin' });
  });
});
