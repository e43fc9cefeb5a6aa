import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { ReplayList } from '../../common/protocol/replays.ts';
import { connect, grantAdmin, ok, request, signUp, startTestServer, type ClientSocket, type TestServer } from '../../testkit/server.ts';
import { replayOutput } from '../../testkit/replayOutput.ts';

type Role = 'anonymous' | 'stranger' | 'invitee' | 'admin' | 'owner';
const ROLES: Role[] = ['anonymous', 'stranger', 'invitee', 'admin', 'owner'];
/**
 * Renaming, changing the visibility of and deleting a replay (docs/http-api.md), tried as every
 * role over HTTP and socket.io: only the owner may; whoever may not see a replay gets exactly
 * the answer of an id that never existed, before and after it is deleted (docs/security.md,
 * "Deleted replays"); a deleted public replay answers 410 to everyone, a deleted private one
 * 410 to its owner only.
 */
describe('replay actions: authorisation by role, tombstones, files', () => {
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  const tokens = {} as Record<Exclude<Role, 'anonymous'>, string>;
  const unknownId = 'b_neverexisted00' as BroadcastId;

  const call = (method: string, p: string, role: Role, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${p}`, {
      method,
      headers: {
        ...(role === 'anonymous' ? {} : { authorization: `Bearer ${tokens[role]}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const answer = async (res: Response) => ({ status: res.status, body: res.status === 204 ? null : ((await res.json()) as unknown) });

  /** An ended broadcast of the owner with a ready replay and its files on disk. */
  async function replay(title: string, visibility: 'public' | 'private', invitees: string[] = [], end = true): Promise<BroadcastId> {
    const socket = await connect(server.url, tokens.owner);
    sockets.push(socket);
    const { broadcast } = await ok(socket, 'broadcast:start', { title, visibility, invitees });
    await server.stores.replays.begin(broadcast.id);
    if (!end) return broadcast.id;
    await ok(socket, 'broadcast:stop', { broadcastId: broadcast.id });
    await server.stores.replays.markProcessing(broadcast.id);
    await server.stores.replays.applyOutput(broadcast.id, 'ready', replayOutput());
    const dir = path.join(server.dataDir, 'replays', broadcast.id);
    mkdirSync(path.join(dir, 'hls'), { recursive: true });
    for (const f of ['poster.jpg', 'video.webm', 'replay.mp4', 'hls/index.m3u8', 'hls/seg-000.ts']) writeFileSync(path.join(dir, f), 'data');
    // What the recorder left (finalize normally removes it): deletion removes it too.
    mkdirSync(path.join(server.dataDir, 'recordings', broadcast.id, 'run1'), { recursive: true });
    writeFileSync(path.join(server.dataDir, 'recordings', broadcast.id, 'run1', 'seg-00000.mkv'), 'data');
    return broadcast.id;
  }

  beforeAll(async () => {
    server = await startTestServer({ recording: { enabled: false } });
    for (const role of ['stranger', 'invitee', 'admin', 'owner'] as const) tokens[role] = (await signUp(server.url, `ra_${role}`)).token;
    await grantAdmin(server, 'ra_admin');
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await server?.stop();
  });

  it('only the owner may rename, change visibility, list invitees or delete; others get 401/403, or 404 when they may not see it', async () => {
    const pub = await replay('Public one', 'public');
    const priv = await replay('Private one', 'private', ['ra_invitee']);
    const unknown = await answer(await call('PATCH', `/api/replays/${unknownId}`, 'stranger', { title: 'x' }));
    expect(unknown).toEqual({ status: 404, body: { error: { code: 'NOT_FOUND', message: 'replay not found' } } });

    const expected: Record<'public' | 'private', Record<Exclude<Role, 'owner'>, number>> = {
      public: { anonymous: 401, stranger: 403, invitee: 403, admin: 403 },
      private: { anonymous: 404, stranger: 404, invitee: 403, admin: 404 },
    };
    for (const [kind, id] of [['public', pub], ['private', priv]] as const) {
      for (const role of ROLES.filter((r): r is Exclude<Role, 'owner'> => r !== 'owner')) {
        const want = expected[kind][role];
        for (const [method, p, body] of [
          ['PATCH', `/api/replays/${id}`, { title: 'hijacked' }],
          ['PATCH', `/api/replays/${id}`, { visibility: 'public' }],
          ['DELETE', `/api/replays/${id}`, undefined],
          ['GET', `/api/replays/${id}/invitees`, undefined],
        ] as const) {
          const got = await answer(await call(method, p, role, body));
          expect({ kind, role, method, status: got.status }).toEqual({ kind, role, method, status: want });
          // Hidden ones answer exactly as an id that never existed.
          if (want === 404) expect(got.body).toEqual(unknown.body);
        }
      }
    }
    // Nothing changed.
    expect((await server.stores.broadcasts.get(pub))?.title).toBe('Public one');
    expect(await server.stores.broadcasts.get(priv)).toMatchObject({ title: 'Private one', visibility: 'private' });

    // The owner may.
    const renamed = await call('PATCH', `/api/replays/${priv}`, 'owner', { title: '  Renamed one  ' });
    expect(renamed.status).toBe(200);
    expect(await renamed.json()).toMatchObject({ replay: { id: priv, title: 'Renamed one', visibility: 'private' }, invitees: ['ra_invitee'] });
    expect(await answer(await call('GET', `/api/replays/${priv}/invitees`, 'owner'))).toEqual({ status: 200, body: { invitees: ['ra_invitee'] } });
    // Private with another invitee: the old one loses it (404 like any stranger), the new one sees it.
    const moved = await answer(await call('PATCH', `/api/replays/${priv}`, 'owner', { visibility: 'private', invitees: ['ra_stranger'] }));
    expect(moved).toMatchObject({ status: 200, body: { invitees: ['ra_stranger'] } });
    expect((await call('GET', `/api/replays/${priv}`, 'invitee')).status).toBe(404);
    expect((await call('GET', `/api/replays/${priv}`, 'stranger')).status).toBe(200);
    // Public: everyone sees it, it is in the public list.
    expect((await answer(await call('PATCH', `/api/replays/${priv}`, 'owner', { visibility: 'public' }))).status).toBe(200);
    expect((await call('GET', `/api/replays/${priv}`, 'anonymous')).status).toBe(200);
    const list = (await (await call('GET', '/api/replays?scope=public', 'anonymous')).json()) as ReplayList;
    expect(list.replays.map((r) => r.id)).toContain(priv);
  }, 60_000);

  it('refuses bad input with clear codes: oversized or empty title, nothing to change, unknown invitee, invitees when public, a live broadcast', async () => {
    const id = await replay('Input checks', 'public');
    const cases: Array<[unknown, string]> = [
      [{ title: 'x'.repeat(121) }, 'title must be at most 120 characters'],
      [{ title: '   ' }, 'title is required'],
      [{ title: 'a\u0007b' }, 'control'],
      [{}, 'nothing to change'],
      [{ visibility: 'secret' }, 'visibility'],
      [{ visibility: 'private', invitees: ['nobody_here'] }, 'unknown invitee(s): nobody_here'],
      [{ visibility: 'public', invitees: ['ra_invitee'] }, 'invitees go with visibility "private"'],
      [{ title: 'ok', owner: 'someone' }, 'owner'],
    ];
    for (const [body, message] of cases) {
      const got = (await answer(await call('PATCH', `/api/replays/${id}`, 'owner', body))) as { status: number; body: { error: { code: string; message: string } } };
      expect({ body, status: got.status, code: got.body.error.code }).toEqual({ body, status: 400, code: 'VALIDATION_FAILED' });
      expect(got.body.error.message).toContain(message);
    }
    expect((await server.stores.broadcasts.get(id))?.title).toBe('Input checks');

    const live = await replay('Still live', 'public', [], false);
    for (const [method, body] of [['PATCH', { title: 'x' }], ['DELETE', undefined]] as const) {
      const got = (await answer(await call(method, `/api/replays/${live}`, 'owner', body))) as { status: number; body: { error: { code: string } } };
      expect({ method, status: got.status, code: got.body.error.code }).toEqual({ method, status: 409, code: 'WRONG_STATE' });
    }
    // Malformed ids are the one 404.
    expect((await call('DELETE', '/api/replays/not-an-id', 'owner')).status).toBe(404);
    await server.stores.broadcasts.end(live, 'stopped');
    // Once ended, the owner may delete it (the recording's replay was never made: still 'recording').
    expect((await call('DELETE', `/api/replays/${live}`, 'owner')).status).toBe(204);
  }, 60_000);

  it('refuses cross-origin PATCH and DELETE (Origin, Sec-Fetch-Site) and changes nothing', async () => {
    const id = await replay('Cross origin', 'public');
    for (const headers of [{ origin: 'http://evil.example' }, { 'sec-fetch-site': 'cross-site' }]) {
      for (const [method, body] of [['PATCH', { title: 'x' }], ['DELETE', undefined]] as const) {
        const got = (await answer(await call(method, `/api/replays/${id}`, 'owner', body, headers))) as { status: number; body: { error: { code: string } } };
        expect({ method, status: got.status, code: got.body.error.code }).toEqual({ method, status: 403, code: 'FORBIDDEN' });
      }
    }
    expect(await server.stores.broadcasts.get(id)).toMatchObject({ title: 'Cross origin' });
    // The service's own page may.
    expect((await call('DELETE', `/api/replays/${id}`, 'owner', undefined, { origin: server.url })).status).toBe(204);
  }, 60_000);

  it('deleting removes it from every list and its files at once; its links answer 410 (public: everyone; private: the owner) or the unknown id’s 404', async () => {
    const pub = await replay('Deleted public', 'public');
    const priv = await replay('Deleted private', 'private', ['ra_invitee']);
    const keep = await replay('Kept', 'public');
    for (const id of [pub, priv]) expect((await call('DELETE', `/api/replays/${id}`, 'owner')).status).toBe(204);

    const mine = (await (await call('GET', '/api/replays?scope=mine', 'owner')).json()) as ReplayList;
    expect(mine.replays.map((r) => r.id)).toContain(keep);
    for (const id of [pub, priv]) expect(mine.replays.map((r) => r.id)).not.toContain(id);
    const pubList = (await (await call('GET', '/api/replays?scope=public', 'anonymous')).json()) as ReplayList;
    expect(pubList.replays.map((r) => r.id)).not.toContain(pub);
    for (const id of [pub, priv]) {
      expect(existsSync(path.join(server.dataDir, 'replays', id))).toBe(false);
      expect(existsSync(path.join(server.dataDir, 'recordings', id))).toBe(false);
    }
    expect(existsSync(path.join(server.dataDir, 'replays', keep, 'replay.mp4'))).toBe(true);

    const links = (id: string) => [
      `/api/replays/${id}`,
      `/api/replays/${id}/poster.jpg`,
      `/api/replays/${id}/video.webm`,
      `/api/replays/${id}/replay.mp4`,
      `/api/replays/${id}/hls/index.m3u8`,
      `/api/replays/${id}/hls/seg-000.ts`,
      `/api/replays/${id}/download`,
      `/api/broadcasts/${id}`,
    ];
    const unknown = await answer(await call('GET', `/api/replays/${unknownId}`, 'anonymous'));
    const goneBody = { error: { code: 'REPLAY_DELETED', message: 'this replay was deleted by its owner' } };
    for (const role of ROLES) {
      for (const [id, visibleGone] of [[pub, true], [priv, role === 'owner']] as const) {
        for (const link of links(id)) {
          const got = await answer(await call('GET', link, role));
          // The live API knows broadcasts, not replays: a deleted one is unknown there.
          const want = link.startsWith('/api/broadcasts/') ? 404 : visibleGone ? 410 : 404;
          expect({ role, link, status: got.status }).toEqual({ role, link, status: want });
          if (want === 410) expect(got.body).toEqual(goneBody);
          else if (!link.startsWith('/api/broadcasts/')) expect(got.body).toEqual(link.endsWith(id) ? unknown.body : expect.objectContaining({ error: expect.objectContaining({ code: 'NOT_FOUND' }) }));
        }
        for (const method of ['PATCH', 'DELETE']) {
          const got = await call(method, `/api/replays/${id}`, role, method === 'PATCH' ? { title: 'x' } : undefined);
          expect({ role, method, status: got.status }).toEqual({ role, method, status: visibleGone ? 410 : 404 });
        }
      }
    }
    // A deleted private replay's files answer a stranger exactly as an unknown replay's files do.
    const strangerFile = await answer(await call('GET', `/api/replays/${priv}/poster.jpg`, 'stranger'));
    expect(strangerFile).toEqual(await answer(await call('GET', `/api/replays/${unknownId}/poster.jpg`, 'stranger')));

    // socket.io: joining a deleted broadcast answers as an unknown one, to every role.
    for (const role of ROLES) {
      const socket = await connect(server.url, role === 'anonymous' ? undefined : tokens[role]);
      sockets.push(socket);
      for (const id of [pub, priv]) {
        const joined = await request(socket, 'broadcast:join', { broadcastId: id, redirected: false });
        const never = await request(socket, 'broadcast:join', { broadcastId: unknownId, redirected: false });
        expect({ role, joined }).toEqual({ role, joined: never });
      }
    }
  }, 90_000);
});
