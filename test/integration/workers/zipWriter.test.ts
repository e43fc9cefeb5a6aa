import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildArchive } from '../../../workers/archive/buildArchive.ts';
import { INLINE_FILE_BYTES, plannedZipSize, ZipWriter, type PlannedEntry } from '../../../workers/archive/zip/ZipWriter.ts';
import type { ArchiveInput } from '../../../common/jobs/archiveInput.ts';
import { tmpDir } from './mediaFixtures.ts';
import { LocalDiskStorage } from '../../../common/storage/LocalDiskStorage.ts';

/**
 * The archives' zip writer (workers/archive/zipWriter.ts) against two independent readers:
 * Info-ZIP's `unzip -t` and Python's zipfile (every CRC checked by both), with and without
 * ZIP64, for documents, empty and non-empty files copied by the kernel or in user space.
 */

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const MTIME = new Date(2026, 10, 22, 4, 5, 6);

/** Python's view: testzip() (None when every CRC is right) and each entry's name, size, mode and bytes' SHA-256. */
function pythonRead(zip: string): { bad: string | null; entries: Array<{ name: string; size: number; mode: number; sha256: string; utf8: boolean }> } {
  const script = `
import hashlib, json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
bad = z.testzip()
print(json.dumps({"bad": bad, "entries": [
  {"name": i.filename, "size": i.file_size, "mode": i.external_attr >> 16,
   "sha256": hashlib.sha256(z.read(i)).hexdigest(), "utf8": bool(i.flag_bits & 0x800)}
  for i in z.infolist()]}))
`;
  return JSON.parse(execFileSync('python3', ['-c', script, zip], { encoding: 'utf8', maxBuffer: 64 << 20 })) as ReturnType<typeof pythonRead>;
}

function unzipTest(zip: string): string {
  const t = spawnSync('unzip', ['-t', zip], { encoding: 'utf8', maxBuffer: 64 << 20 });
  expect(t.status, t.stdout + t.stderr).toBe(0);
  expect(t.stdout).toMatch(/No errors detected/);
  return t.stdout;
}

/** Whether the zip has the ZIP64 end of central directory record and locator. */
const hasZip64End = (zip: Buffer) => zip.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06])) && zip.includes(Buffer.from([0x50, 0x4b, 0x06, 0x07]));

let work: string;
let media: string;
let empty: string;
const MEDIA_BYTES = 3 * 1024 * 1024 + 12345;

beforeAll(async () => {
  work = await tmpDir('zipwriter');
  media = path.join(work, 'media.bin');
  empty = path.join(work, 'empty.bin');
  writeFileSync(media, randomBytes(MEDIA_BYTES));
  writeFileSync(empty, '');
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('ZipWriter', () => {
  const doc = Buffer.from(`${JSON.stringify({ hello: 'wörld', list: Array.from({ length: 200 }, (_, i) => i) }, null, 2)}\n`);
  const names = { doc: 'top/ünïcødé 日本語 🎥.json', media: 'top/broadcasts/b_1/replay.mp4', empty: 'top/empty.bin', emptyDoc: 'top/empty.json' };

  async function write(file: string, opts: { forceZip64?: boolean; maxBytesPerSecond?: number }) {
    const w = await ZipWriter.create(file, { mtime: MTIME, ...opts });
    await w.addBuffer(names.doc, doc);
    const m = await w.addFile(names.media, media, MEDIA_BYTES, { sha256: true });
    const e = await w.addFile(names.empty, empty, 0, { sha256: true });
    await w.addBuffer(names.emptyDoc, Buffer.alloc(0));
    const built = await w.finish();
    const planned: PlannedEntry[] = [
      { name: names.doc, uncompressedSize: doc.length, compressedSize: zlib.deflateRawSync(doc).length, descriptor: false },
      { name: names.media, uncompressedSize: MEDIA_BYTES, compressedSize: MEDIA_BYTES, descriptor: true },
      { name: names.empty, uncompressedSize: 0, compressedSize: 0, descriptor: true },
      { name: names.emptyDoc, uncompressedSize: 0, compressedSize: zlib.deflateRawSync(Buffer.alloc(0)).length, descriptor: false },
    ];
    return { built, m, e, planned: plannedZipSize(planned, opts.forceZip64) };
  }

  test.each([
    ['without ZIP64', false],
    ['with ZIP64 forced', true],
  ])('%s: unzip -t and Python agree; sizes, hashes, names, modes and bytes right', async (_, forceZip64) => {
    const file = path.join(work, `plain-${forceZip64}.zip`);
    const { built, m, e, planned } = await write(file, { forceZip64 });
    const bytes = readFileSync(file);
    expect(built.sizeBytes).toBe(bytes.length);
    expect(planned).toBe(bytes.length);
    const mediaBytes = readFileSync(media);
    expect(m).toEqual({ crc32: zlib.crc32(mediaBytes), sha256: sha256(mediaBytes) });
    expect(e).toEqual({ crc32: 0, sha256: sha256(Buffer.alloc(0)) });
    expect(hasZip64End(bytes)).toBe(forceZip64);

    const listing = unzipTest(file);
    for (const n of Object.values(names)) expect(listing).toContain(n);
    const py = pythonRead(file);
    expect(py.bad).toBeNull();
    expect(py.entries).toEqual([
      { name: names.doc, size: doc.length, mode: 0o100644, sha256: sha256(doc), utf8: true },
      { name: names.media, size: MEDIA_BYTES, mode: 0o100644, sha256: sha256(mediaBytes), utf8: true },
      { name: names.empty, size: 0, mode: 0o100644, sha256: sha256(Buffer.alloc(0)), utf8: true },
      { name: names.emptyDoc, size: 0, mode: 0o100644, sha256: sha256(Buffer.alloc(0)), utf8: true },
    ]);

    // unzip extracts normal files (mode 0644), named in UTF-8, with the DOS time given.
    const out = path.join(work, `x-${forceZip64}`);
    execFileSync('unzip', ['-q', file, '-d', out]);
    const extracted = path.join(out, names.doc);
    expect(readFileSync(extracted)).toEqual(doc);
    expect(statSync(extracted).mode & 0o777).toBe(0o644);
    expect(Math.abs(statSync(extracted).mtimeMs - MTIME.getTime())).toBeLessThanOrEqual(2000);
    expect(Buffer.compare(readFileSync(path.join(out, names.media)), mediaBytes)).toBe(0);
    expect(statSync(path.join(out, names.empty)).size).toBe(0);

    // zipinfo sees what was asked: stored files with data descriptors, a deflated document, ZIP64 when forced.
    const info = execFileSync('zipinfo', ['-v', file, names.media], { encoding: 'utf8' });
    expect(info).toMatch(/compression method:\s+none \(stored\)/);
    expect(info).toMatch(/extended local header:\s+yes/);
    expect(info).toMatch(/file system or operating system of origin:\s+Unix/);
    expect(info).toMatch(forceZip64 ? /minimum software version required to extract:\s+4\.5/ : /minimum software version required to extract:\s+2\.0/);
  });

  test('the user-space copy (rate-capped) writes the very same zip as the kernel copy', async () => {
    const kernel = path.join(work, 'same-kernel.zip');
    const paced = path.join(work, 'same-paced.zip');
    const a = await write(kernel, {});
    const t0 = performance.now();
    const b = await write(paced, { maxBytesPerSecond: Math.ceil(MEDIA_BYTES / 0.5) });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(450);
    expect(b.built).toEqual(a.built);
    expect(Buffer.compare(readFileSync(kernel), readFileSync(paced))).toBe(0);
  });

  test('a CRC-32 given (recorded at finalize) writes the very same zip, without reading the file for it', async () => {
    const computed = path.join(work, 'crc-computed.zip');
    const given = path.join(work, 'crc-given.zip');
    const mediaBytes = readFileSync(media);
    const a = await write(computed, {});
    const w = await ZipWriter.create(given, { mtime: MTIME });
    await w.addBuffer(names.doc, doc);
    const m = await w.addFile(names.media, media, MEDIA_BYTES, { sha256: false, crc32: zlib.crc32(mediaBytes) });
    const e = await w.addFile(names.empty, empty, 0, { sha256: false, crc32: 0 });
    await w.addBuffer(names.emptyDoc, Buffer.alloc(0));
    const built = await w.finish();
    expect(m).toEqual({ crc32: zlib.crc32(mediaBytes), sha256: null });
    expect(e).toEqual({ crc32: 0, sha256: null });
    expect(built).toEqual(a.built);
    expect(Buffer.compare(readFileSync(computed), readFileSync(given))).toBe(0);
    unzipTest(given);
  });

  test('a small file (a poster) is written by the writer itself: the very same bytes as a copy by cat', async () => {
    const small = path.join(work, 'poster.bin');
    const posterBytes = randomBytes(60_000);
    writeFileSync(small, posterBytes);
    const big = Buffer.concat([posterBytes, randomBytes(INLINE_FILE_BYTES + 1 - posterBytes.length)]);
    const bigFile = path.join(work, 'big.bin');
    writeFileSync(bigFile, big);
    const zips: Buffer[] = [];
    for (const [i, crc32] of [undefined, zlib.crc32(posterBytes)].entries()) {
      const file = path.join(work, `inline-${i}.zip`);
      const w = await ZipWriter.create(file, { mtime: MTIME });
      const p = await w.addFile('x/poster.jpg', small, posterBytes.length, { sha256: crc32 === undefined, crc32 });
      expect(p).toEqual({ crc32: zlib.crc32(posterBytes), sha256: crc32 === undefined ? sha256(posterBytes) : null });
      // Above the limit, cat copies it (and the hashing thread reads it).
      const b = await w.addFile('x/big.bin', bigFile, big.length, { sha256: true });
      expect(b).toEqual({ crc32: zlib.crc32(big), sha256: sha256(big) });
      await w.finish();
      unzipTest(file);
      expect(pythonRead(file).entries.map((e) => e.sha256)).toEqual([sha256(posterBytes), sha256(big)]);
      zips.push(readFileSync(file));
    }
    expect(Buffer.compare(zips[0]!, zips[1]!)).toBe(0);
    // Byte for byte what the user-space copy (every file through the same chunks) writes.
    const paced = path.join(work, 'inline-paced.zip');
    const w = await ZipWriter.create(paced, { mtime: MTIME, maxBytesPerSecond: 1e10 });
    await w.addFile('x/poster.jpg', small, posterBytes.length, { sha256: false });
    await w.addFile('x/big.bin', bigFile, big.length, { sha256: false });
    await w.finish();
    expect(Buffer.compare(readFileSync(paced), zips[0]!)).toBe(0);
    // A small file whose size is not the planned one fails its entry too.
    for (const planned of [posterBytes.length + 1, posterBytes.length - 1]) {
      const bad = await ZipWriter.create(path.join(work, `inline-bad-${planned}.zip`), { mtime: MTIME });
      await expect(bad.addFile('x/poster.jpg', small, planned, { sha256: false })).rejects.toThrow(/changed while it was archived/);
      await bad.close();
    }
  });

  test('a document-only zip, and more than 65,535 entries (the ZIP64 end record)', async () => {
    const small = path.join(work, 'docs.zip');
    const w = await ZipWriter.create(small, { mtime: MTIME });
    await w.addBuffer('a/one.json', Buffer.from('{"one":1}\n'));
    await w.addBuffer('a/two.html', Buffer.from('<!doctype html><p>two</p>\n'));
    await w.finish();
    unzipTest(small);
    expect(pythonRead(small)).toMatchObject({ bad: null, entries: [{ name: 'a/one.json', size: 10 }, { name: 'a/two.html', size: 26 }] });
    expect(hasZip64End(readFileSync(small))).toBe(false);

    const many = path.join(work, 'many.zip');
    const count = 65_540;
    const m = await ZipWriter.create(many, { mtime: MTIME });
    const planned: PlannedEntry[] = [];
    for (let i = 0; i < count; i++) {
      const data = Buffer.from(`${i}\n`);
      const name = `many/${i}.txt`;
      await m.addBuffer(name, data);
      planned.push({ name, uncompressedSize: data.length, compressedSize: zlib.deflateRawSync(data).length, descriptor: false });
    }
    const built = await m.finish();
    expect(built.sizeBytes).toBe(plannedZipSize(planned));
    expect(hasZip64End(readFileSync(many))).toBe(true);
    const t = spawnSync('unzip', ['-tq', many], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(t.status, t.stdout + t.stderr).toBe(0);
    const py = execFileSync('python3', ['-c', 'import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); print(z.testzip(), len(z.infolist()))', many], { encoding: 'utf8' });
    expect(py.trim()).toBe(`None ${count}`);
  }, 120_000);

  test('a file whose size is not the planned one fails the entry', async () => {
    for (const maxBytesPerSecond of [undefined, 1e9]) {
      const file = path.join(work, `short-${maxBytesPerSecond}.zip`);
      const w = await ZipWriter.create(file, { mtime: MTIME, ...(maxBytesPerSecond ? { maxBytesPerSecond } : {}) });
      await expect(w.addFile('x/media.bin', media, MEDIA_BYTES + 1, { sha256: false })).rejects.toThrow(/changed while it was archived/);
      await w.close();
      const w2 = await ZipWriter.create(`${file}.2`, { mtime: MTIME, ...(maxBytesPerSecond ? { maxBytesPerSecond } : {}) });
      await expect(w2.addFile('x/media.bin', media, MEDIA_BYTES - 1, { sha256: false })).rejects.toThrow(/changed while it was archived/);
      await w2.close();
    }
  });

  test('an abort kills the copy', async () => {
    const ac = new AbortController();
    const w = await ZipWriter.create(path.join(work, 'aborted.zip'), { mtime: MTIME, signal: ac.signal });
    const adding = w.addFile('x/media.bin', media, MEDIA_BYTES, { sha256: true });
    ac.abort();
    await expect(adding).rejects.toMatchObject({ name: 'AbortError' });
    await w.close();
  });
});

describe('buildArchive with ZIP64 forced', () => {
  test('unzip -t and Python accept the whole archive; the manifest is right', async () => {
    const dataDir = path.join(work, 'data');
    const dir = path.join(dataDir, 'replays', 'b_zip64cast01');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'replay.mp4'), readFileSync(media));
    writeFileSync(path.join(dir, 'poster.jpg'), '');
    const input: ArchiveInput = {
      archiveId: 'a_zip64archive',
      createdAt: '2026-11-22T04:00:00.000Z',
      appVersion: '0.1.0',
      profile: { id: 'u_zoe0000001', username: 'zoë', createdAt: '2026-01-01T00:00:00.000Z' },
      broadcasts: [
        {
          id: 'b_zip64cast01' as ArchiveInput['broadcasts'][number]['id'],
          title: 'Zürich 🌉',
          visibility: 'public',
          startedAt: '2026-11-20T10:00:00.000Z',
          endedAt: '2026-11-20T10:00:06.000Z',
          replay: { durationMs: 4000, timeline: [{ offsetMs: 0, mediaStartMs: 0, durationMs: 4000 }], files: ['replay.mp4', 'poster.jpg'] },
          chat: [],
          hearts: [],
        },
      ],
      chatElsewhere: [],
    };
    const outFile = path.join(work, 'built', 'archive.zip');
    const built = await buildArchive({ input, storage: new LocalDiskStorage(dataDir), outFile, forceZip64: true });
    const bytes = readFileSync(outFile);
    expect(built.sizeBytes).toBe(bytes.length);
    expect(hasZip64End(bytes)).toBe(true);
    expect(readdirSync(path.dirname(outFile))).toEqual(['archive.zip']);
    unzipTest(outFile);
    const py = pythonRead(outFile);
    expect(py.bad).toBeNull();
    expect(py.entries).toHaveLength(built.entries);
    const manifestEntry = py.entries.at(-1)!;
    expect(manifestEntry.name).toMatch(/\/manifest\.json$/);
    expect(built.manifestSha256).toBe(manifestEntry.sha256);
    const manifest = JSON.parse(execFileSync('unzip', ['-p', outFile, manifestEntry.name], { encoding: 'utf8' })) as { files: Array<{ path: string; sizeBytes: number; sha256: string }> };
    for (const f of manifest.files) {
      const entry = py.entries.find((e) => e.name.endsWith(`/${f.path}`));
      expect(entry, f.path).toMatchObject({ size: f.sizeBytes, sha256: f.sha256 });
    }
    expect(manifest.files.find((f) => f.path.endsWith('/poster.jpg'))).toMatchObject({ sizeBytes: 0 });
    expect(existsSync(`${outFile}.partial`)).toBe(false);
  });
});
