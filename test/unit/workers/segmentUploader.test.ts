import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../common/logger.ts';
import type { SpoolDir } from '../../../common/storage/Storage.ts';
import { SegmentStoreError } from '../../../workers/record/SegmentStoreError.ts';
import { SegmentUploader } from '../../../workers/record/SegmentUploader.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'spyglass-uploader-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A spool over `dir` that records what it stores; `failures` makes a name fail that many times first. */
function spool(failures: Record<string, number> = {}): SpoolDir & { stored: string[] } {
  const stored: string[] = [];
  return {
    path: dir,
    stored,
    async store(name) {
      if ((failures[name] ?? 0) > 0) {
        failures[name]!--;
        throw Object.assign(new Error(`upload of ${name} refused`), { code: 'EIO' });
      }
      stored.push(name);
    },
    release: async () => undefined,
  };
}

const logger = createLogger({ level: 'silent' });
const segment = (n: number, bytes = 10) => writeFile(path.join(dir, `seg-${String(n).padStart(5, '0')}.mkv`), Buffer.alloc(bytes, 1));
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SegmentUploader', () => {
  it('stores a segment once the next one exists, and the last one when the run is over', async () => {
    const s = spool();
    const uploader = new SegmentUploader({ spool: s, logger, pollMs: 20 });
    uploader.start();
    await segment(0);
    await writeFile(path.join(dir, 'segments.csv'), '');
    await pause(100);
    // ffmpeg is still writing seg-00000: nothing is stored.
    expect(s.stored).toEqual([]);
    await segment(1);
    await expect.poll(() => s.stored, { timeout: 2000, interval: 20 }).toEqual(['seg-00000.mkv']);
    await segment(2);
    await segment(10);
    // Sorted by number, not name: seg-00010 is the newest.
    await expect.poll(() => s.stored, { timeout: 2000, interval: 20 }).toEqual(['seg-00000.mkv', 'seg-00001.mkv', 'seg-00002.mkv']);
    expect(await uploader.finish()).toBe(4);
    expect(s.stored).toEqual(['seg-00000.mkv', 'seg-00001.mkv', 'seg-00002.mkv', 'seg-00010.mkv']);
  });

  it('leaves out empty segments and other files', async () => {
    const s = spool();
    const uploader = new SegmentUploader({ spool: s, logger, pollMs: 20 });
    uploader.start();
    await segment(0, 0);
    await segment(1);
    await writeFile(path.join(dir, 'run.json'), '{}');
    expect(await uploader.finish()).toBe(1);
    expect(s.stored).toEqual(['seg-00001.mkv']);
  });

  it('tries a failed segment again, while recording and after', async () => {
    const s = spool({ 'seg-00000.mkv': 2, 'seg-00001.mkv': 2 });
    const uploader = new SegmentUploader({ spool: s, logger, pollMs: 20, retryMs: 10 });
    uploader.start();
    await segment(0);
    await segment(1);
    await expect.poll(() => s.stored, { timeout: 2000, interval: 20 }).toEqual(['seg-00000.mkv']);
    expect(await uploader.finish()).toBe(2);
    expect(s.stored).toEqual(['seg-00000.mkv', 'seg-00001.mkv']);
  });

  it('gives up after five tries once the run is over, with a typed error naming the segments and where they are', async () => {
    const s = spool({ 'seg-00000.mkv': 99 });
    const uploader = new SegmentUploader({ spool: s, logger, pollMs: 20, retryMs: 5 });
    await segment(0);
    const err = await uploader.finish().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SegmentStoreError);
    expect(err).toMatchObject({ code: 'SEGMENT_STORE_FAILED', files: ['seg-00000.mkv'], dir, cause: { code: 'EIO' } });
    expect(s.stored).toEqual([]);
  });

  const listed = (n: number, start: number, end: number) => appendFile(path.join(dir, 'segments.csv'), `seg-${String(n).padStart(5, '0')}.mkv,${start},${end}\n`);
  const index = async () => JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as unknown;

  it('writes and stores the segment index after the segments it names, from what ffmpeg listed', async () => {
    const s = spool();
    const uploader = new SegmentUploader({ spool: s, logger, pollMs: 20 });
    uploader.start();
    await segment(0);
    await segment(1);
    await listed(0, 0, 4.004);
    await expect.poll(() => s.stored, { timeout: 2000, interval: 20 }).toEqual(['seg-00000.mkv', 'index.json']);
    expect(await index()).toEqual({ version: 1, segments: [{ file: 'seg-00000.mkv', startMs: 0, endMs: 4004 }] });
    // seg-00001 is listed (closed) but not stored yet: the index waits for it.
    await listed(1, 4.004, 8.1);
    await appendFile(path.join(dir, 'segments.csv'), 'seg-00002.mkv,8.1'); // a line being written
    await pause(100);
    expect(s.stored).toEqual(['seg-00000.mkv', 'index.json']);
    await segment(2);
    await expect.poll(() => s.stored, { timeout: 2000, interval: 20 }).toEqual(['seg-00000.mkv', 'index.json', 'seg-00001.mkv', 'index.json']);
    // Only the complete line: the index names seg-00000 and seg-00001.
    expect(await index()).toMatchObject({ segments: [{ file: 'seg-00000.mkv' }, { file: 'seg-00001.mkv', startMs: 4004, endMs: 8100 }] });
    await writeFile(path.join(dir, 'segments.csv'), 'seg-00000.mkv,0,4.004\nseg-00001.mkv,4.004,8.1\n');
    await listed(2, 8.1, 9.5);
    expect(await uploader.finish()).toBe(3);
    expect(s.stored).toEqual(['seg-00000.mkv', 'index.json', 'seg-00001.mkv', 'index.json', 'seg-00002.mkv', 'index.json']);
    expect(await index()).toEqual({
      version: 1,
      segments: [
        { file: 'seg-00000.mkv', startMs: 0, endMs: 4004 },
        { file: 'seg-00001.mkv', startMs: 4004, endMs: 8100 },
        { file: 'seg-00002.mkv', startMs: 8100, endMs: 9500 },
      ],
    });
  });

  it('stores the AAC segments as a second series (each once the next exists) and indexes them as aac', async () => {
    const s = spool();
    const uploader = new SegmentUploader({ spool: s, logger, pollMs: 20 });
    uploader.start();
    const aac = (n: number) => writeFile(path.join(dir, `aac-${String(n).padStart(5, '0')}.mka`), Buffer.alloc(10, 1));
    const aacListed = (n: number, start: number, end: number) => appendFile(path.join(dir, 'aac.csv'), `aac-${String(n).padStart(5, '0')}.mka,${start},${end}\n`);
    await segment(0);
    await aac(0);
    await pause(100);
    expect(s.stored).toEqual([]); // both still being written
    await aac(1);
    await aacListed(0, 0, 4.01);
    await expect.poll(() => s.stored, { timeout: 2000, interval: 20 }).toEqual(['aac-00000.mka']);
    expect(s.stored).not.toContain('index.json'); // an index needs a video segment
    await segment(1);
    await listed(0, 0, 4.004);
    await expect.poll(() => s.stored, { timeout: 2000, interval: 20 }).toEqual(['aac-00000.mka', 'seg-00000.mkv', 'index.json']);
    expect(await index()).toEqual({
      version: 1,
      segments: [{ file: 'seg-00000.mkv', startMs: 0, endMs: 4004 }],
      aac: [{ file: 'aac-00000.mka', startMs: 0, endMs: 4010 }],
    });
    await listed(1, 4.004, 6);
    await aacListed(1, 4.01, 6.02);
    expect(await uploader.finish()).toBe(4);
    expect(await index()).toMatchObject({
      segments: [{ file: 'seg-00000.mkv' }, { file: 'seg-00001.mkv' }],
      aac: [{ file: 'aac-00000.mka' }, { file: 'aac-00001.mka', startMs: 4010, endMs: 6020 }],
    });
  });

  it('leaves empty segments out of the index and stops it at a segment that could not be stored', async () => {
    const s = spool({ 'seg-00002.mkv': 99 });
    const uploader = new SegmentUploader({ spool: s, logger, pollMs: 20, retryMs: 1 });
    await segment(0);
    await segment(1, 0);
    await segment(2);
    await segment(3);
    await listed(0, 0, 2);
    await listed(1, 2, 2);
    await listed(2, 2, 4);
    await listed(3, 4, 6);
    await expect(uploader.finish()).rejects.toBeInstanceOf(SegmentStoreError);
    expect(await index()).toEqual({ version: 1, segments: [{ file: 'seg-00000.mkv', startMs: 0, endMs: 2000 }] });
    expect(s.stored.filter((n) => n === 'index.json')).toHaveLength(1);
  });

  it('stores no index when ffmpeg listed nothing, and goes on when the index cannot be stored', async () => {
    const s = spool({ 'index.json': 99 });
    const uploader = new SegmentUploader({ spool: s, logger, pollMs: 20 });
    await segment(0);
    expect(await uploader.finish()).toBe(1);
    expect(s.stored).toEqual(['seg-00000.mkv']);
    await listed(0, 0, 1);
    const again = new SegmentUploader({ spool: s, logger, pollMs: 20 });
    expect(await again.finish()).toBe(1);
    expect(s.stored).toEqual(['seg-00000.mkv', 'seg-00000.mkv']);
  });
});
