import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listRuns, newRunId, RunInfoSchema, writeRunInfo } from '../../../workers/media/segments.ts';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'spyglass-segments-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A run directory with run.json (unless `info` is null) and the given files (name → bytes). */
async function run(runId: string, info: unknown, files: Record<string, number>): Promise<string> {
  const dir = path.join(root, runId);
  await mkdir(dir, { recursive: true });
  if (info !== null) await writeFile(path.join(dir, 'run.json'), typeof info === 'string' ? info : JSON.stringify(info));
  for (const [name, size] of Object.entries(files)) await writeFile(path.join(dir, name), Buffer.alloc(size, 1));
  return dir;
}
const info = (runId: string, offsetMs: number) => ({ runId, offsetMs, startedAt: '2024-11-22T10:00:00.000Z' });

describe('newRunId', () => {
  it('is r<13-digit ms>-<4 hex> and sorts by time', () => {
    expect(newRunId(1_732_270_000_123)).toMatch(/^r1732270000123-[0-9a-f]{4}$/);
    expect(newRunId(5)).toMatch(/^r0000000000005-[0-9a-f]{4}$/);
    const ids = [newRunId(9_000_000_000), newRunId(10_000_000_000), newRunId(999)];
    expect([...ids].sort()).toEqual([ids[2], ids[0], ids[1]]);
    expect(RunInfoSchema.safeParse(info(newRunId(), 0)).success).toBe(true);
  });

  it('differs between two runs started in the same millisecond (almost always)', () => {
    const ids = new Set(Array.from({ length: 20 }, () => newRunId(1000)));
    expect(ids.size).toBeGreaterThan(15);
  });
});

describe('writeRunInfo', () => {
  it('creates the directory and writes run.json, leaving no temporary file', async () => {
    const dir = path.join(root, 'b1', 'r1');
    await writeRunInfo(dir, info('r1', 1234));
    expect(JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8'))).toEqual(info('r1', 1234));
    await writeRunInfo(dir, info('r1', 99));
    expect(JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8'))).toEqual(info('r1', 99));
    expect(await readdir(dir)).toEqual(['run.json']);
  });

  it('refuses an invalid RunInfo and keeps the previous file', async () => {
    const dir = path.join(root, 'r1');
    await writeRunInfo(dir, info('r1', 1));
    await expect(writeRunInfo(dir, { runId: 'r1', offsetMs: -5, startedAt: 'yesterday' })).rejects.toThrow();
    await expect(writeRunInfo(dir, { runId: '../x', offsetMs: 5, startedAt: '2024-11-22T10:00:00Z' })).rejects.toThrow();
    expect(JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8'))).toEqual(info('r1', 1));
    expect(await readdir(dir)).toEqual(['run.json']);
  });
});

describe('listRuns', () => {
  it('sorts runs by offset, then run id', async () => {
    await run('rc', info('rc', 9000), { 'seg-00000.mkv': 10 });
    await run('rb', info('rb', 1000), { 'seg-00000.mkv': 10 });
    await run('ra', info('ra', 9000), { 'seg-00000.mkv': 10 });
    const { runs, skipped } = await listRuns(root);
    expect(runs.map((r) => [r.runId, r.offsetMs])).toEqual([['rb', 1000], ['ra', 9000], ['rc', 9000]]);
    expect(runs[0]).toEqual({
      runId: 'rb',
      dir: path.join(root, 'rb'),
      offsetMs: 1000,
      startedAt: '2024-11-22T10:00:00.000Z',
      segments: [path.join(root, 'rb', 'seg-00000.mkv')],
      aacSegments: [],
    });
    expect(skipped).toEqual([]);
  });

  it('sorts segments by index whatever the padding, and skips empty ones and other files', async () => {
    const dir = await run('r1', info('r1', 0), {
      'seg-10.mkv': 5,
      'seg-2.mkv': 5,
      'seg-00003.mkv': 5,
      'seg-00001.mkv': 0, // created, never written (a crash right after the cut)
      'seg-0000.mkv': 5,
      'segments.csv': 5,
      'stream.sdp': 5,
      'seg-4.mkv.tmp': 5,
      'seg-x.mkv': 5,
    });
    const { runs } = await listRuns(root);
    expect(runs[0]!.segments.map((s) => path.relative(dir, s))).toEqual(['seg-0000.mkv', 'seg-2.mkv', 'seg-00003.mkv', 'seg-10.mkv']);
  });

  it('lists the AAC segments apart, sorted by index, empty ones skipped; a run of AAC segments alone has no segments', async () => {
    const dir = await run('r1', info('r1', 0), { 'seg-00000.mkv': 5, 'aac-10.mka': 5, 'aac-2.mka': 5, 'aac-00003.mka': 0, 'aac-x.mka': 5, 'aac.csv': 5 });
    const { runs } = await listRuns(root);
    expect(runs[0]!.segments.map((s) => path.relative(dir, s))).toEqual(['seg-00000.mkv']);
    expect(runs[0]!.aacSegments.map((s) => path.relative(dir, s))).toEqual(['aac-2.mka', 'aac-10.mka']);
    await run('r2', info('r2', 0), { 'aac-00000.mka': 5 });
    expect((await listRuns(root)).skipped).toEqual([{ dir: path.join(root, 'r2'), reason: 'no segments' }]);
  });

  it('returns the runs it cannot use in skipped, with why', async () => {
    await run('ok', info('ok', 0), { 'seg-00000.mkv': 5 });
    const noInfo = await run('no-info', null, { 'seg-00000.mkv': 5 });
    const notJson = await run('not-json', '{"runId": ', { 'seg-00000.mkv': 5 });
    const invalid = await run('invalid', { runId: 'invalid', offsetMs: -1, startedAt: '2024-11-22T10:00:00Z' }, { 'seg-00000.mkv': 5 });
    const other = await run('other', info('someone-else', 0), { 'seg-00000.mkv': 5 });
    const empty = await run('empty', info('empty', 0), { 'seg-00000.mkv': 0, 'segments.csv': 10 });
    await writeFile(path.join(root, 'stray.txt'), 'not a run');
    const { runs, skipped } = await listRuns(root);
    expect(runs.map((r) => r.runId)).toEqual(['ok']);
    const reasons = Object.fromEntries(skipped.map((s) => [s.dir, s.reason]));
    expect(reasons).toEqual({
      [noInfo]: 'no run.json',
      [notJson]: 'run.json is not JSON',
      [invalid]: expect.stringMatching(/^invalid run.json/),
      [other]: expect.stringMatching(/names run someone-else/),
      [empty]: 'no segments',
    });
  });

  it('has no runs for a recording directory that does not exist', async () => {
    expect(await listRuns(path.join(root, 'missing'))).toEqual({ runs: [], skipped: [] });
  });
});
