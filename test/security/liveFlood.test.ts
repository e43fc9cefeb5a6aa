import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastList } from '../../common/protocol/events.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import { SESSION_TTL_MS } from '../../signaling/http/auth.ts';
import { hashPassword } from '../../signaling/store/passwords.ts';
import { createTestDatabase, type TestDatabase } from '../../testkit/postgres.ts';
import { audioRtpParameters, clientDtlsParameters } from '../fixtures/rtp.ts';
import { connect, nextEvent, ok, request, startTestServer, type ClientSocket, type TestServer } from '../../testkit/server.ts';

/** Users made straight in the store (one password hash for all): the attack is going live, not signing up. */
async function makeUsers(server: TestServer, names: string[]): Promise<Map<string, { id: string; token: string }>> {
  const hash = await hashPassword('correct horse battery');
  const out = new Map<string, { id: string; token: string }>();
  for (const name of names) {
    const user = await server.stores.users.create(name, hash);
    out.set(name, { id: user.id, token: await server.stores.sessions.create(user.id, SESSION_TTL_MS) });
  }
  return out;
}

async function list(server: TestServer, token?: string, query = ''): Promise<BroadcastList> {
  const res = await fetch(`${server.url}/api/broadcasts${query}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  expect(res.status).toBe(200);
  return (await res.json()) as BroadcastList;
}

/** Follows `nextCursor` to the end; returns every id in order. */
async function walk(server: TestServer, token: string | undefined, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: BroadcastList = await list(server, token, `?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.broadcasts.length).toBeLessThanOrEqual(limit);
    ids.push(...page.broadcasts.map((b) => b.id));
    cursor = page.nextCursor;
    pages++;
  } while (cursor);
  return { ids, pages };
}

/**
 * 100 throwaway accounts going live privately (no media) emptied the home page: the route
 * took the 100 newest live broadcasts, then filtered them by visibility in JS.
 */
describe.each(['sqlite', 'postgres'] as const)('private broadcasts cannot crowd public ones out of the list (%s)', (dialect) => {
  let server: TestServer;
  let pg: TestDatabase | undefined;
  const sockets: ClientSocket[] = [];
  let users: Map<string, { id: string; token: string }>;
  let publicId: BroadcastId;
  const privateIds: BroadcastId[] = [];
  /** Private broadcasts that invite "invitee": every third one. */
  const invitedIds: BroadcastId[] = [];

  beforeAll(async () => {
    if (dialect === 'postgres') pg = await createTestDatabase();
    server = await startTestServer({
      ...(pg ? { databaseUrl: pg.url } : {}),
      recording: { enabled: false },
      live: { noMediaTimeoutSeconds: 600 },
      limits: { connectionsPerAddress: 500, goLivesPerAddress: 500 },
    });
    const throwaway = Array.from({ length: 100 }, (_, i) => `throwaway${i}`);
    users = await makeUsers(server, ['publisher', 'stranger', 'invitee', ...throwaway]);
    const pub = await connect(server.url, users.get('publisher')!.token);
    sockets.push(pub);
    publicId = (await ok(pub, 'broadcast:start', { title: 'the public one', visibility: 'public' })).broadcast.id;
    // Then the flood: 100 private broadcasts, all newer than the public one, none sending media.
    for (const [i, name] of throwaway.entries()) {
      const s = await connect(server.url, users.get(name)!.token);
      sockets.push(s);
      const invitees = i % 3 === 0 ? ['invitee'] : [];
      const { broadcast } = await ok(s, 'broadcast:start', { title: `private ${i}`, visibility: 'private', invitees });
      privateIds.push(broadcast.id);
      if (invitees.length > 0) invitedIds.push(broadcast.id);
    }
  });

  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await server?.stop();
    await pg?.drop();
  });

  it('an anonymous caller and a signed-in stranger see the public broadcast', async () => {
    expect((await list(server)).broadcasts.map((b) => b.id)).toEqual([publicId]);
    expect((await list(server, users.get('stranger')!.token)).broadcasts.map((b) => b.id)).toEqual([publicId]);
    expect((await list(server)).nextCursor).toBeNull();
  });

  it('an invitee sees the private broadcasts they are invited to, newest first, and the public one', async () => {
    const expected = [...invitedIds].reverse().slice(0, 20);
    const first = await list(server, users.get('invitee')!.token);
    expect(first.broadcasts.map((b) => b.id)).toEqual(expected);
    expect(first.nextCursor).not.toBeNull();
  });

  it('a broadcaster sees their own private broadcast', async () => {
    const all = await walk(server, users.get('throwaway1')!.token, 100);
    expect(all.ids).toEqual([privateIds[1], publicId]);
  });

  it('paging walks every visible broadcast exactly once, in order', async () => {
    const visible = [...invitedIds].reverse().concat(publicId);
    expect(visible).toHaveLength(35);
    for (const limit of [1, 7, 35, 100]) {
      const { ids, pages } = await walk(server, users.get('invitee')!.token, limit);
      expect(ids).toEqual(visible);
      expect(pages).toBe(Math.ceil(35 / limit));
    }
  });

  it('refuses a bad limit or cursor with VALIDATION_FAILED', async () => {
    for (const q of ['?limit=0', '?limit=101', '?limit=abc', '?cursor=nope!', `?cursor=${Buffer.from('12.x').toString('base64url')}`]) {
      const res = await fetch(`${server.url}/api/broadcasts${q}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
    }
  });
});

describe('a broadcast that never sends media ends', () => {
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  let users: Map<string, { id: string; token: string }>;

  beforeAll(async () => {
    server = await startTestServer({ recording: { enabled: false }, live: { noMediaTimeoutSeconds: 1 } });
    users = await makeUsers(server, ['quiet', 'fakeproducer', 'viewer']);
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await server?.stop();
  });

  const open = async (name: string) => {
    const s = await connect(server.url, users.get(name)!.token);
    sockets.push(s);
    return s;
  };

  it('with no producer: ends with "no-media" and tells the broadcaster and the viewers', async () => {
    const broadcaster = await open('quiet');
    const { broadcast } = await ok(broadcaster, 'broadcast:start', { title: 'silence', visibility: 'public' });
    const viewer = await open('viewer');
    await ok(viewer, 'broadcast:join', { broadcastId: broadcast.id });
    const toBroadcaster = nextEvent(broadcaster, 'broadcast:ended');
    const toViewer = nextEvent(viewer, 'broadcast:ended');
    expect(await toBroadcaster).toEqual({ broadcastId: broadcast.id, reason: 'no-media' });
    expect(await toViewer).toEqual({ broadcastId: broadcast.id, reason: 'no-media' });
    expect(await server.stores.broadcasts.get(broadcast.id)).toMatchObject({ status: 'ended', endReason: 'no-media' });
    expect((await fetch(`${server.url}/api/broadcasts`).then((r) => r.json())) as BroadcastList).toEqual({ broadcasts: [], nextCursor: null });
  });

  it('with a producer that never receives RTP: ends the same way', async () => {
    const s = await open('fakeproducer');
    const { broadcast } = await ok(s, 'broadcast:start', { title: 'a producer, no packets', visibility: 'private' });
    const transport = await ok(s, 'transport:create', { broadcastId: broadcast.id });
    await ok(s, 'transport:connect', { broadcastId: broadcast.id, transportId: transport.id, dtlsParameters: clientDtlsParameters });
    await ok(s, 'produce', { broadcastId: broadcast.id, transportId: transport.id, kind: 'audio', rtpParameters: audioRtpParameters });
    expect(await nextEvent(s, 'broadcast:ended')).toEqual({ broadcastId: broadcast.id, reason: 'no-media' });
    expect(await server.stores.broadcasts.get(broadcast.id)).toMatchObject({ status: 'ended', endReason: 'no-media' });
  });
});

describe('going live is rate-limited per user and per address', () => {
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  let users: Map<string, { id: string; token: string }>;

  beforeAll(async () => {
    server = await startTestServer({ recording: { enabled: false }, limits: { goLivesPerUser: 2, goLivesPerAddress: 3, goLiveWindowSeconds: 600 } });
    users = await makeUsers(server, ['eager', 'second', 'third']);
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await server?.stop();
  });

  it('refuses the go-live over the limit with RATE_LIMITED and stores no broadcast', async () => {
    const open = async (name: string) => {
      const s = await connect(server.url, users.get(name)!.token);
      sockets.push(s);
      return s;
    };
    const eager = await open('eager');
    for (let i = 0; i < 2; i++) {
      const { broadcast } = await ok(eager, 'broadcast:start', { title: `take ${i}` });
      await ok(eager, 'broadcast:stop', { broadcastId: broadcast.id });
    }
    const third = await request(eager, 'broadcast:start', { title: 'take 3' });
    expect(third.ok).toBe(false);
    if (!third.ok) {
      expect(third.error.code).toBe('RATE_LIMITED');
      expect(third.error.message).toMatch(/^you went live 2 times within 600 s; try again in \d+ s$/);
    }
    expect(await server.stores.broadcasts.listByOwner(users.get('eager')!.id as never)).toHaveLength(2);
    // The address (all of these come from 127.0.0.1) has one go-live left.
    expect((await request(await open('second'), 'broadcast:start', { title: 'second' })).ok).toBe(true);
    const overAddress = await request(await open('third'), 'broadcast:start', { title: 'third' });
    expect(overAddress).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });
    if (!overAddress.ok) expect(overAddress.error.message).toMatch(/^too many broadcasts were started from your address; try again in \d+ s$/);
    expect(await server.stores.broadcasts.listByOwner(users.get('third')!.id as never)).toEqual([]);
  });
});
