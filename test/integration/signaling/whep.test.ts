import { parse as parseSdp } from 'sdp-transform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import type { BroadcastRouterView } from '../../../sfu/BroadcastRouter.ts';
import { chromiumRecvonlyOffer } from '../../fixtures/chromiumWhepOffer.ts';
import { goLiveFake } from '../../helpers/fakePeers.ts';
import { connect, ok, signUp, startTestServer, type ClientSocket, type TestServer } from '../../../testkit/server.ts';

const UNKNOWN = 'b_doesnotexist0000000' as BroadcastId;
const NOT_FOUND = { error: { code: 'NOT_FOUND', message: 'broadcast not found' } };

interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

/** POSTs an offer to /whep/<id> (`token`: a bearer token; `init` overrides the rest). */
async function post(server: TestServer, id: string, o: { token?: string; cookie?: string; body?: string; type?: string; origin?: string } = {}): Promise<Answer> {
  const res = await fetch(`${server.url}/whep/${id}`, {
    method: 'POST',
    headers: {
      'content-type': o.type ?? 'application/sdp',
      ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
      ...(o.cookie ? { cookie: o.cookie } : {}),
      ...(o.origin ? { origin: o.origin } : {}),
    },
    body: o.body ?? chromiumRecvonlyOffer,
  });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

async function del(server: TestServer, location: string): Promise<number> {
  return (await fetch(`${server.url}${location}`, { method: 'DELETE' })).status;
}

async function patch(server: TestServer, location: string, body: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${server.url}${location}`, { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag', ...headers }, body });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** The offer with `n` media sections (all audio, recvonly, bundled). */
function offerWithSections(n: number): string {
  const head = chromiumRecvonlyOffer.slice(0, chromiumRecvonlyOffer.indexOf('m=audio'));
  const audio = chromiumRecvonlyOffer.slice(chromiumRecvonlyOffer.indexOf('m=audio'), chromiumRecvonlyOffer.indexOf('m=video'));
  const mids = Array.from({ length: n }, (_, i) => String(i));
  return head.replace('a=group:BUNDLE 0 1', `a=group:BUNDLE ${mids.join(' ')}`) + mids.map((m) => audio.replace('a=mid:0', `a=mid:${m}`)).join('');
}

/**
 * `POST /whep/<broadcast id>` and its session over HTTP on a real server (mediasoup, SQLite,
 * Redis): who may watch (as `broadcast:join`), every error path, the viewer count, PATCH and
 * DELETE. Broadcasters are fake (producers, no RTP); no player connects, so DTLS never does.
 */
describe('WHEP over HTTP', () => {
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  const tokens = {} as Record<'owner' | 'invitee' | 'stranger' | 'publisher', string>;
  let inviteeCookie = '';
  const ids = {} as Record<'publicLive' | 'privateLive' | 'publicEnded' | 'privateEnded' | 'silent', BroadcastId>;

  beforeAll(async () => {
    server = await startTestServer({ recording: { enabled: false } });
    for (const name of ['owner', 'invitee', 'stranger', 'publisher'] as const) {
      const signedUp = await signUp(server.url, `whep_${name}`);
      tokens[name] = signedUp.token;
      if (name === 'invitee') inviteeCookie = signedUp.cookie;
    }
    const open = async (token: string) => {
      const s = await connect(server.url, token);
      sockets.push(s);
      return s;
    };
    const owner = await open(tokens.owner);
    const publisher = await open(tokens.publisher);
    ids.privateEnded = (await goLiveFake(owner, 'private, over', { visibility: 'private', invitees: ['whep_invitee'] })).id;
    await ok(owner, 'broadcast:stop', { broadcastId: ids.privateEnded });
    ids.privateLive = (await goLiveFake(owner, 'private', { visibility: 'private', invitees: ['whep_invitee'] })).id;
    ids.publicEnded = (await goLiveFake(publisher, 'public, over')).id;
    await ok(publisher, 'broadcast:stop', { broadcastId: ids.publicEnded });
    ids.publicLive = (await goLiveFake(publisher, 'public')).id;
    // Live, but nothing produced yet.
    const silent = await open(tokens.stranger);
    ids.silent = (await ok(silent, 'broadcast:start', { title: 'silent', visibility: 'public', invitees: [] })).broadcast.id;
  });

  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await server?.stop();
  });

  it('anonymous on a public broadcast: 201, an answer per the offer, a Location and an ETag; counted until DELETE', async () => {
    const res = await post(server, ids.publicLive);
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/sdp/);
    const location = res.headers.get('location') ?? '';
    expect(location).toMatch(new RegExp(`^/whep/${ids.publicLive}/[A-Za-z0-9_-]{22}$`));
    expect(res.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(res.headers.get('accept-patch')).toBe('application/trickle-ice-sdpfrag');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const answer = parseSdp(res.body);
    const offer = parseSdp(chromiumRecvonlyOffer);
    expect(answer.icelite).toBe('ice-lite');
    expect(answer.groups).toEqual([{ type: 'BUNDLE', mids: '0 1' }]);
    expect(answer.media.map((m) => [m.type, String(m.mid), m.direction, m.setup])).toEqual([
      ['audio', '0', 'sendonly', 'passive'],
      ['video', '1', 'sendonly', 'passive'],
    ]);
    for (const [i, m] of answer.media.entries()) {
      // The player's own payload types, for the codec the player gave each.
      const offered = new Map((offer.media[i]?.rtp ?? []).map((r) => [r.payload, r.codec.toLowerCase()]));
      expect(m.rtp.length).toBeGreaterThan(0);
      for (const r of m.rtp) expect(offered.get(r.payload)).toBe(r.codec.toLowerCase());
      expect(m.ssrcs?.some((s) => s.attribute === 'cname')).toBe(true);
      expect(m.candidates?.length).toBeGreaterThan(0);
      expect(m.fingerprint?.type).toBe('sha-256');
    }
    expect(answer.media[0]?.rtp.map((r) => r.codec)).toEqual(['opus']);
    expect(answer.media[1]?.rtp.map((r) => r.codec)).toEqual(['VP8']);
    expect(server.live.viewerCount(ids.publicLive)).toBe(1);
    expect(await del(server, location)).toBe(200);
    expect(server.live.viewerCount(ids.publicLive)).toBe(0);
    expect(await del(server, location)).toBe(404);
  });

  it('simulcast: the player’s video consumer is a simulcast consumer starting at the top layer, on an edge of the player’s numbering shared by players alike', async () => {
    const media = server.live.onAir(ids.publicLive)?.media;
    if (!media) throw new Error('the broadcast is not on air');
    const consumers: Array<{ kind: string; type: string; preferredLayers: unknown; payloadType: number | undefined }> = [];
    const routers: string[] = [];
    const watch = (view: BroadcastRouterView) => {
      routers.push(view.router.id);
      view.router.observer.on('newtransport', (t) =>
        t.observer.on('newconsumer', (c) => consumers.push({ kind: c.kind, type: c.type, preferredLayers: c.preferredLayers, payloadType: c.rtpParameters.codecs[0]?.payloadType })),
      );
    };
    media.observer.on('newrouter', watch);
    const edgesBefore = media.edgeCount;
    const first = await post(server, ids.publicLive);
    const second = await post(server, ids.publicLive);
    expect([first.status, second.status]).toEqual([201, 201]);
    // One edge for both (the same numbering), none of the origin's viewers' routers.
    expect(media.edgeCount).toBe(edgesBefore + 1);
    expect(routers).toHaveLength(1);
    expect(consumers.filter((c) => c.kind === 'video')).toEqual([
      { kind: 'video', type: 'simulcast', preferredLayers: { spatialLayer: 2, temporalLayer: 2 }, payloadType: 96 },
      { kind: 'video', type: 'simulcast', preferredLayers: { spatialLayer: 2, temporalLayer: 2 }, payloadType: 96 },
    ]);
    expect(consumers.filter((c) => c.kind === 'audio').map((c) => c.payloadType)).toEqual([111, 111]);
    for (const r of [first, second]) expect(await del(server, r.headers.get('location') ?? '')).toBe(200);
    // The edge closes with its last viewer.
    expect(media.edgeCount).toBe(edgesBefore);
  });

  it('a private broadcast: the owner and an invitee play; anonymous, a stranger and a wrong token get the unknown id’s 404', async () => {
    const unknown = await post(server, UNKNOWN);
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toEqual(NOT_FOUND);
    for (const token of [undefined, tokens.stranger, 'not-a-token', `${tokens.invitee.slice(0, -2)}xx`]) {
      const res = await post(server, ids.privateLive, token === undefined ? {} : { token });
      expect([res.status, res.body]).toEqual([404, unknown.body]);
    }
    // The session cookie is never read here (docs/security.md): only the bearer token authorises.
    expect(inviteeCookie).toMatch(/^spyglass_session=./);
    const byCookie = await post(server, ids.privateLive, { cookie: inviteeCookie });
    expect([byCookie.status, byCookie.body]).toEqual([404, unknown.body]);
    const invitee = await post(server, ids.privateLive, { token: tokens.invitee });
    expect(invitee.status).toBe(201);
    expect(server.live.viewerCount(ids.privateLive)).toBe(1);
    const owner = await post(server, ids.privateLive, { token: tokens.owner });
    expect(owner.status).toBe(201);
    // The broadcaster watching their own broadcast is not an audience.
    expect(server.live.viewerCount(ids.privateLive)).toBe(1);
    for (const r of [invitee, owner]) expect(await del(server, r.headers.get('location') ?? '')).toBe(200);
    expect(server.live.viewerCount(ids.privateLive)).toBe(0);
  });

  it('ended broadcasts: 410 to whoever may see them, the unknown id’s 404 to the rest; a malformed id is unknown', async () => {
    const unknown = await post(server, UNKNOWN);
    expect((await post(server, ids.publicEnded)).status).toBe(410);
    expect((await post(server, ids.privateEnded, { token: tokens.invitee })).status).toBe(410);
    for (const token of [undefined, tokens.stranger]) {
      const res = await post(server, ids.privateEnded, token === undefined ? {} : { token });
      expect([res.status, res.body]).toEqual([404, unknown.body]);
    }
    const malformed = await post(server, 'nope');
    expect([malformed.status, malformed.body]).toEqual([404, unknown.body]);
  });

  it('bad input: wrong type 415, malformed SDP 400, 1 MB 413, 50 sections 400, no media yet 503', async () => {
    const wrongType = await post(server, ids.publicLive, { type: 'application/json', body: '{}' });
    expect(wrongType.status).toBe(415);
    expect(JSON.parse(wrongType.body)).toMatchObject({ error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Content-Type must be application/sdp' } });
    const malformed = await post(server, ids.publicLive, { body: 'hello, this is not SDP' });
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body)).toMatchObject({ error: { code: 'VALIDATION_FAILED', message: expect.stringMatching(/^SDP offer: not an SDP/) as unknown } });
    const noBundle = await post(server, ids.publicLive, { body: chromiumRecvonlyOffer.replace('a=group:BUNDLE 0 1\r\n', '') });
    expect(noBundle.status).toBe(400);
    expect(noBundle.body).toContain('no BUNDLE group');
    const huge = await post(server, ids.publicLive, { body: `v=0\r\n${'a=x\r\n'.repeat(210_000)}` });
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.body)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    const fifty = await post(server, ids.publicLive, { body: offerWithSections(50) });
    expect(fifty.status).toBe(400);
    expect(JSON.parse(fifty.body)).toMatchObject({ error: { message: 'SDP offer: 50 media sections; at most 16' } });
    const silent = await post(server, ids.silent);
    expect(silent.status).toBe(503);
    expect(silent.headers.get('retry-after')).toBe('5');
    // Nothing was left behind by any of them.
    expect(server.live.viewerCount(ids.publicLive)).toBe(0);
    expect(server.live.viewerCount(ids.silent)).toBe(0);
    expect(server.live.viewersHere()).toEqual([]);
  });

  it('CORS: the preflight, and a POST from another origin is served (no cookie, no Origin check)', async () => {
    const pre = await fetch(`${server.url}/whep/${ids.publicLive}`, {
      method: 'OPTIONS',
      headers: { origin: 'https://player.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS');
    expect(pre.headers.get('access-control-allow-headers')).toBe('Authorization, Content-Type, If-Match');
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull();
    const res = await post(server, ids.publicLive, { origin: 'https://player.example' });
    expect(res.status).toBe(201);
    expect(res.headers.get('access-control-expose-headers')).toContain('Location');
    // An error carries CORS too, so the player can read it.
    const missing = await post(server, UNKNOWN, { origin: 'https://player.example' });
    expect(missing.headers.get('access-control-allow-origin')).toBe('*');
    expect(await del(server, res.headers.get('location') ?? '')).toBe(200);
  });

  it('PATCH: trickle 204, ICE restart 200 with new credentials and ETag (If-Match required, a stale one 412)', async () => {
    const res = await post(server, ids.publicLive);
    const location = res.headers.get('location') ?? '';
    const etag = res.headers.get('etag') ?? '';
    const ufrag = parseSdp(res.body).media[0]?.iceUfrag;
    const trickle = await patch(server, location, 'a=mid:0\r\na=candidate:1 1 udp 2113937151 192.0.2.1 50000 typ host\r\n');
    expect(trickle.status).toBe(204);
    expect((await patch(server, location, 'a=candidate:1', { 'content-type': 'text/plain' })).status).toBe(415);
    // Not a fragment, and a restart with malformed credentials: 400 as WHIP answers it, nothing restarted.
    const malformed = await patch(server, location, 'hello\r\n');
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body)).toMatchObject({ error: { code: 'BAD_REQUEST', message: expect.stringMatching(/not an SDP fragment/) as unknown } });
    const badCredentials = await patch(server, location, 'a=ice-ufrag:abcd\r\na=ice-pwd:short\r\n', { 'if-match': etag });
    expect(badCredentials.status).toBe(400);
    expect(JSON.parse(badCredentials.body)).toMatchObject({ error: { code: 'BAD_REQUEST', message: expect.stringMatching(/malformed/) as unknown } });
    const restartBody = 'a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n';
    expect((await patch(server, location, restartBody)).status).toBe(428);
    expect((await patch(server, location, restartBody, { 'if-match': '"stale"' })).status).toBe(412);
    const restart = await patch(server, location, restartBody, { 'if-match': etag });
    expect(restart.status).toBe(200);
    expect(restart.headers.get('content-type')).toMatch(/^application\/trickle-ice-sdpfrag/);
    const newEtag = restart.headers.get('etag');
    expect(newEtag).not.toBe(etag);
    const newUfrag = /a=ice-ufrag:(\S+)/.exec(restart.body)?.[1];
    expect(newUfrag).toBeDefined();
    expect(newUfrag).not.toBe(ufrag);
    expect(restart.body).toMatch(/a=candidate:/);
    expect((await patch(server, location, restartBody, { 'if-match': etag })).status).toBe(412);
    expect((await patch(server, location, restartBody, { 'if-match': '*' })).status).toBe(200);
    expect(await del(server, location)).toBe(200);
    expect((await patch(server, location, 'a=candidate:1')).status).toBe(404);
  });

  it('a block ends the blocked user’s session and hides the broadcast from them; signing out ends the session it authorised', async () => {
    const res = await post(server, ids.publicLive, { token: tokens.stranger });
    expect(res.status).toBe(201);
    expect(server.live.viewerCount(ids.publicLive)).toBe(1);
    const block = await fetch(`${server.url}/api/blocks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.publisher}` },
      body: JSON.stringify({ username: 'whep_stranger' }),
    });
    expect(block.status).toBe(201);
    await expect.poll(() => server.live.viewerCount(ids.publicLive)).toBe(0);
    expect(await del(server, res.headers.get('location') ?? '')).toBe(404);
    const again = await post(server, ids.publicLive, { token: tokens.stranger });
    expect([again.status, again.body]).toEqual([404, (await post(server, UNKNOWN)).body]);

    const signedIn = await signUp(server.url, 'whep_leaver');
    const session = await post(server, ids.publicLive, { token: signedIn.token });
    expect(session.status).toBe(201);
    expect(server.live.viewerCount(ids.publicLive)).toBe(1);
    expect((await fetch(`${server.url}/api/auth/signout`, { method: 'POST', headers: { authorization: `Bearer ${signedIn.token}` } })).status).toBe(204);
    await expect.poll(() => server.live.viewerCount(ids.publicLive)).toBe(0);
    expect(await del(server, session.headers.get('location') ?? '')).toBe(404);
  });
});

describe('WHEP limits', () => {
  let server: TestServer;
  let socket: ClientSocket | undefined;
  let id: BroadcastId;

  beforeAll(async () => {
    server = await startTestServer({
      recording: { enabled: false },
      ingest: { whep: { maxSessions: 1, postsPerAddress: 4, windowSeconds: 3600, connectTimeoutSeconds: 1 } },
    });
    const { token } = await signUp(server.url, 'whep_limits');
    socket = await connect(server.url, token);
    id = (await goLiveFake(socket, 'limited')).id;
  });
  afterAll(async () => {
    socket?.disconnect();
    await server?.stop();
  });

  it('503 when the node serves its maximum; a player that never connects is ended (and uncounted); 429 past the per-address limit', async () => {
    const first = await post(server, id);
    expect(first.status).toBe(201);
    expect(server.live.viewerCount(id)).toBe(1);
    const full = await post(server, id);
    expect(full.status).toBe(503);
    expect(full.headers.get('retry-after')).toBe('5');
    expect(JSON.parse(full.body)).toMatchObject({ error: { code: 'UNAVAILABLE' } });
    // Nobody connects to the first session's transport: it ends after connectTimeoutSeconds.
    await expect.poll(() => server.live.viewerCount(id), { timeout: 10_000 }).toBe(0);
    expect(await del(server, first.headers.get('location') ?? '')).toBe(404);
    const third = await post(server, id);
    expect(third.status).toBe(201);
    expect(await del(server, third.headers.get('location') ?? '')).toBe(200);
    const fourth = await post(server, id);
    expect(fourth.status).toBe(201);
    expect(await del(server, fourth.headers.get('location') ?? '')).toBe(200);
    const limited = await post(server, id);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(JSON.parse(limited.body)).toMatchObject({ error: { code: 'RATE_LIMITED' } });
  });
});
