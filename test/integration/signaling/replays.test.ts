import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../common/logger.ts';
import { UserIdSchema, type BroadcastId } from '../../../common/protocol/ids.ts';
import type { ReplayDetail, ReplayList } from '../../../common/protocol/replays.ts';
import { openDatabase, type DatabaseHandle } from '../../../signaling/store/Database.ts';
import { createStores, type Stores } from '../../../signaling/store/index.ts';
import type { ReplayOutput } from '../../../common/jobs/results.ts';
import { connect, ok, signUp, startTestServer, type ClientSocket, type TestServer } from '../../../testkit/server.ts';

const run = promisify(execFile);

/** Two recorder runs: broadcast 0–3 s is video 0–3 s, broadcast 10–12 s is video 3–5 s. */
const TIMELINE = [
  { offsetMs: 0, mediaStartMs: 0, durationMs: 3000 },
  { offsetMs: 10_000, mediaStartMs: 3000, durationMs: 2000 },
];

/** Real media made once with ffmpeg: what a finalize job leaves in a replay directory. */
async function makeFixtures(dir: string): Promise<void> {
  const ff = (...args: string[]) => run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { cwd: dir, timeout: 60_000 });
  await ff(
    ...['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
    ...['-t', '2', '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', '25', '-c:a', 'aac', '-movflags', '+faststart', 'replay.mp4'],
  );
  await ff('-f', 'lavfi', '-i', 'testsrc2=size=320x240', '-frames:v', '1', 'poster.jpg');
  await ff('-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '1', '-c:v', 'libvpx', '-b:v', '300k', 'video.webm');
  // An H.264 replay's preview: H.264 and Opus in MP4.
  await ff(
    ...['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
    ...['-t', '1', '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-c:a', 'libopus', '-movflags', '+faststart', 'video.mp4'],
  );
  mkdirSync(path.join(dir, 'hls'));
  await ff(
    ...['-i', 'replay.mp4', '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_playlist_type', 'vod'],
    ...['-hls_segment_filename', 'hls/seg-%03d.ts', 'hls/index.m3u8'],
  );
}

/**
 * A request with exactly the path and headers given: fetch would normalise `..` and
 * `%2e%2e`, and adds `Cache-Control: no-cache` to conditional requests.
 */
function rawRequest(url: string, pathAndQuery: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: pathAndQuery, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('replay HTTP API (real server)', () => {
  let server: TestServer;
  let db: DatabaseHandle;
  /** The server's database through a second handle: stands in for the workers' results. */
  let stores: Stores;
  let fixtures: string;
  let mp4: Buffer;
  let mp4Sha256: string;
  const sockets: ClientSocket[] = [];

  const users = {} as Record<'alice' | 'bob' | 'carol' | 'dave', { token: string; id: string; cookie: string }>;
  /** alice's broadcasts: public ready, private ready (bob invited), public processing; dave's is live. */
  let pub: { id: BroadcastId; startedAt: string };
  let priv: { id: BroadcastId; startedAt: string };
  let processing: { id: BroadcastId; startedAt: string };
  let live: { id: BroadcastId; startedAt: string };

  const get = (p: string, init: RequestInit = {}) => fetch(`${server.url}${p}`, init);
  const as = (who: keyof typeof users, headers: Record<string, string> = {}): RequestInit => ({
    headers: { authorization: `Bearer ${users[who].token}`, ...headers },
  });

  async function broadcast(token: string, title: string, visibility: 'public' | 'private', invitees: string[] = [], stop = true) {
    const socket = await connect(server.url, token);
    sockets.push(socket);
    const { broadcast: b } = await ok(socket, 'broadcast:start', { title, visibility, invitees });
    await stores.replays.begin(b.id);
    if (stop) {
      await ok(socket, 'broadcast:stop', { broadcastId: b.id });
      await stores.replays.markProcessing(b.id);
    }
    return { id: b.id, startedAt: b.startedAt };
  }

  function output(over: Partial<ReplayOutput> = {}): ReplayOutput {
    return {
      durationMs: 5000,
      width: 320,
      height: 240,
      timeline: TIMELINE,
      poster: 'poster.jpg',
      webm: 'video.webm',
      videoMp4: null,
      hls: 'hls/index.m3u8',
      mp4: { name: 'replay.mp4', sizeBytes: mp4.length, sha256: mp4Sha256 },
      ...over,
    };
  }

  /** Writes the fixture files into the replay directory, as the finalize job does. */
  function writeFiles(id: BroadcastId): void {
    cpSync(fixtures, path.join(server.dataDir, 'replays', id), { recursive: true });
  }

  beforeAll(async () => {
    fixtures = mkdtempSync(path.join(os.tmpdir(), 'spyglass-replay-fixtures-'));
    await makeFixtures(fixtures);
    mp4 = readFileSync(path.join(fixtures, 'replay.mp4'));
    mp4Sha256 = createHash('sha256').update(mp4).digest('hex');

    // No workers (and no Redis) here: the test plays their part through the store.
    server = await startTestServer({ recording: { enabled: false } });
    db = await openDatabase({ sqlitePath: path.join(server.dataDir, 'spyglass.db'), logger: createLogger({ level: 'silent' }) });
    stores = createStores(db.db, 'unused-secret-0123456789');
    for (const name of ['alice', 'bob', 'carol', 'dave'] as const) {
      const a = await signUp(server.url, name);
      users[name] = { token: a.token, id: a.user.id, cookie: a.cookie };
    }

    pub = await broadcast(users.alice.token, 'Café — ünïcode 🎥 / test', 'public');
    writeFiles(pub.id);
    await stores.replays.applyOutput(pub.id, 'preview', output());
    await stores.replays.applyOutput(pub.id, 'ready', output());

    priv = await broadcast(users.alice.token, 'secret stream', 'private', ['bob']);
    writeFiles(priv.id);
    await stores.replays.applyOutput(priv.id, 'ready', output({ videoMp4: 'video.mp4' })); // every kind of file, for the privacy checks

    processing = await broadcast(users.alice.token, 'still processing', 'public');
    live = await broadcast(users.dave.token, 'on air', 'public', [], false);

    // Chat and hearts at known broadcast offsets (live chat gets wall-clock offsets).
    const alice = UserIdSchema.parse(users.alice.id);
    const bob = UserIdSchema.parse(users.bob.id);
    await stores.chat.add({ broadcastId: pub.id, userId: alice, text: 'in the first run', offsetMs: 1000 });
    await stores.chat.add({ broadcastId: pub.id, userId: bob, text: 'in the gap', offsetMs: 5000 });
    await stores.chat.add({ broadcastId: pub.id, userId: bob, text: 'in the second run', offsetMs: 11_500 });
    await stores.chat.addHearts(pub.id, 1500, 3);
    await stores.chat.addHearts(pub.id, 10_250, 7);
  }, 120_000);

  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await db?.close();
    await server?.stop();
    if (fixtures) rmSync(fixtures, { recursive: true, force: true });
  });

  describe('lists', () => {
    it('lists ready public replays, never private or unfinished ones', async () => {
      const res = await get('/api/replays?scope=public');
      expect(res.status).toBe(200);
      const { replays } = (await res.json()) as ReplayList;
      expect(replays.map((r) => r.id)).toEqual([pub.id]);
      expect(replays[0]).toEqual({
        id: pub.id,
        title: 'Café — ünïcode 🎥 / test',
        owner: { id: users.alice.id, username: 'alice' },
        visibility: 'public',
        state: 'ready',
        startedAt: pub.startedAt,
        endedAt: expect.any(String),
        durationMs: 5000,
        posterUrl: `/api/replays/${pub.id}/poster.jpg`,
      });
      // The default scope is public.
      expect(((await (await get('/api/replays')).json()) as ReplayList).replays.map((r) => r.id)).toEqual([pub.id]);
    });

    it('lists every own replay, newest first, only when signed in', async () => {
      const alice = (await (await get('/api/replays?scope=mine', as('alice'))).json()) as ReplayList;
      expect(alice.replays.map((r) => [r.id, r.state, r.visibility])).toEqual([
        [processing.id, 'processing', 'public'],
        [priv.id, 'ready', 'private'],
        [pub.id, 'ready', 'public'],
      ]);
      expect(alice.replays[0]?.posterUrl).toBeNull();
      const limited = (await (await get('/api/replays?scope=mine&limit=1', as('alice'))).json()) as ReplayList;
      expect(limited.replays.map((r) => r.id)).toEqual([processing.id]);
      // The cookie works as well as the bearer token.
      const byCookie = (await (await get('/api/replays?scope=mine', { headers: { cookie: users.alice.cookie } })).json()) as ReplayList;
      expect(byCookie.replays).toHaveLength(3);

      const dave = (await (await get('/api/replays?scope=mine', as('dave'))).json()) as ReplayList;
      expect(dave.replays.map((r) => [r.id, r.state, r.durationMs, r.endedAt])).toEqual([[live.id, 'recording', null, null]]);
      const bob = (await (await get('/api/replays?scope=mine', as('bob'))).json()) as ReplayList;
      expect(bob.replays).toEqual([]);

      const anon = await get('/api/replays?scope=mine');
      expect(anon.status).toBe(401);
      expect(((await anon.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
    });

    it.each([
      ['scope=everything', 'scope'],
      ['scope=public&scope=mine', 'scope'],
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=', 'limit'],
    ])('refuses ?%s with VALIDATION_FAILED naming %s', async (query, field) => {
      const res = await get(`/api/replays?${query}`);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('VALIDATION_FAILED');
      expect(body.error.message).toMatch(new RegExp(`^${field}: must be`));
    });
  });

  describe('detail', () => {
    it('describes a ready replay with sources, download, and chat and hearts on the video timeline', async () => {
      const res = await get(`/api/replays/${pub.id}`);
      expect(res.status).toBe(200);
      const d = (await res.json()) as ReplayDetail;
      const base = `/api/replays/${pub.id}`;
      const date = pub.startedAt.slice(0, 10);
      expect(d).toMatchObject({
        id: pub.id,
        title: 'Café — ünïcode 🎥 / test',
        owner: { id: users.alice.id, username: 'alice' },
        visibility: 'public',
        state: 'ready',
        reason: null,
        durationMs: 5000,
        posterUrl: `${base}/poster.jpg`,
        sources: { hls: `${base}/hls/index.m3u8`, mp4: `${base}/replay.mp4`, videoMp4: null, webm: `${base}/video.webm` },
        download: { url: `${base}/download`, fileName: `Café — ünïcode 🎥 test-${date}.mp4`, sizeBytes: mp4.length, sha256: mp4Sha256 },
      });
      expect(d.endedAt).not.toBeNull();
      expect(d.chat.map((m) => [m.text, m.user.username, m.offsetMs, m.atMs])).toEqual([
        ['in the first run', 'alice', 1000, 1000],
        // Moments between two runs show at the start of the next run.
        ['in the gap', 'bob', 5000, 3000],
        ['in the second run', 'bob', 11_500, 4500],
      ]);
      expect(d.hearts).toEqual([
        { atMs: 1500, count: 3 },
        { atMs: 3250, count: 7 },
      ]);
    });

    it('shows a processing replay without files, even when some are already on disk', async () => {
      const before = (await (await get(`/api/replays/${processing.id}`)).json()) as ReplayDetail;
      expect(before).toMatchObject({ state: 'processing', posterUrl: null, durationMs: null, sources: { hls: null, mp4: null, videoMp4: null, webm: null }, download: null });
      // Files the worker has not reported yet (half written, say) are not served.
      writeFiles(processing.id);
      for (const file of ['poster.jpg', 'video.webm', 'video.mp4', 'replay.mp4', 'download', 'hls/index.m3u8', 'hls/seg-000.ts']) {
        const res = await get(`/api/replays/${processing.id}/${file}`);
        expect(res.status, file).toBe(404);
        expect(await res.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'replay file not found' } });
      }

      // The preview makes the WebM and poster playable; the MP4 and HLS stay missing.
      await stores.replays.applyOutput(processing.id, 'preview', output());
      const preview = (await (await get(`/api/replays/${processing.id}`)).json()) as ReplayDetail;
      expect(preview).toMatchObject({
        state: 'processing',
        durationMs: 5000,
        posterUrl: `/api/replays/${processing.id}/poster.jpg`,
        sources: { hls: null, mp4: null, videoMp4: null, webm: `/api/replays/${processing.id}/video.webm` },
        download: null,
      });
      expect((await get(`/api/replays/${processing.id}/video.webm`)).status).toBe(200);
      // Only the file the worker reported: this preview was a WebM.
      expect((await get(`/api/replays/${processing.id}/video.mp4`)).status).toBe(404);
      expect((await get(`/api/replays/${processing.id}/replay.mp4`)).status).toBe(404);
      expect((await get(`/api/replays/${processing.id}/download`)).status).toBe(404);
      expect((await get(`/api/replays/${processing.id}/hls/index.m3u8`)).status).toBe(404);
    });

    it("shows an H.264 replay's preview, its MP4 with Opus (video.mp4), until the MP4 and HLS are ready", async () => {
      const b = await broadcast(users.carol.token, 'h264 preview', 'public');
      writeFiles(b.id);
      const base = `/api/replays/${b.id}`;
      await stores.replays.applyOutput(b.id, 'preview', output({ webm: null, videoMp4: 'video.mp4' }));
      const preview = (await (await get(base)).json()) as ReplayDetail;
      expect(preview).toMatchObject({ state: 'processing', sources: { hls: null, mp4: null, videoMp4: `${base}/video.mp4`, webm: null }, download: null });
      const res = await get(`${base}/video.mp4`, { headers: { Range: 'bytes=0-99' } });
      expect(res.status).toBe(206);
      expect(res.headers.get('content-type')).toBe('video/mp4');
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(path.join(fixtures, 'video.mp4')).subarray(0, 100))).toBe(true);
      for (const file of ['video.webm', 'replay.mp4', 'download']) expect((await get(`${base}/${file}`)).status, file).toBe(404);
      // Ready: the preview stays a source (a viewer may be playing it), below the MP4 and HLS.
      await stores.replays.applyOutput(b.id, 'ready', output({ webm: null, videoMp4: 'video.mp4' }));
      const ready = (await (await get(base)).json()) as ReplayDetail;
      expect(ready.sources).toEqual({ hls: `${base}/hls/index.m3u8`, mp4: `${base}/replay.mp4`, videoMp4: `${base}/video.mp4`, webm: null });
    });

    it('answers NOT_FOUND for a reported file that is missing on disk', async () => {
      const b = await broadcast(users.carol.token, 'files gone', 'public');
      await stores.replays.applyOutput(b.id, 'ready', output());
      expect(((await (await get(`/api/replays/${b.id}`)).json()) as ReplayDetail).sources.mp4).not.toBeNull();
      for (const file of ['poster.jpg', 'replay.mp4', 'download', 'hls/seg-000.ts']) {
        const res = await get(`/api/replays/${b.id}/${file}`);
        expect(res.status, file).toBe(404);
        expect(await res.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'replay file not found' } });
      }
    });

    it('shows the replay of a live broadcast as recording, without sources', async () => {
      const d = (await (await get(`/api/replays/${live.id}`)).json()) as ReplayDetail;
      expect(d).toMatchObject({ id: live.id, state: 'recording', endedAt: null, durationMs: null, posterUrl: null, download: null });
      expect(d.sources).toEqual({ hls: null, mp4: null, videoMp4: null, webm: null });
      expect((await get(`/api/replays/${live.id}/poster.jpg`)).status).toBe(404);

      // Even files reported while it is still on air are not shown before it ends.
      writeFiles(live.id);
      await stores.replays.applyOutput(live.id, 'preview', output());
      const early = (await (await get(`/api/replays/${live.id}`)).json()) as ReplayDetail;
      expect(early).toMatchObject({ state: 'recording', durationMs: null, posterUrl: null, download: null });
      expect(early.sources).toEqual({ hls: null, mp4: null, videoMp4: null, webm: null });
      for (const file of ['poster.jpg', 'video.webm']) expect((await get(`/api/replays/${live.id}/${file}`)).status, file).toBe(404);
    });

    it('shows why a replay failed', async () => {
      const b = await broadcast(users.carol.token, 'broken', 'public');
      await stores.replays.markFailed(b.id, 'no media was recorded');
      const d = (await (await get(`/api/replays/${b.id}`)).json()) as ReplayDetail;
      expect(d).toMatchObject({ state: 'failed', reason: 'no media was recorded', sources: { hls: null, mp4: null, videoMp4: null, webm: null }, download: null });
    });
  });

  describe('files', () => {
    it('serves each file with its content type', async () => {
      const base = `/api/replays/${pub.id}`;
      const cases: Array<[string, string, Buffer]> = [
        ['poster.jpg', 'image/jpeg', readFileSync(path.join(fixtures, 'poster.jpg'))],
        ['video.webm', 'video/webm', readFileSync(path.join(fixtures, 'video.webm'))],
        ['replay.mp4', 'video/mp4', mp4],
        ['hls/index.m3u8', 'application/vnd.apple.mpegurl', readFileSync(path.join(fixtures, 'hls', 'index.m3u8'))],
        ['hls/seg-000.ts', 'video/mp2t', readFileSync(path.join(fixtures, 'hls', 'seg-000.ts'))],
      ];
      for (const [file, type, bytes] of cases) {
        const res = await get(`${base}/${file}`);
        expect(res.status, file).toBe(200);
        expect(res.headers.get('content-type'), file).toBe(type);
        expect(res.headers.get('cache-control'), file).toBe('public, max-age=0');
        expect(res.headers.get('content-disposition'), file).toBeNull();
        expect(Buffer.from(await res.arrayBuffer()).equals(bytes), file).toBe(true);
      }
      // The playlist names its segments relative to itself, so they resolve under /hls/.
      expect(readFileSync(path.join(fixtures, 'hls', 'index.m3u8'), 'utf8')).toMatch(/^seg-000\.ts$/m);
      expect((await get(`${base}/hls/seg-999.ts`)).status).toBe(404);
    });

    it('downloads the MP4 as an attachment named after the title and date', async () => {
      const res = await get(`/api/replays/${pub.id}/download`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('video/mp4');
      expect(res.headers.get('content-length')).toBe(String(mp4.length));
      expect(res.headers.get('accept-ranges')).toBe('bytes');
      expect(res.headers.get('etag')).toBeTruthy();
      expect(res.headers.get('last-modified')).toBeTruthy();
      const body = Buffer.from(await res.arrayBuffer());
      expect(createHash('sha256').update(body).digest('hex')).toBe(mp4Sha256);

      const date = pub.startedAt.slice(0, 10);
      const cd = res.headers.get('content-disposition') ?? '';
      const ascii = /^attachment; filename="([^"]*)"; filename\*=UTF-8''([A-Za-z0-9%!#$&+.^_`|~-]+)$/.exec(cd);
      expect(ascii, cd).not.toBeNull();
      expect(ascii![1]).toBe(`Cafe unicode test-${date}.mp4`);
      expect(decodeURIComponent(ascii![2]!)).toBe(`Café — ünïcode 🎥 test-${date}.mp4`);

      // An ASCII title needs no filename*.
      const p = await get(`/api/replays/${priv.id}/download`, as('alice'));
      expect(p.headers.get('content-disposition')).toBe(`attachment; filename="secret stream-${priv.startedAt.slice(0, 10)}.mp4"`);
      await p.arrayBuffer();
    });

    it('answers Range requests with 206 and exactly the requested bytes', async () => {
      for (const url of [`/api/replays/${pub.id}/download`, `/api/replays/${pub.id}/replay.mp4`]) {
        const res = await get(url, { headers: { range: 'bytes=100-1099' } });
        expect(res.status).toBe(206);
        expect(res.headers.get('content-range')).toBe(`bytes 100-1099/${mp4.length}`);
        expect(res.headers.get('content-length')).toBe('1000');
        expect(Buffer.from(await res.arrayBuffer()).equals(mp4.subarray(100, 1100))).toBe(true);
      }

      const suffix = await get(`/api/replays/${pub.id}/download`, { headers: { range: 'bytes=-100' } });
      expect(suffix.status).toBe(206);
      expect(suffix.headers.get('content-range')).toBe(`bytes ${mp4.length - 100}-${mp4.length - 1}/${mp4.length}`);
      expect(Buffer.from(await suffix.arrayBuffer()).equals(mp4.subarray(mp4.length - 100))).toBe(true);

      const open = await get(`/api/replays/${pub.id}/replay.mp4`, { headers: { range: `bytes=${mp4.length - 10}-` } });
      expect(open.status).toBe(206);
      expect(Buffer.from(await open.arrayBuffer()).equals(mp4.subarray(mp4.length - 10))).toBe(true);
    });

    it('answers 416 for an unsatisfiable range', async () => {
      const res = await get(`/api/replays/${pub.id}/download`, { headers: { range: `bytes=${mp4.length}-` } });
      expect(res.status).toBe(416);
      expect(res.headers.get('content-range')).toBe(`bytes */${mp4.length}`);
      expect(res.headers.get('content-disposition')).toBeNull();
      expect((await res.arrayBuffer()).byteLength).toBe(0);
    });

    it('answers HEAD with the headers only, and revalidates by ETag', async () => {
      const head = await get(`/api/replays/${pub.id}/download`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(mp4.length));
      expect(head.headers.get('content-disposition')).toMatch(/^attachment; /);
      expect((await head.arrayBuffer()).byteLength).toBe(0);

      const etag = head.headers.get('etag')!;
      const again = await rawRequest(server.url, `/api/replays/${pub.id}/replay.mp4`, { 'if-none-match': etag });
      expect(again.status).toBe(304);
      expect(again.body.length).toBe(0);
      const changed = await rawRequest(server.url, `/api/replays/${pub.id}/replay.mp4`, { 'if-none-match': '"something-else"' });
      expect(changed.status).toBe(200);
      expect(changed.body.equals(mp4)).toBe(true);
    });
  });

  describe('privacy', () => {
    const notFoundBody = { error: { code: 'NOT_FOUND', message: 'replay not found' } };
    const paths = (id: string) => [
      `/api/replays/${id}`,
      `/api/replays/${id}/poster.jpg`,
      `/api/replays/${id}/video.webm`,
      `/api/replays/${id}/video.mp4`,
      `/api/replays/${id}/replay.mp4`,
      `/api/replays/${id}/download`,
      `/api/replays/${id}/hls/index.m3u8`,
      `/api/replays/${id}/hls/seg-000.ts`,
    ];

    it('shows a private replay and its files to the owner and invitees only', async () => {
      for (const who of ['alice', 'bob'] as const) {
        for (const p of paths(priv.id)) {
          const res = await get(p, as(who));
          expect(res.status, `${who} ${p}`).toBe(200);
          if (p !== `/api/replays/${priv.id}`) expect(res.headers.get('cache-control'), p).toBe('private, max-age=0');
          await res.arrayBuffer();
        }
      }
      const d = (await (await get(`/api/replays/${priv.id}`, as('bob'))).json()) as ReplayDetail;
      expect(d).toMatchObject({ visibility: 'private', state: 'ready' });
    });

    it('answers the same 404 to strangers and anonymous callers as for ids that do not exist or are malformed', async () => {
      const ids = [priv.id, 'b_doesnotexist000', 'nope', 'b_', 'b_short', '..%2f..%2fspyglass.db'];
      for (const init of [{}, as('carol')]) {
        for (const id of ids) {
          for (const p of paths(id)) {
            const res = await get(p, init);
            expect(res.status, p).toBe(404);
            expect(await res.json(), p).toEqual(notFoundBody);
          }
        }
      }
      const head = await get(`/api/replays/${priv.id}/download`, { method: 'HEAD' });
      expect(head.status).toBe(404);
    });

    it('serves no file outside the replay directory', async () => {
      const base = `/api/replays/${pub.id}`;
      const attempts = [
        `${base}/hls/..%2f..%2fspyglass.db`,
        `${base}/hls/..%2f..%2f..%2fspyglass.db`,
        `${base}/hls/%2e%2e%2f%2e%2e%2fspyglass.db`,
        `${base}/hls/..%5c..%5cspyglass.db`,
        `${base}/hls/../../spyglass.db`,
        `${base}/hls/index.m3u8%00`,
        `${base}/hls/seg-1.ts`,
        `${base}/hls/.index.m3u8`,
        `${base}/..%2fspyglass.db`,
        `/api/replays/..%2f..%2fspyglass.db/poster.jpg`,
        `/api/replays/../spyglass.db`,
      ];
      const db = readFileSync(path.join(server.dataDir, 'spyglass.db')).subarray(0, 16);
      expect(db.toString('latin1')).toMatch(/^SQLite format 3/);
      for (const p of attempts) {
        const res = await rawRequest(server.url, p);
        expect(res.status, p).toBe(404);
        expect(res.body.includes(db), p).toBe(false);
        expect(JSON.parse(res.body.toString('utf8')), p).toMatchObject({ error: { code: 'NOT_FOUND' } });
      }
      // The real file is still there, and served where it belongs.
      expect(statSync(path.join(server.dataDir, 'replays', pub.id, 'hls', 'index.m3u8')).isFile()).toBe(true);
      expect((await rawRequest(server.url, `${base}/hls/index.m3u8`)).status).toBe(200);
    });
  });
});
