import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IceServerSchema, type TransportOptions } from '../../../common/protocol/media.ts';
import { TurnCredentials } from '../../../signaling/live/TurnCredentials.ts';
import { Coturn } from '../../helpers/coturn.ts';
import { createLogSink, type LogSink } from '../../helpers/logSink.ts';
import { connect, ok, request, signUp, startTestServer, type ClientSocket, type TestServer } from '../../../testkit/server.ts';
import { freePort } from '../../../testkit/supervisor.ts';
import { turnAllocate } from '../../helpers/turnAllocate.ts';

const TTL_SECONDS = 600;

/**
 * `transport:create` hands out TURN servers with TURN REST API credentials when, and only
 * when, the node has TURN configured; a real coturn with the same `static-auth-secret`
 * accepts them while they are valid and refuses them once expired or tampered with.
 */
describe('TURN credentials with every WebRTC transport', () => {
  const secret = randomBytes(24).toString('hex');
  let withTurn: TestServer;
  let withoutTurn: TestServer;
  let coturn: Coturn;
  let logs: LogSink;
  const sockets: ClientSocket[] = [];
  const open = async (server: TestServer, token?: string) => {
    const s = await connect(server.url, token);
    sockets.push(s);
    return s;
  };

  beforeAll(async () => {
    const port = await freePort();
    const relayBase = randomInt(50_000, 59_000);
    coturn = await Coturn.start({ address: '127.0.0.1', port, secret, realm: 'turn.spyglass.test', relayPorts: [relayBase, relayBase + 100], allowedPeers: [] });
    logs = createLogSink('debug');
    withTurn = await startTestServer(
      { turn: { urls: [`turn:127.0.0.1:${port}?transport=udp`, 'turns:turn.example.org:443?transport=tcp'], secret, credentialTtlSeconds: TTL_SECONDS } },
      { logger: logs.logger },
    );
    withoutTurn = await startTestServer();
  }, 60_000);
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await withTurn?.stop();
    await withoutTurn?.stop();
    await coturn?.stop();
  });

  /** A broadcast of `username`'s on `server`, and the broadcaster's transport answer. */
  async function goLive(server: TestServer, username: string, visibility: 'public' | 'private' = 'public') {
    const auth = await signUp(server.url, username);
    const socket = await open(server, auth.token);
    const { broadcast } = await ok(socket, 'broadcast:start', { title: `${username} live`, visibility, invitees: [] });
    return { auth, broadcast, transport: await ok(socket, 'transport:create', { broadcastId: broadcast.id }) };
  }

  function turnOf(t: Pick<TransportOptions, 'iceServers'>) {
    expect(t.iceServers).toHaveLength(1);
    const server = IceServerSchema.parse(t.iceServers![0]);
    const [, expiry, id] = /^(\d+):([A-Za-z0-9_-]{16})$/.exec(server.username) ?? [];
    expect(id, server.username).toBeDefined();
    return { ...server, expiry: Number(expiry) };
  }

  it('gives the broadcaster and each joined viewer TURN servers with credentials of their own', async () => {
    const before = Math.floor(Date.now() / 1000);
    const live = await goLive(withTurn, 'turn_caster');
    const caster = turnOf(live.transport);
    expect(caster.urls).toEqual([expect.stringMatching(/^turn:127\.0\.0\.1:\d+\?transport=udp$/), 'turns:turn.example.org:443?transport=tcp']);
    // The TURN REST API credential, computed here independently: base64(HMAC-SHA1(secret, username)).
    expect(caster.credential).toBe(createHmac('sha1', secret).update(caster.username).digest('base64'));
    // Valid for the configured lifetime from now.
    expect(caster.expiry).toBeGreaterThanOrEqual(before + TTL_SECONDS);
    expect(caster.expiry).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + TTL_SECONDS);
    // Nothing in it names the user.
    expect(caster.username).not.toContain(live.auth.user.id);
    expect(caster.username.toLowerCase()).not.toContain('turn_caster');
    expect(live.transport.iceTransportPolicy).toBeUndefined();

    const viewer = await open(withTurn);
    await ok(viewer, 'broadcast:join', { broadcastId: live.broadcast.id });
    const watching = turnOf(await ok(viewer, 'transport:create', { broadcastId: live.broadcast.id }));
    expect(watching.username).not.toBe(caster.username);
    expect(watching.credential).toBe(createHmac('sha1', secret).update(watching.username).digest('base64'));
    // A join that brings its transport (`transport: true`) gets TURN servers of its own with it.
    const joinedWith = turnOf((await ok(await open(withTurn), 'broadcast:join', { broadcastId: live.broadcast.id, transport: true })).transport!);
    expect(joinedWith.username).not.toBe(watching.username);
    expect(joinedWith.credential).toBe(createHmac('sha1', secret).update(joinedWith.username).digest('base64'));

    // coturn, with the same static-auth-secret, allocates a relay for both.
    for (const c of [caster, watching]) {
      const allocated = await turnAllocate({ host: '127.0.0.1', port: coturn.options.port, username: c.username, password: c.credential });
      expect(allocated, JSON.stringify(allocated)).toMatchObject({ ok: true, relayed: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    }
  });

  it('gives none to a client that may not create the transport', async () => {
    const pub = await goLive(withTurn, 'turn_public');
    const priv = await goLive(withTurn, 'turn_private', 'private');
    const stranger = await open(withTurn, (await signUp(withTurn.url, 'turn_stranger')).token);
    // Not joined: refused, without credentials.
    const notJoined = await request(stranger, 'transport:create', { broadcastId: pub.broadcast.id });
    expect(notJoined).toEqual({ ok: false, error: { code: 'NOT_JOINED', message: expect.any(String) } });
    // A private broadcast it may not see: NOT_FOUND, as for an unknown id.
    const hidden = await request(stranger, 'transport:create', { broadcastId: priv.broadcast.id });
    expect(hidden).toEqual({ ok: false, error: { code: 'NOT_FOUND', message: 'broadcast not found' } });
    // Nor through a join that asks for its transport.
    expect(await request(stranger, 'broadcast:join', { broadcastId: priv.broadcast.id, transport: true })).toEqual(hidden);
  });

  it('never logs the credentials or the secret', async () => {
    const live = await goLive(withTurn, 'turn_logged');
    const { credential } = turnOf(live.transport);
    expect(logs.entries.length).toBeGreaterThan(0);
    const text = JSON.stringify(logs.entries);
    expect(text).not.toContain(credential);
    expect(text).not.toContain(secret);
  });

  it('answers without TURN on a node that has none configured', async () => {
    const live = await goLive(withoutTurn, 'no_turn_caster');
    expect(live.transport.iceCandidates.length).toBeGreaterThan(0);
    expect('iceServers' in live.transport).toBe(false);
    expect('iceTransportPolicy' in live.transport).toBe(false);
    const joined = await ok(await open(withoutTurn), 'broadcast:join', { broadcastId: live.broadcast.id, transport: true });
    expect(joined.transport?.iceCandidates.length).toBeGreaterThan(0);
    expect('iceServers' in joined.transport!).toBe(false);
  });

  it('coturn accepts a credential until it expires, and refuses it after, or tampered with', async () => {
    const now = Date.now();
    const issuedAt = (msAgo: number) =>
      turnOf(new TurnCredentials({ urls: ['turn:127.0.0.1'], secret, ttlSeconds: TTL_SECONDS, forceRelay: false, clock: () => now - msAgo }).grant());
    const allocate = (c: { username: string; credential: string }) => turnAllocate({ host: '127.0.0.1', port: coturn.options.port, username: c.username, password: c.credential });

    // Issued 9 min 50 s ago with a 10 min lifetime: still valid.
    expect(await allocate(issuedAt((TTL_SECONDS - 10) * 1000))).toMatchObject({ ok: true });
    // Issued 10 min 10 s ago: expired.
    expect(await allocate(issuedAt((TTL_SECONDS + 10) * 1000))).toMatchObject({ ok: false, code: 401 });
    // A valid username with a credential from another secret, and a username whose expiry was moved.
    const fresh = issuedAt(0);
    expect(await allocate({ username: fresh.username, credential: createHmac('sha1', 'another-secret-altogether').update(fresh.username).digest('base64') })).toMatchObject({ ok: false, code: 401 });
    const moved = fresh.username.replace(/^\d+/, (e) => String(Number(e) + 86_400));
    expect(await allocate({ username: moved, credential: fresh.credential })).toMatchObject({ ok: false, code: 401 });
  });
});
