import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Storage } from '../../../common/storage/S3Storage.ts';
import { freePort } from '../../../testkit/supervisor.ts';
import { startRgw, type Rgw } from '../../helpers/rgw.ts';
import { storageContract } from './storageContract.ts';

/**
 * The S3 implementation of the storage port against a real S3 server: Ceph RGW from Debian
 * (a single-node cluster of the test's own, scripts/start-rgw.sh), never a mock.
 */
let rgw: Rgw;
const BUCKET = 'spyglass-test';
const storages: S3Storage[] = [];
const s3 = (prefix: string, over: Partial<ConstructorParameters<typeof S3Storage>[0]> = {}) => {
  const s = new S3Storage({
    endpoint: rgw.endpoint,
    region: rgw.region,
    bucket: BUCKET,
    prefix,
    accessKeyId: rgw.accessKeyId,
    secretAccessKey: rgw.secretAccessKey,
    forcePathStyle: true,
    ...over,
  });
  storages.push(s);
  return s;
};

beforeAll(async () => {
  rgw = await startRgw();
  console.log(`RGW answered ${rgw.startSeconds.toFixed(1)} s after start`);
  await s3('').ensureBucket();
}, 180_000);
afterAll(async () => {
  for (const s of storages) s.close();
  await rgw?.stop();
});

// Each test its own prefix in one bucket: also what several deployments sharing a bucket do.
storageContract('S3 (Ceph RGW)', async () => {
  const storage = s3(`t-${randomBytes(6).toString('hex')}`);
  return { storage, cleanup: async () => undefined };
});

describe('S3Storage: what the contract does not say', () => {
  it('removes the temporary directories of processes that died (a workers host killed mid-recording), never a live one\'s', async () => {
    const { existsSync, mkdirSync, rmSync, writeFileSync } = await import('node:fs');
    const { spawnSync } = await import('node:child_process');
    const os = await import('node:os');
    const path = await import('node:path');
    // A process that ran and exited: its id is free (until reused, when its directory would stay).
    const deadPid = spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout.trim();
    const dead = path.join(os.tmpdir(), `spyglass-s3-spool-${deadPid}-test${randomBytes(3).toString('hex')}`);
    const live = path.join(os.tmpdir(), `spyglass-s3-spool-1-test${randomBytes(3).toString('hex')}`);
    const unrelated = path.join(os.tmpdir(), `spyglass-s3-spool-test${randomBytes(3).toString('hex')}`);
    for (const d of [dead, live, unrelated]) {
      mkdirSync(d);
      writeFileSync(path.join(d, 'segment-00007.mkv'), 'left in flight');
    }
    try {
      const spool = await s3(`t-${randomBytes(6).toString('hex')}`).spoolDir('recordings/b_x/run');
      expect(path.basename(spool.path)).toMatch(new RegExp(`^spyglass-s3-spool-${process.pid}-`));
      await spool.release();
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(live)).toBe(true); // pid 1 is alive
      expect(existsSync(unrelated)).toBe(true); // not a name of ours
    } finally {
      for (const d of [dead, live, unrelated]) rmSync(d, { recursive: true, force: true });
    }
  });

  it('keeps deployments that share a bucket apart by prefix', async () => {
    const a = s3('deployment-a');
    const b = s3('deployment-b');
    await a.writeFile('replays/b_same/poster.jpg', 'a');
    expect(await b.stat('replays/b_same/poster.jpg')).toBeNull();
    expect(await b.list('replays/b_same')).toEqual([]);
    await b.deletePrefix('replays/b_same');
    expect((await a.readFile('replays/b_same/poster.jpg')).toString()).toBe('a');
  });

  it('uploads a large file in parts and reads any range of it back', async () => {
    const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-s3-big-'));
    try {
      const bytes = randomBytes(20 << 20);
      const file = path.join(dir, 'big.mp4');
      writeFileSync(file, bytes);
      const storage = s3('big');
      await storage.putFile('replays/b_big/replay.mp4', file);
      expect((await storage.stat('replays/b_big/replay.mp4'))?.sizeBytes).toBe(bytes.length);
      const start = (17 << 20) - 5;
      const chunks: Buffer[] = [];
      for await (const c of await storage.createReadStream('replays/b_big/replay.mp4', { start, end: start + 99 })) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks)).toEqual(bytes.subarray(start, start + 100));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('spools into an empty temporary directory: nothing stored is fetched, a stored file leaves the disk, release removes the rest', async () => {
    const { existsSync, readdirSync, writeFileSync } = await import('node:fs');
    const path = await import('node:path');
    const storage = s3('spool');
    await storage.writeFile('recordings/b_sp/r1/run.json', '{}');
    const spool = await storage.spoolDir('recordings/b_sp/r1');
    try {
      expect(readdirSync(spool.path)).toEqual([]);
      writeFileSync(path.join(spool.path, 'seg-00000.mkv'), 'done');
      writeFileSync(path.join(spool.path, 'seg-00001.mkv'), 'in flight');
      await spool.store('seg-00000.mkv');
      expect(readdirSync(spool.path)).toEqual(['seg-00001.mkv']);
      expect(await storage.list('recordings/b_sp')).toEqual(['recordings/b_sp/r1/run.json', 'recordings/b_sp/r1/seg-00000.mkv']);
    } finally {
      await spool.release();
    }
    expect(existsSync(spool.path)).toBe(false);
  });

  it('says clearly when the credentials are wrong', async () => {
    await expect(s3('creds', { secretAccessKey: 'wrong-secret-key-0000000000000000000000' }).writeFile('replays/b_x/poster.jpg', 'x')).rejects.toThrow(
      /storage: could not write replays\/b_x\/poster\.jpg: SignatureDoesNotMatch \(HTTP 403\)/,
    );
  });

  it('says clearly, and soon, when nothing listens at the endpoint', async () => {
    const storage = s3('down', { endpoint: `http://127.0.0.1:${await freePort()}`, requestTimeoutMs: 2000 });
    await expect(storage.stat('replays/b_x/poster.jpg')).rejects.toThrow(/storage: could not stat replays\/b_x\/poster\.jpg: .*ECONNREFUSED/);
  }, 20_000);
});
