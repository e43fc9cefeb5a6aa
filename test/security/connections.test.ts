import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connectSocket } from 'socket.io-client';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import { ok, signUp, startTestServer, type ClientSocket, type TestServer } from '../../testkit/server.ts';

/** Opens a socket; resolves with it, or with the connect_error message. */
function tryConnect(url: string, opts: { token?: string; forwardedFor?: string } = {}): Promise<ClientSocket | string> {
  const socket: ClientSocket = connectSocket(url, {
    transports: ['websocket'],
    auth: opts.token ? { token: opts.token } : {},
    reconnection: false,
    forceNew: true,
    ...(opts.forwardedFor ? { extraHeaders: { 'x-forwarded-for': opts.forwardedFor } } : {}),
  });
  return new Promise((resolve) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      resolve(err.message);
    });
  });
}

async function viewerCount(server: TestServer, id: BroadcastId): Promise<number> {
  const body = (await (await fetch(`${server.url}/api/broadcasts/${id}`)).json()) as { broadcast: { viewerCount: number } };
  return body.broadcast.viewerCount;
}

/** Polls until the count is `n` (pushes are coalesced; disconnects are noticed asynchronously). */
async function countBecomes(server: TestServer, id: BroadcastId, n: number): Promise<void> {
  for (let i = 0; i < 100 && (await viewerCount(server, id)) !== n; i++) await new Promise((r) => setTimeout(r, 50));
  expect(await viewerCount(server, id)).toBe(n);
}

/**
 * 200 anonymous sockets from one address joined one broadcast and showed 201 viewers. Now
 * connections per address are capped and the public count is distinct viewers.
 */
describe('connections per address and the viewer count', () => {
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  let broadcastId: BroadcastId;
  let owner: { token: string };

  const keep = (s: ClientSocket | string): ClientSocket => {
    if (typeof s === 'string') throw new Error(`could not connect: ${s}`);
    sockets.push(s);
    return s;
  };

  beforeAll(async () => {
    server = await startTestServer({ recording: { enabled: false }, limits: { connectionsPerAddress: 20 } });
    owner = await signUp(server.url, 'owner');
    const broadcaster = keep(await tryConnect(server.url, { token: owner.token }));
    broadcastId = (await ok(broadcaster, 'broadcast:start', { title: 'counted' })).broadcast.id;
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await server?.stop();
  });

  it('200 anonymous sockets from one address: only the cap connects, and they count as one viewer', async () => {
    const results = await Promise.all(Array.from({ length: 200 }, () => tryConnect(server.url)));
    const connected = results.filter((r): r is ClientSocket => typeof r !== 'string');
    const refused = results.filter((r): r is string => typeof r === 'string');
    // The broadcaster's socket holds one of the 20 slots.
    expect(connected).toHaveLength(19);
    expect(new Set(refused)).toEqual(new Set(['TOO_MANY_CONNECTIONS']));
    sockets.push(...connected);
    await Promise.all(connected.map((s) => ok(s, 'broadcast:join', { broadcastId })));
    await countBecomes(server, broadcastId, 1);
    // X-Forwarded-For is not believed without http.trustProxy.
    expect(await tryConnect(server.url, { forwardedFor: '203.0.113.9' })).toBe('TOO_MANY_CONNECTIONS');
    // Closing connections frees their slots.
    for (const s of connected) s.disconnect();
    await countBecomes(server, broadcastId, 0);
    let again: ClientSocket | string = 'TOO_MANY_CONNECTIONS';
    for (let i = 0; i < 100 && typeof again === 'string'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      again = await tryConnect(server.url);
    }
    keep(again).disconnect();
  });

  it('two signed-in users from one address count 2; one user in two tabs counts 1; the broadcaster is not counted', async () => {
    const a = await signUp(server.url, 'viewer-a');
    const b = await signUp(server.url, 'viewer-b');
    const a1 = keep(await tryConnect(server.url, { token: a.token }));
    const a2 = keep(await tryConnect(server.url, { token: a.token }));
    const b1 = keep(await tryConnect(server.url, { token: b.token }));
    await ok(a1, 'broadcast:join', { broadcastId });
    await ok(b1, 'broadcast:join', { broadcastId });
    await countBecomes(server, broadcastId, 2);
    await ok(a2, 'broadcast:join', { broadcastId });
    const ownerTab = keep(await tryConnect(server.url, { token: owner.token }));
    await ok(ownerTab, 'broadcast:join', { broadcastId });
    const anon = keep(await tryConnect(server.url));
    await ok(anon, 'broadcast:join', { broadcastId });
    await countBecomes(server, broadcastId, 3);
    // The user's first tab leaves: the second still watches.
    await ok(a1, 'broadcast:leave', { broadcastId });
    await countBecomes(server, broadcastId, 3);
    a2.disconnect();
    await countBecomes(server, broadcastId, 2);
  });
});

describe('behind a trusted proxy the cap is per X-Forwarded-For client', () => {
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  beforeAll(async () => {
    server = await startTestServer({ recording: { enabled: false }, http: { trustProxy: true }, limits: { connectionsPerAddress: 3 } });
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await server?.stop();
  });

  it('counts each forwarded client apart', async () => {
    const one = await Promise.all(Array.from({ length: 5 }, () => tryConnect(server.url, { forwardedFor: '198.51.100.1' })));
    const two = await Promise.all(Array.from({ length: 2 }, () => tryConnect(server.url, { forwardedFor: '198.51.100.2, 10.0.0.1' })));
    for (const s of [...one, ...two]) if (typeof s !== 'string') sockets.push(s);
    expect(one.filter((s) => typeof s !== 'string')).toHaveLength(3);
    expect(one.filter((s) => s === 'TOO_MANY_CONNECTIONS')).toHaveLength(2);
    expect(two.filter((s) => typeof s !== 'string')).toHaveLength(2);
  });

  it('a client cannot escape the cap by writing its own X-Forwarded-For: the proxy appends the address it saw', async () => {
    // nginx's $proxy_add_x_forwarded_for keeps what the client sent and appends the real address.
    const forged = await Promise.all(Array.from({ length: 5 }, (_, i) => tryConnect(server.url, { forwardedFor: `203.0.113.${i + 1}, 198.51.100.7` })));
    for (const s of forged) if (typeof s !== 'string') sockets.push(s);
    expect(forged.filter((s) => typeof s !== 'string')).toHaveLength(3);
    expect(forged.filter((s) => s === 'TOO_MANY_CONNECTIONS')).toHaveLength(2);
  });
});
