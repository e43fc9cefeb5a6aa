import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RUN_INDEX, parseSegmentList, readRunIndex, writeRunIndex } from '../../../workers/media/runIndex.ts';

describe('parseSegmentList', () => {
  it('reads ffmpeg csv lines (name, start s, end s) into ms', () => {
    expect(parseSegmentList('seg-00000.mkv,0.000000,4.014000\nseg-00001.mkv,4.014000,9.016000\n')).toEqual([
      { file: 'seg-00000.mkv', startMs: 0, endMs: 4014 },
      { file: 'seg-00001.mkv', startMs: 4014, endMs: 9016 },
    ]);
  });

  it('leaves out a line still being written and lines that do not parse', () => {
    const csv = ['seg-00000.mkv,0,2', 'other.mkv,2,4', 'seg-00002.mkv,x,6', 'seg-00003.mkv,6', 'seg-00004.mkv,9,8', '"seg,5.mkv",8,9', 'seg-00006.mkv,10,12'].join('\n');
    expect(parseSegmentList(`${csv}\nseg-00007.mkv,12,1`)).toEqual([
      { file: 'seg-00000.mkv', startMs: 0, endMs: 2000 },
      { file: 'seg-00006.mkv', startMs: 10_000, endMs: 12_000 },
    ]);
    expect(parseSegmentList('')).toEqual([]);
  });

  it("reads the AAC list (aac-NNNNN.mka names) with kind 'aac', and neither list takes the other's names", () => {
    const csv = 'aac-00000.mka,0.000000,4.005000\nseg-00001.mkv,4.005,8\naac-00001.mka,4.005000,8.010000\n';
    expect(parseSegmentList(csv, 'aac')).toEqual([
      { file: 'aac-00000.mka', startMs: 0, endMs: 4005 },
      { file: 'aac-00001.mka', startMs: 4005, endMs: 8010 },
    ]);
    expect(parseSegmentList(csv)).toEqual([{ file: 'seg-00001.mkv', startMs: 4005, endMs: 8000 }]);
  });
});

describe('readRunIndex / writeRunIndex', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'spyglass-runindex-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads back what it wrote', async () => {
    const index = { version: 1 as const, segments: [{ file: 'seg-00000.mkv', startMs: 0, endMs: 4004 }] };
    const withAac = { ...index, aac: [{ file: 'aac-00000.mka', startMs: 0, endMs: 4010 }] };
    await writeRunIndex(dir, withAac);
    expect(await readRunIndex(dir)).toEqual({ index: withAac });
    await expect(writeRunIndex(dir, { ...index, aac: [{ file: 'seg-00000.mkv', startMs: 0, endMs: 1 }] })).rejects.toThrow();
    await writeRunIndex(dir, index);
    expect(await readRunIndex(dir)).toEqual({ index });
  });

  it('says why there is no usable index', async () => {
    expect(await readRunIndex(dir)).toEqual({ reason: 'no index.json' });
    await writeFile(path.join(dir, RUN_INDEX), '{');
    expect(await readRunIndex(dir)).toEqual({ reason: 'index.json is not JSON' });
    await writeFile(path.join(dir, RUN_INDEX), JSON.stringify({ version: 1, segments: [{ file: '../../etc/passwd', startMs: 0, endMs: 1 }] }));
    expect(await readRunIndex(dir)).toMatchObject({ reason: expect.stringMatching(/^invalid index.json/) as unknown });
    await writeFile(path.join(dir, RUN_INDEX), JSON.stringify({ version: 2, segments: [] }));
    expect(await readRunIndex(dir)).toMatchObject({ reason: expect.stringMatching(/^invalid index.json/) as unknown });
  });

  it('refuses to write an invalid index', async () => {
    await expect(writeRunIndex(dir, { version: 1, segments: [{ file: 'seg-1.mkv', startMs: 5, endMs: 1 }] })).rejects.toThrow();
  });
});
