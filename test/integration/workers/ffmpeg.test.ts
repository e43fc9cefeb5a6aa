import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FfmpegError, probe, runFfmpeg } from '../../../workers/media/ffmpeg.ts';
import { tmpDir, writeSegments } from './mediaFixtures.ts';

async function failure(p: Promise<unknown>): Promise<FfmpegError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof FfmpegError)) throw new Error(`expected an FfmpegError, got ${String(err)}`);
  return err;
}

/** Plays silence in real time, forever. */
const endless = ['-re', '-f', 'lavfi', '-i', 'anullsrc', '-f', 'null', '-'];

describe('runFfmpeg and probe (real ffmpeg)', () => {
  let root: string;
  beforeAll(async () => {
    root = await tmpDir('ffmpeg');
    await writeSegments(root, { seconds: 3, segmentSeconds: 60 });
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('probes a file: format, duration, start, streams', async () => {
    const p = await probe(path.join(root, 'seg-00000.mkv'));
    expect(p.formatName).toBe('matroska,webm');
    expect(p.durationMs).toBeGreaterThan(2900);
    expect(p.durationMs).toBeLessThan(3100);
    expect(Math.abs(p.startMs!)).toBeLessThan(50);
    expect(p.streams).toEqual([
      { index: 0, codecType: 'video', codecName: 'vp8', width: 640, height: 360 },
      { index: 1, codecType: 'audio', codecName: 'opus' },
    ]);
  });

  it('returns stdout', async () => {
    const { stdout } = await runFfmpeg(['-version'], { bin: 'ffprobe', timeoutMs: 10_000 });
    expect(stdout).toMatch(/^ffprobe version/);
  });

  it('rejects with the exit code and the last 20 stderr lines', async () => {
    // -loglevel debug writes ~30 lines before failing on the unknown filter.
    const err = await failure(runFfmpeg(['-loglevel', 'debug', '-f', 'lavfi', '-i', 'testsrc2=d=1', '-vf', 'nosuchfilter', '-f', 'null', '-'], { timeoutMs: 10_000 }));
    expect(err.kind).toBe('exit');
    expect(err.exitCode).not.toBe(0);
    expect(err.exitCode).not.toBeNull();
    const lines = err.stderrTail.split('\n');
    expect(lines.length).toBe(20);
    expect(lines.some((l) => l.endsWith("No such filter: 'nosuchfilter'"))).toBe(true);
    expect(lines[lines.length - 1]).toBe('Conversion failed!');
    expect(err.message).toBe('ffmpeg exited with 1: Conversion failed!');
  });

  it('rejects a file ffprobe cannot read', async () => {
    const err = await failure(probe(path.join(root, 'missing.mkv')));
    expect(err.kind).toBe('exit');
  });

  it('kills on timeout', async () => {
    const err = await failure(runFfmpeg(endless, { timeoutMs: 500 }));
    expect(err).toMatchObject({ kind: 'timeout', signal: 'SIGKILL', exitCode: null });
  });

  it('kills on abort, and does not start when already aborted', async () => {
    const ac = new AbortController();
    const running = runFfmpeg(endless, { timeoutMs: 30_000, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('job cancelled')), 300);
    const err = await failure(running);
    expect(err).toMatchObject({ kind: 'aborted', signal: 'SIGKILL' });
    expect((err.cause as Error).message).toBe('job cancelled');
    expect(await failure(runFfmpeg(['-version'], { timeoutMs: 1000, signal: ac.signal }))).toMatchObject({ kind: 'aborted', exitCode: null });
  });

  it('reports a process that cannot start', async () => {
    const err = await failure(runFfmpeg(['-version'], { timeoutMs: 1000, cwd: path.join(root, 'no-such-dir') }));
    expect(err.kind).toBe('spawn');
  });
});
