import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import { S3Storage } from '../../../common/storage/S3Storage.ts';
import { manifestSha256 } from '../../helpers/archiveChecksum.ts';
import { rgwStorage, rgwStorageEnv, startRgw, type Rgw } from '../../helpers/rgw.ts';
import { connect, nextEvent, ok, signUp, startTestServer, type ClientSocket, type TestServer } from '../../../testkit/server.ts';
import { spawnWorkers, type WorkersProcess } from '../../../testkit/workers.ts';
import { writeRun } from '../workers/mediaFixtures.ts';

/**
 * The whole service with its files in S3 (Ceph RGW): a replay is served from the bucket with
 * Range, the archive job reads the replay from the bucket and stores the zip there, and the
 * zip downloads with Range. Nothing of either is on a node's data directory.
 */
describe('the service on S3 storage (Ceph RGW)', () => {
  let rgw: Rgw;
  let bucket: S3Storage;
  let server: TestServer;
  let workers: WorkersProcess;
  let owner: Awaited<ReturnType<typeof signUp>>;
  let socket: ClientSocket;
  let broadcastId: BroadcastId;
  let mp4: Buffer;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'spyglass-s3-service-'));

  beforeAll(async () => {
    rgw = await startRgw();
    const storage = rgwStorage(rgw, 'spyglass-service', 'it');
    server = await startTestServer({ storage });
    bucket = new S3Storage({ ...storage });
    owner = await signUp(server.url, 's3owner');
    socket = await connect(server.url, owner.token);
    const { broadcast } = await ok(socket, 'broadcast:start', { title: 'In the bucket', visibility: 'public', invitees: [] });
    broadcastId = broadcast.id;
    await ok(socket, 'broadcast:stop', { broadcastId });
    // The replay as the finalize job leaves it, put straight into the bucket.
    const ff = (...args: string[]) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { cwd: tmp });
    ff('-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30', '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', 'replay.mp4');
    ff('-f', 'lavfi', '-i', 'testsrc2=size=320x180', '-frames:v', '1', 'poster.jpg');
    mp4 = readFileSync(path.join(tmp, 'replay.mp4'));
    await bucket.writeFile(`replays/${broadcastId}/replay.mp4`, mp4);
    await bucket.writeFile(`replays/${broadcastId}/poster.jpg`, readFileSync(path.join(tmp, 'poster.jpg')));
    const applied = await server.stores.replays.applyOutput(broadcastId, 'ready', {
      durationMs: 2000,
      width: 320,
      height: 180,
      timeline: [{ offsetMs: 0, mediaStartMs: 0, durationMs: 2000 }],
      poster: 'poster.jpg',
      webm: null,
      videoMp4: null,
      hls: null,
      mp4: { name: 'replay.mp4', sizeBytes: mp4.length, sha256: createHash('sha256').update(mp4).digest('hex') },
    });
    expect(applied).toBe(true);
    // The workers start only now: the finalize job of that media-less broadcast, queued at its
    // stop, would otherwise race this hand-made replay and mark it failed first.
    workers = await spawnWorkers(server.config, rgwStorageEnv(rgw, 'spyglass-service', 'it'));
  }, 180_000);
  afterAll(async () => {
    socket?.close();
    await workers?.stop();
    await server?.stop();
    bucket?.close();
    await rgw?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('serves the replay from the bucket, with Range', async () => {
    const full = await fetch(`${server.url}/api/replays/${broadcastId}/download`, { headers: { authorization: `Bearer ${owner.token}` } });
    expect(full.status).toBe(200);
    expect(Buffer.compare(Buffer.from(await full.arrayBuffer()), mp4)).toBe(0);
    const part = await fetch(`${server.url}/api/replays/${broadcastId}/download`, { headers: { authorization: `Bearer ${owner.token}`, range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(Buffer.compare(Buffer.from(await part.arrayBuffer()), mp4.subarray(100, 200))).toBe(0);
  });

  it('streams a Range from the bucket: only those bytes are read, nothing is downloaded to a local file', async () => {
    // The server runs in this process: its S3Storage is this class.
    const localFile = vi.spyOn(S3Storage.prototype, 'localFile');
    const reads = vi.spyOn(S3Storage.prototype, 'createReadStream');
    try {
      const url = `${server.url}/api/replays/${broadcastId}/download`;
      const auth = { authorization: `Bearer ${owner.token}` };
      const part = await fetch(url, { headers: { ...auth, range: 'bytes=1000-1999' } });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes 1000-1999/${mp4.length}`);
      expect(part.headers.get('content-length')).toBe('1000');
      expect(Buffer.compare(Buffer.from(await part.arrayBuffer()), mp4.subarray(1000, 2000))).toBe(0);
      expect(reads.mock.calls).toEqual([[`replays/${broadcastId}/replay.mp4`, { start: 1000, end: 1999 }]]);

      const suffix = await fetch(url, { headers: { ...auth, range: 'bytes=-10' } });
      expect(suffix.status).toBe(206);
      expect(Buffer.compare(Buffer.from(await suffix.arrayBuffer()), mp4.subarray(mp4.length - 10))).toBe(0);

      for (const range of [`bytes=${mp4.length}-`, `bytes=${mp4.length + 5}-${mp4.length + 9}`]) {
        const unsatisfiable = await fetch(url, { headers: { ...auth, range } });
        expect(unsatisfiable.status, range).toBe(416);
        expect(unsatisfiable.headers.get('content-range'), range).toBe(`bytes */${mp4.length}`);
        expect(unsatisfiable.headers.get('content-disposition'), range).toBeNull();
        expect((await unsatisfiable.arrayBuffer()).byteLength, range).toBe(0);
      }
      // A malformed or foreign-unit range is ignored: the whole file.
      const malformed = await fetch(url, { headers: { ...auth, range: 'items=0-1' } });
      expect(malformed.status).toBe(200);
      expect((await malformed.arrayBuffer()).byteLength).toBe(mp4.length);

      const head = await fetch(url, { method: 'HEAD', headers: auth });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(mp4.length));
      expect(head.headers.get('accept-ranges')).toBe('bytes');
      const etag = head.headers.get('etag');
      expect(etag).toMatch(/^W\/"[0-9a-f]+-[0-9a-f]+"$/);
      // fetch adds Cache-Control: no-cache to conditional requests, which `fresh` honours: a raw request.
      const revalidated = await new Promise<number>((resolve, reject) => {
        const u = new URL(url);
        http.get({ hostname: u.hostname, port: u.port, path: u.pathname, headers: { ...auth, 'if-none-match': etag! } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        }).on('error', reject);
      });
      expect(revalidated).toBe(304);
      expect(localFile).not.toHaveBeenCalled();
    } finally {
      localFile.mockRestore();
      reads.mockRestore();
    }
  });

  it('the finalize job stores the replay it assembles in the bucket', async () => {
    const { broadcast } = await ok(socket, 'broadcast:start', { title: 'Recorded into the bucket', visibility: 'public', invitees: [] });
    const id = broadcast.id;
    // What the recorder leaves in the bucket: one run of segments (made here, then stored).
    const runDir = await writeRun(path.join(tmp, 'recordings', id), 'r0000000000000-s3', 0, { seconds: 3 });
    for (const file of readdirSync(runDir)) await bucket.putFile(`recordings/${id}/r0000000000000-s3/${file}`, path.join(runDir, file));
    await ok(socket, 'broadcast:stop', { broadcastId: id });
    await expect.poll(async () => (await server.stores.replays.get(id))?.state, { timeout: 90_000, interval: 500 }).toBe('ready');
    expect(await bucket.list(`replays/${id}`)).toEqual(expect.arrayContaining([`replays/${id}/poster.jpg`, `replays/${id}/replay.mp4`]));
    expect(existsSync(path.join(server.dataDir, 'replays', id))).toBe(false);
    // The segments are deleted once the replay is ready.
    await expect.poll(() => bucket.list(`recordings/${id}`), { timeout: 10_000 }).toEqual([]);
    const res = await fetch(`${server.url}/api/replays/${id}/download`, { headers: { authorization: `Bearer ${owner.token}`, range: 'bytes=0-3' } });
    expect(res.status).toBe(206);
    expect((await res.arrayBuffer()).byteLength).toBe(4);
  }, 120_000);

  it('builds the archive from the bucket into the bucket, and serves it with Range; nothing lands on the data directory', async () => {
    const ready = nextEvent(socket, 'archive:status', 90_000, (e) => e.archive.state === 'ready' || e.archive.state === 'failed');
    const res = await fetch(`${server.url}/api/archives`, { method: 'POST', headers: { authorization: `Bearer ${owner.token}` } });
    expect(res.status).toBe(202);
    const done = (await ready).archive;
    expect(done.state, JSON.stringify(done)).toBe('ready');
    expect(await bucket.list(`archives/${done.id}`)).toEqual([`archives/${done.id}/input.json`, `archives/${done.id}/spyglass-archive.zip`]);
    const localFile = vi.spyOn(S3Storage.prototype, 'localFile');
    let bytes: Buffer;
    try {
      const full = await fetch(`${server.url}${done.downloadUrl!}`);
      expect(full.status).toBe(200);
      bytes = Buffer.from(await full.arrayBuffer());
      const part = await fetch(`${server.url}${done.downloadUrl!}`, { headers: { range: 'bytes=10-99' } });
      expect(part.status).toBe(206);
      expect(Buffer.compare(Buffer.from(await part.arrayBuffer()), bytes.subarray(10, 100))).toBe(0);
      const unsatisfiable = await fetch(`${server.url}${done.downloadUrl!}`, { headers: { range: `bytes=${bytes.length}-` } });
      expect(unsatisfiable.status).toBe(416);
      expect(unsatisfiable.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
      // The node streamed the zip from the bucket (the workers process, which built it, is another process).
      expect(localFile).not.toHaveBeenCalled();
    } finally {
      localFile.mockRestore();
    }
    const zip = path.join(tmp, 'a.zip');
    writeFileSync(zip, bytes);
    execFileSync('unzip', ['-tq', zip]);
    expect(manifestSha256(zip)).toBe(done.sha256);
    expect(execFileSync('unzip', ['-Z1', zip]).toString()).toMatch(/replay\.mp4/);
    // (The finalize job, not moved to the storage yet, may leave an empty replays/<id>/ there.)
    expect(existsSync(path.join(server.dataDir, 'archives'))).toBe(false);
    expect(existsSync(path.join(server.dataDir, 'replays', broadcastId, 'replay.mp4'))).toBe(false);
  }, 120_000);
});
