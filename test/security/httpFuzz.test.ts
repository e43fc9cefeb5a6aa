import http from 'node:http';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import { fuzzParameters, hostileValue, mutate, mutation, trickyString, unicodeString, WireErrorSchema } from '../helpers/fuzz.ts';
import { createLogSink, type LogSink } from '../helpers/logSink.ts';
import { chromiumRecvonlyOffer } from '../fixtures/chromiumWhepOffer.ts';
import { connect, ok, signUp, startTestServer, type ClientSocket, type TestServer } from '../../testkit/server.ts';

/**
 * The HTTP fuzz: methods, paths (real ids, path and percent-encoding tricks, query strings),
 * JSON and non-JSON bodies, content types and encodings, huge bodies, from an anonymous
 * client, a signed-in stranger and the owner of a live broadcast. Never a 5xx; every 4xx under
 * /api is `{ error: { code, message } }` with a catalogued code; the server logs no error.
 *
 * Seeded like the socket.io fuzz: replay a failure with FUZZ_SEED / FUZZ_PATH; FUZZ_RUNS sets
 * the number of requests (default 1,500).
 */

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request with nothing normalised: the path, headers and body go out exactly as given. */
function rawRequest(base: string, o: { method: string; path: string; headers: Record<string, string>; body?: Buffer | undefined }): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method: o.method, path: o.path, headers: { ...o.headers, ...(o.body ? { 'content-length': String(o.body.length) } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${o.method} ${o.path} within 10 s`)));
    req.on('error', reject);
    req.end(o.body);
  });
}

const ACTORS = ['anonymous', 'stranger', 'owner'] as const;
type ActorName = (typeof ACTORS)[number];

/** Placeholders for ids known once the server runs. */
const LIVE = '{live}';
const ENDED = '{ended}';
const USER = '{user}';

/** Every /api route (and a few beside it), with the ids to put in them. */
const ROUTES = [
  '/api/auth/signup',
  '/api/auth/signin',
  '/api/auth/signout',
  '/api/auth/me',
  '/api/broadcasts',
  `/api/broadcasts/${LIVE}`,
  `/api/broadcasts/${ENDED}`,
  '/api/replays',
  '/api/replays?scope=mine&limit=5',
  `/api/replays/${ENDED}`,
  `/api/replays/${ENDED}/poster.jpg`,
  `/api/replays/${ENDED}/video.webm`,
  `/api/replays/${ENDED}/replay.mp4`,
  `/api/replays/${ENDED}/hls/index.m3u8`,
  `/api/replays/${ENDED}/hls/seg-000001.ts`,
  `/api/replays/${ENDED}/download`,
  '/api/archives',
  '/api/archives/latest',
  `/api/archives/a_AAAAAAAAAAAA/download?expires=9999999999&sig=abc`,
  '/api/sunset',
  '/api/admin/sunset',
  '/api/reports',
  '/api/admin/reports?state=resolved&limit=5',
  '/api/admin/reports/r_AAAAAAAAAAAA',
  '/api/admin/suspensions',
  `/api/admin/users/${USER}/suspension`,
  '/api/admin/audit',
  `/api/users/${USER}`,
  '/api/stream-keys',
  '/api/stream-keys/k_AAAAAAAAAAAA',
  '/whip',
  '/whip/AAAAAAAAAAAAAAAAAAAAAA',
  '/admin/queues',
  '/healthz',
  // WHEP (docs/ingest.md): SDP bodies, before the Origin check.
  `/whep/${LIVE}`,
  `/whep/${ENDED}`,
  `/whep/${LIVE}/AAAAAAAAAAAAAAAAAAAAAA`,
];

/** Ways to spell a path that a router, a static handler or a decoder may trip on. */
const pathTwist = fc.constantFrom(
  (p: string) => p,
  (p: string) => `${p}/`,
  (p: string) => p.toUpperCase(),
  (p: string) => p.replace('/api/', '//api//'),
  (p: string) => p.replace('/api/', '/api/./'),
  (p: string) => p.replace('/api/', '/api/x/../'),
  (p: string) => `${p}/%`,
  (p: string) => `${p}/%E0%A4%A`,
  (p: string) => `${p}/%00`,
  (p: string) => `${p}/..%2f..%2fetc%2fpasswd`,
  (p: string) => `${p}%2F..%2F..%2F`,
  (p: string) => `${p}/%C0%AE%C0%AE/`,
  (p: string) => `${p}?%=1`,
  (p: string) => `${p}?scope=%E0%A4%A&limit=%`,
  (p: string) => `${p}?limit[]=1&limit[]=2&scope[__proto__]=x`,
  (p: string) => `${p}?__proto__[admin]=1&constructor[prototype][x]=1`,
  (p: string) => `${p}?expires=NaN&sig=${'a'.repeat(5000)}`,
  (p: string) => `${p}?${'a=1&'.repeat(2000)}`,
  (p: string) => `${p}/${'a'.repeat(4000)}`,
  (p: string) => `${p}#frag`,
);

/** Path segments made of anything the URL grammar lets through (percent-encoded). */
const segment = fc.oneof(trickyString, unicodeString).map((s) => {
  try {
    return encodeURIComponent(s);
  } catch {
    // Lone surrogates cannot be percent-encoded: send their bytes as-is, escaped.
    return Buffer.from(s).toString('hex');
  }
});

const path = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...ROUTES), pathTwist).map(([p, twist]) => twist(p)) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...ROUTES), segment).map(([p, s]) => p.replace(/\{(live|ended|user)\}/, s).replace(/\/?$/, () => (p.includes('{') ? '' : `/${s}`))) },
  { weight: 1, arbitrary: fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/api/${s.join('/')}`) },
);

const method = fc.constantFrom('GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'SEARCH');

const validBodies = [
  { username: 'newuser', password: 'correct horse battery' },
  { username: 'owner', password: 'correct horse battery' },
  { username: 'owner', password: 'wrong wrong wrong' },
  { startsAt: new Date(Date.now() + 86_400_000).toISOString(), message: 'bye' },
  {},
];

const jsonBody = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...validBodies) },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...validBodies), fc.array(mutation(), { minLength: 1, maxLength: 3 })).map(([b, m]) => mutate(b, m)) },
  { weight: 3, arbitrary: hostileValue() },
);

type Body = { kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'raw'; bytes: Buffer } | { kind: 'huge'; bytes: number };

const body: fc.Arbitrary<Body> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 6, arbitrary: jsonBody.map((value) => ({ kind: 'json' as const, value })) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.constantFrom('{', '{"a":', 'null', '"str"', '[1,2', '\u0000', '{"__proto__":{"admin":true}}', 'username=owner&password=x', '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--'),
        // A WHEP player's offer, whole, cut short, with its MIDs and fingerprint mangled; a trickle fragment.
        fc.constantFrom(
          chromiumRecvonlyOffer,
          chromiumRecvonlyOffer.slice(0, 1200),
          chromiumRecvonlyOffer.replace(/a=mid:\d/g, `a=mid:${'x'.repeat(300)}`),
          chromiumRecvonlyOffer.replace(/a=fingerprint:[^\r]*/g, 'a=fingerprint:sha-256 zz'),
          'a=ice-ufrag:x\r\na=ice-pwd:y\r\n',
        ),
        fc.string({ unit: 'binary', maxLength: 64 }),
      )
      .map((s) => ({ kind: 'raw' as const, bytes: Buffer.from(s) })),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => ({ kind: 'raw' as const, bytes: Buffer.from(a) })) },
  { weight: 1, arbitrary: fc.constantFrom(16 * 1024 + 1, 200_000, 2_000_000).map((bytes) => ({ kind: 'huge' as const, bytes })) },
);

const contentType = fc.constantFrom(
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/json; charset=utf-7',
  'application/json; charset=latin1',
  'application/json; charset=bogus',
  'application/JSON',
  'application/merge-patch+json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'text/plain',
  'text/html',
  '',
  'application/json; foo="',
  '*/*',
  'application/sdp',
  'application/trickle-ice-sdpfrag',
);
const contentEncoding = fc.constantFrom(undefined, undefined, undefined, 'gzip', 'deflate', 'br', 'identity', 'gzip, gzip', 'bogus', 'GZIP');
const extraHeaders = fc.record(
  {
    accept: fc.constantFrom('application/json', 'text/html', '*/*', 'image/*', ''),
    // 'self' is the service's own origin (filled in when sent), so that state-changing requests
    // from a page of the service get past the origin check and reach the routes behind it.
    origin: fc.constantFrom('self', 'self', 'http://evil.example', 'null', 'http://127.0.0.1:1'),
    'x-forwarded-for': fc.constantFrom('1.2.3.4', 'garbage', '::1, 10.0.0.1'),
    range: fc.constantFrom('bytes=0-1', 'bytes=5-1', 'bytes=-0', 'bytes=0-1,2-3,4-5', 'items=0-1', 'bytes=99999999999999999999-'),
    'if-none-match': fc.constantFrom('*', '"x"'),
    authorization: fc.constantFrom('Bearer ', 'Bearer garbage', 'Basic Zm9vOmJhcg==', 'Bearer ' + 'a'.repeat(4000)),
    cookie: fc.constantFrom('spyglass_session=', 'spyglass_session=%E0%A4%A', 'spyglass_session=x; spyglass_session=y', '=;;=', 'a'.repeat(4000)),
  },
  { requiredKeys: [] },
);

interface HttpAction {
  actor: ActorName;
  auth: 'bearer' | 'cookie';
  method: string;
  path: string;
  body: Body;
  contentType: string;
  encoding: string | undefined;
  compress: boolean;
  headers: Record<string, string>;
}

const action: fc.Arbitrary<HttpAction> = fc.record({
  actor: fc.constantFrom(...ACTORS),
  auth: fc.constantFrom('bearer' as const, 'cookie' as const),
  method,
  path,
  body,
  contentType,
  encoding: contentEncoding,
  compress: fc.boolean(),
  headers: extraHeaders,
});

describe('HTTP fuzz: hostile requests to /api from anonymous, a stranger and the owner', () => {
  let server: TestServer;
  let sink: LogSink;
  let broadcaster: ClientSocket;
  let liveId: BroadcastId;
  let endedId: BroadcastId;
  let ownerId: string;
  const tokens: Partial<Record<ActorName, string>> = {};
  const outcomes = new Map<string, number>();

  beforeAll(async () => {
    sink = createLogSink('error');
    server = await startTestServer({}, { logger: sink.logger });
    const owner = await signUp(server.url, 'owner');
    const stranger = await signUp(server.url, 'stranger');
    tokens.owner = owner.token;
    tokens.stranger = stranger.token;
    ownerId = owner.user.id;
    broadcaster = await connect(server.url, owner.token);
    endedId = (await ok(broadcaster, 'broadcast:start', { title: 'earlier', visibility: 'private', invitees: ['stranger'] })).broadcast.id;
    await ok(broadcaster, 'broadcast:stop', { broadcastId: endedId });
    liveId = (await ok(broadcaster, 'broadcast:start', { title: 'on air', visibility: 'public', invitees: [] })).broadcast.id;
  });
  afterAll(async () => {
    broadcaster?.disconnect();
    await server?.stop();
  });

  function build(a: HttpAction): { method: string; path: string; headers: Record<string, string>; body?: Buffer } {
    const headers: Record<string, string> = { ...a.headers };
    if (headers.origin === 'self') headers.origin = new URL(server.url).origin;
    const token = tokens[a.actor];
    // The owner and the stranger never sign out for real: their sessions carry the rest of the run.
    const signsOut = /signout/i.test(a.path);
    if (token && !signsOut) {
      if (a.auth === 'bearer') headers.authorization = `Bearer ${token}`;
      else headers.cookie = `spyglass_session=${token}`;
    }
    const path = a.path.replaceAll(LIVE, liveId).replaceAll(ENDED, endedId).replaceAll(USER, ownerId);
    let bytes: Buffer | undefined;
    if (a.body.kind === 'json') bytes = Buffer.from(JSON.stringify(a.body.value) ?? 'undefined');
    else if (a.body.kind === 'raw') bytes = a.body.bytes;
    else if (a.body.kind === 'huge') bytes = Buffer.from(JSON.stringify({ username: 'x'.repeat(a.body.bytes), password: 'y' }));
    if (bytes && a.method !== 'GET' && a.method !== 'HEAD') {
      if (a.contentType) headers['content-type'] = a.contentType;
      if (a.encoding) {
        headers['content-encoding'] = a.encoding;
        if (a.compress && a.encoding.toLowerCase() === 'gzip') bytes = zlib.gzipSync(bytes);
        if (a.compress && a.encoding === 'deflate') bytes = zlib.deflateSync(bytes);
      }
      return { method: a.method, path, headers, body: bytes };
    }
    return { method: a.method, path, headers };
  }

  /** Sends one request and checks the answer. */
  async function check(a: HttpAction): Promise<void> {
    const req = build(a);
    const res = await rawRequest(server.url, req);
    const what = `${req.method} ${req.path.slice(0, 120)} → ${res.status}`;
    outcomes.set(`${res.status}`, (outcomes.get(`${res.status}`) ?? 0) + 1);
    expect(res.status, `${what}: ${res.body.toString('utf8', 0, 300)}`).toBeLessThan(500);
    // What express routes as /api (it matches case-insensitively, and `//api//x` is a page path); /whep's errors are JSON too.
    const underApi = /^\/(api|whep)(\/|\?|$)/i.test(req.path);
    if (res.status >= 400 && underApi && req.method !== 'HEAD') {
      expect(String(res.headers['content-type']), what).toMatch(/^application\/json/);
      let parsed: unknown;
      try {
        parsed = JSON.parse(res.body.toString('utf8'));
      } catch {
        throw new Error(`${what}: body is not JSON: ${res.body.toString('utf8', 0, 200)}`);
      }
      const shape = WireErrorSchema.safeParse((parsed as { error?: unknown }).error);
      if (!shape.success || Object.keys(parsed as object).length !== 1) {
        throw new Error(`${what}: not { error: { code, message } } with a catalogued code: ${res.body.toString('utf8', 0, 300)}`);
      }
    }
  }

  it('never answers 5xx, always a catalogued JSON error on 4xx, and logs no error', async () => {
    const params = fuzzParameters<[HttpAction[]]>(500);
    let requests = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 5 }), async (actions) => {
        for (const a of actions) {
          requests++;
          await check(a);
        }
        expect(sink.errors(), 'errors logged by the server').toEqual([]);
      }),
      params,
    );
    console.info(`HTTP fuzz: ${requests} requests, seed ${params.seed}; statuses ${[...outcomes].sort().map(([k, n]) => `${k}×${n}`).join(' ')}`);
    if (params.numRuns >= 500) expect(requests).toBeGreaterThan(1000);
  }, 120_000);

  // Found by this fuzz (seed 1): express's, its router's and body-parser's client errors were
  // answered 500 INTERNAL (and logged as server errors); requests no route took got express's
  // HTML 404 page.
  it.each([
    ['a JSON body in an unsupported charset', 415, 'UNSUPPORTED_MEDIA_TYPE', 'POST', '/api/auth/signin', { 'content-type': 'application/json; charset=latin1' }, '{}'],
    ['an unknown content encoding', 415, 'UNSUPPORTED_MEDIA_TYPE', 'POST', '/api/auth/signin', { 'content-type': 'application/json', 'content-encoding': 'bogus' }, '{}'],
    ['a gzip body that is not gzip', 400, 'BAD_REQUEST', 'POST', '/api/auth/signin', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, '{}'],
    ['malformed percent-encoding in a path parameter', 400, 'BAD_REQUEST', 'GET', '/api/broadcasts/%E0%A4%A', {}, undefined],
    ['a method no route takes', 404, 'NOT_FOUND', 'PROPFIND', '/api/auth/signin', {}, undefined],
    ['a path no route takes', 404, 'NOT_FOUND', 'POST', '//api//auth/signin', {}, undefined],
  ] as const)('regression: %s → %i %s, logged as no error', async (_label, status, code, method, path, headers, payload) => {
    sink.clear();
    const res = await rawRequest(server.url, { method, path, headers: { ...headers }, body: payload === undefined ? undefined : Buffer.from(payload) });
    expect(res.status).toBe(status);
    expect(JSON.parse(res.body.toString('utf8'))).toMatchObject({ error: { code, message: expect.any(String) } });
    expect(sink.errors()).toEqual([]);
  });

  it('still serves afterwards: the owner is signed in and the live broadcast is listed', async () => {
    const me = await fetch(`${server.url}/api/auth/me`, { headers: { authorization: `Bearer ${tokens.owner}` } });
    expect(me.status).toBe(200);
    const list = (await (await fetch(`${server.url}/api/broadcasts`)).json()) as { broadcasts: { id: string }[] };
    expect(list.broadcasts.map((b) => b.id)).toContain(liveId);
    expect(sink.errors()).toEqual([]);
  });
});
