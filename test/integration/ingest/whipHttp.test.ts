import { parse } from 'sdp-transform';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UserId } from '../../../common/protocol/ids.ts';
import { connect, ok, signUp, startTestServer, type TestServer } from '../../../testkit/server.ts';
import { chromiumVp8SimulcastOffer, obs30H264OpusOffer } from '../../fixtures/whipOffers.ts';

/**
 * WHIP over HTTP (signaling/ingest/whip/whipRouter.ts, RFC 9725) on the real server: every
 * error path and who may do what to a session, with the offers of test/fixtures/whipOffers.ts.
 * No encoder connects (the media path is test/e2e/whip.test.ts): a session here is a broadcast
 * whose transport waits for ICE.
 */
describe('WHIP over HTTP (real server, mediasoup)', () => {
  let server: TestServer;
  /** Session URLs opened by a test, with their key: DELETEd after it. */
  const opened: Array<{ url: string; secret: string }> = [];
  let people = 0;

  beforeAll(async () => {
    // A low per-key limit, so the 429 test reaches it; the address limit out of the way (every request is from 127.0.0.1).
    server = await startTestServer({ ingest: { opensPerKey: 3, opensPerAddress: 10_000 } });
  }, 120_000);
  afterEach(async () => {
    for (const s of opened.splice(0)) await fetch(s.url, { method: 'DELETE', headers: { authorization: `Bearer ${s.secret}` } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function person(): Promise<{ userId: UserId; token: string; secret: string; keyId: string }> {
    people += 1;
    const auth = await signUp(server.url, `whip_user${people}`);
    const { secret, key } = await server.stores.streamKeys.create(auth.user.id, { name: 'OBS', title: `whip ${people}`, visibility: 'public' });
    return { userId: auth.user.id, token: auth.token, secret, keyId: key.id };
  }

  function post(body: string, headers: Record<string, string>): Promise<Response> {
    return fetch(`${server.url}/whip`, { method: 'POST', headers, body });
  }

  /** POSTs an offer with `secret`; a 201's session is DELETEd after the test. */
  async function whip(secret: string, offer = obs30H264OpusOffer, extra: Record<string, string> = {}): Promise<Response> {
    const res = await post(offer, { authorization: `Bearer ${secret}`, 'content-type': 'application/sdp', ...extra });
    const location = res.headers.get('location');
    if (res.status === 201 && location) opened.push({ url: new URL(location, server.url).href, secret });
    return res;
  }

  async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
    const body = (await res.json()) as { error: { code: string; message: string } };
    return { status: res.status, ...body.error };
  }

  it('201: the answer, Location and ETag; the broadcast is live with the key’s title, from "whip"', async () => {
    const alice = await person();
    const res = await whip(alice.secret);
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/sdp/);
    expect(res.headers.get('location')).toMatch(/^\/whip\/[A-Za-z0-9_-]{22}$/);
    expect(res.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toContain('Location');
    const answer = parse(await res.text());
    expect(answer.icelite).toBe('ice-lite');
    expect(answer.media.map((m) => [m.type, String(m.payloads), m.direction, m.setup])).toEqual([
      ['audio', '111', 'recvonly', 'passive'],
      ['video', '96', 'recvonly', 'passive'],
    ]);
    const live = await server.stores.broadcasts.findLiveByOwner(alice.userId);
    expect(live?.title).toBe(`whip ${people}`);
    const summary = server.live.liveSummary(live!.id);
    expect(summary?.source).toBe('whip');
  });

  it('401 without a bearer (WWW-Authenticate: Bearer), with an unknown key and with a revoked one', async () => {
    const noKey = await post(obs30H264OpusOffer, { 'content-type': 'application/sdp' });
    expect(noKey.headers.get('www-authenticate')).toBe('Bearer');
    expect(await errorOf(noKey)).toEqual({ status: 401, code: 'UNAUTHENTICATED', message: 'a WHIP request needs the stream key as "Authorization: Bearer <stream key>"' });
    expect((await errorOf(await whip('sk_notakeyatallnotakeyatallnotakeyatallnotakey'))).status).toBe(401);
    const bob = await person();
    expect(await server.stores.streamKeys.revoke(bob.userId, bob.keyId)).toBe(true);
    const revoked = await errorOf(await whip(bob.secret));
    expect([revoked.status, revoked.code]).toEqual([401, 'UNAUTHENTICATED']);
    expect(await server.stores.broadcasts.findLiveByOwner(bob.userId)).toBeUndefined();
  });

  it('415 for a body that is not application/sdp; 400, 422 and 413 for offers it cannot take — and nothing goes live', async () => {
    const carol = await person();
    const json = await errorOf(await post('{}', { authorization: `Bearer ${carol.secret}`, 'content-type': 'application/json' }));
    expect([json.status, json.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    expect(await errorOf(await whip(carol.secret, 'hello'))).toEqual({ status: 400, code: 'BAD_REQUEST', message: 'the body is not an SDP offer (SDP starts with "v=0")' });
    const av1 = obs30H264OpusOffer.replace('a=rtpmap:96 H264/90000', 'a=rtpmap:96 AV1/90000').replace(/a=fmtp:96 [^\r]*\r\n/, '');
    const refused = await errorOf(await whip(carol.secret, av1));
    expect([refused.status, refused.code]).toEqual([422, 'UNSUPPORTED_OFFER']);
    expect(refused.message).toContain('offers AV1; the server receives video as VP8, H264');
    const video = obs30H264OpusOffer.slice(obs30H264OpusOffer.indexOf('m=video'));
    const fifty = await errorOf(await whip(carol.secret, obs30H264OpusOffer + video.repeat(48)));
    expect([fifty.status, fifty.message]).toEqual([422, 'the offer has 50 media sections; WHIP ingest takes one audio and one video section']);
    const huge = await errorOf(await whip(carol.secret, obs30H264OpusOffer + `a=x-pad:${'x'.repeat(1024 * 1024)}\r\n`));
    expect([huge.status, huge.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect(await server.stores.broadcasts.findLiveByOwner(carol.userId)).toBeUndefined();
  });

  it('409 ALREADY_LIVE for the key from a second encoder, and for its owner live from the go-live page', async () => {
    const dave = await person();
    expect((await whip(dave.secret)).status).toBe(201);
    const second = await errorOf(await whip(dave.secret));
    expect([second.status, second.code]).toEqual([409, 'ALREADY_LIVE']);

    const erin = await person();
    const socket = await connect(server.url, erin.token);
    try {
      await ok(socket, 'broadcast:start', { title: 'from the page', visibility: 'public' });
      const fromPage = await errorOf(await whip(erin.secret));
      expect([fromPage.status, fromPage.code]).toEqual([409, 'ALREADY_LIVE']);
    } finally {
      socket.disconnect();
    }
  });

  it('429 RATE_LIMITED with Retry-After once the key started ingest.opensPerKey times in the window', async () => {
    const frank = await person();
    for (let i = 0; i < 3; i++) {
      const res = await whip(frank.secret);
      expect(res.status).toBe(201);
      const s = opened.pop()!;
      expect((await fetch(s.url, { method: 'DELETE', headers: { authorization: `Bearer ${frank.secret}` } })).status).toBe(200);
    }
    const res = await whip(frank.secret);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const limited = await errorOf(res);
    expect([limited.status, limited.code]).toEqual([429, 'RATE_LIMITED']);
  });

  it('a session answers only to its key: none → 401, another user’s key → 404 as a session that does not exist', async () => {
    const grace = await person();
    const mallory = await person();
    const res = await whip(grace.secret);
    const url = new URL(res.headers.get('location')!, server.url).href;
    const missing = `${server.url}/whip/AAAAAAAAAAAAAAAAAAAAAA`;
    const frag = { 'content-type': 'application/trickle-ice-sdpfrag' };
    const body = 'a=ice-ufrag:K9nE\r\na=ice-pwd:h5XUnJ0Lx9WcP2q7Rz1bTs\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n';

    expect((await fetch(url, { method: 'DELETE' })).status).toBe(401);
    expect((await fetch(url, { method: 'PATCH', headers: frag, body })).status).toBe(401);
    const asMallory = { authorization: `Bearer ${mallory.secret}` };
    const wrongKey = await errorOf(await fetch(url, { method: 'DELETE', headers: asMallory }));
    const unknown = await errorOf(await fetch(missing, { method: 'DELETE', headers: asMallory }));
    expect(wrongKey).toEqual(unknown);
    expect(wrongKey).toEqual({ status: 404, code: 'NOT_FOUND', message: 'no such WHIP session' });
    expect(await errorOf(await fetch(url, { method: 'PATCH', headers: { ...frag, ...asMallory }, body }))).toEqual(unknown);
    // Still Grace's, still live.
    expect(await server.stores.broadcasts.findLiveByOwner(grace.userId)).toBeDefined();
  });

  it('PATCH: 415 for another type, 412 for a stale If-Match, 204 for trickle candidates, 200 + new credentials and ETag for an ICE restart', async () => {
    const heidi = await person();
    const res = await whip(heidi.secret, chromiumVp8SimulcastOffer);
    expect(res.status).toBe(201);
    const etag = res.headers.get('etag')!;
    const oldUfrag = String(parse(await res.text()).media[0]?.iceUfrag);
    const url = new URL(res.headers.get('location')!, server.url).href;
    const as = (type: string, more: Record<string, string> = {}) => ({ authorization: `Bearer ${heidi.secret}`, 'content-type': type, ...more });
    const trickle = 'm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 2122194687 192.0.2.2 47243 typ host\r\na=end-of-candidates\r\n';

    const sdp = await errorOf(await fetch(url, { method: 'PATCH', headers: as('application/sdp'), body: trickle }));
    expect([sdp.status, sdp.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const stale = await errorOf(await fetch(url, { method: 'PATCH', headers: as('application/trickle-ice-sdpfrag', { 'if-match': '"stale"' }), body: trickle }));
    expect([stale.status, stale.code]).toEqual([412, 'PRECONDITION_FAILED']);
    const trickled = await fetch(url, { method: 'PATCH', headers: as('application/trickle-ice-sdpfrag', { 'if-match': etag }), body: trickle });
    expect(trickled.status).toBe(204);

    const restart = `a=ice-ufrag:N3wU\r\na=ice-pwd:n3wpasswordn3wpassword12\r\n${trickle}`;
    const restarted = await fetch(url, { method: 'PATCH', headers: as('application/trickle-ice-sdpfrag', { 'if-match': '*' }), body: restart });
    expect(restarted.status).toBe(200);
    expect(restarted.headers.get('content-type')).toMatch(/^application\/trickle-ice-sdpfrag/);
    const newEtag = restarted.headers.get('etag');
    expect(newEtag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(newEtag).not.toBe(etag);
    const lines = (await restarted.text()).split('\r\n');
    expect(lines[0]).toBe('a=ice-lite');
    const ufrag = lines.find((l) => l.startsWith('a=ice-ufrag:'))?.slice('a=ice-ufrag:'.length);
    expect(ufrag).toBeDefined();
    expect(ufrag).not.toBe(oldUfrag);
    expect(lines).toContain('a=mid:0');
    expect(lines.some((l) => l.startsWith('a=candidate:'))).toBe(true);
    // The old ETag is stale now.
    expect((await fetch(url, { method: 'PATCH', headers: as('application/trickle-ice-sdpfrag', { 'if-match': etag }), body: trickle })).status).toBe(412);
  });

  it('DELETE: 200 and the broadcast has ended; the session is gone (404)', async () => {
    const ivan = await person();
    const res = await whip(ivan.secret);
    const url = new URL(res.headers.get('location')!, server.url).href;
    const id = (await server.stores.broadcasts.findLiveByOwner(ivan.userId))!.id;
    const auth = { authorization: `Bearer ${ivan.secret}` };
    expect((await fetch(url, { method: 'DELETE', headers: auth })).status).toBe(200);
    expect((await server.stores.broadcasts.get(id))?.status).toBe('ended');
    expect((await errorOf(await fetch(url, { method: 'DELETE', headers: auth }))).status).toBe(404);
  });

  it('a broadcast ended elsewhere (End on the go-live page) takes its WHIP session with it', async () => {
    const judy = await person();
    const res = await whip(judy.secret);
    const url = new URL(res.headers.get('location')!, server.url).href;
    const id = (await server.stores.broadcasts.findLiveByOwner(judy.userId))!.id;
    const socket = await connect(server.url, judy.token);
    try {
      await ok(socket, 'broadcast:stop', { broadcastId: id });
    } finally {
      socket.disconnect();
    }
    const auth = { authorization: `Bearer ${judy.secret}` };
    const deadline = Date.now() + 5_000;
    let status = 0;
    while (Date.now() < deadline && (status = (await fetch(url, { method: 'DELETE', headers: auth })).status) !== 404) await new Promise((r) => setTimeout(r, 50));
    expect(status).toBe(404);
  });

  it('OPTIONS: CORS preflight for any origin, Accept-Post and Accept-Patch; a POST from another origin is not refused', async () => {
    const pre = await fetch(`${server.url}/whip`, { method: 'OPTIONS', headers: { origin: 'https://encoder.example', 'access-control-request-method': 'POST' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS');
    expect(pre.headers.get('access-control-allow-headers')).toBe('Authorization, Content-Type, If-Match');
    expect(pre.headers.get('accept-post')).toBe('application/sdp');
    const session = await fetch(`${server.url}/whip/AAAAAAAAAAAAAAAAAAAAAA`, { method: 'OPTIONS' });
    expect([session.status, session.headers.get('accept-patch'), session.headers.get('access-control-allow-methods')]).toEqual([204, 'application/trickle-ice-sdpfrag', 'PATCH, DELETE, OPTIONS']);
    const kim = await person();
    const res = await whip(kim.secret, obs30H264OpusOffer, { origin: 'https://encoder.example' });
    expect(res.status).toBe(201);
  });

  // Last: it closes the server's media workers.
  it('503 UNAVAILABLE when no media worker can take the broadcast, and nothing stays live', async () => {
    const leo = await person();
    await server.pool.close();
    const res = await errorOf(await whip(leo.secret));
    expect([res.status, res.code]).toEqual([503, 'UNAVAILABLE']);
    expect(await server.stores.broadcasts.findLiveByOwner(leo.userId)).toBeUndefined();
  });
});
