import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildTimeline } from '../../../common/replay/timeline.ts';
import { ArchiveDiskFullError, buildArchive } from '../../../workers/archive/buildArchive.ts';
import type { ArchiveInput } from '../../../common/jobs/archiveInput.ts';
import { runFfmpeg } from '../../../workers/media/ffmpeg.ts';
import { launchChromium, videoTimeWhenChatShows } from '../../../testkit/browser.ts';
import { tmpDir } from './mediaFixtures.ts';
import { LocalDiskStorage } from '../../../common/storage/LocalDiskStorage.ts';

const B1 = 'b_firstcast01';
const B2 = 'b_secondcast2';
const B3 = 'b_noreplay003';
const TITLE1 = 'Harbour at dawn';
const TITLE2 = 'Sunset <b>live</b> </script><script>window.pwned=1</script>';
const TITLE3 = 'Audio check';
/** The username's '.' is not kept in the folder name. */
const ROOT = 'spyglass-alice_test';

const sha256File = (file: string) =>
  new Promise<string>((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });

/** The partial files of `outFile` (each attempt writes its own, `<outFile>.partial-<pid>-<random>`). */
function partialsOf(outFile: string): string[] {
  const dir = path.dirname(outFile);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => n.startsWith(`${path.basename(outFile)}.partial`));
}

function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? listFiles(p, base) : [path.relative(base, p)];
  });
}

const chat = (id: string, offsetMs: number, text: string, username = 'alice.test') => ({
  id,
  username,
  text,
  offsetMs,
  sentAt: new Date(1_700_000_000_000 + offsetMs).toISOString(),
});

function makeInput(): ArchiveInput {
  // Broadcast 1: media from offset 1000 for 4 s; chat at 3500 → video 2.5 s.
  const timeline1 = buildTimeline([{ offsetMs: 1000, durationMs: 4000 }]);
  const timeline2 = buildTimeline([{ offsetMs: 0, durationMs: 4000 }]);
  return {
    archiveId: 'a_testarchive1',
    createdAt: '2026-11-22T04:00:00.000Z',
    appVersion: '0.1.0',
    profile: { id: 'u_alice00001', username: 'alice.test', createdAt: '2026-01-01T00:00:00.000Z' },
    broadcasts: [
      {
        id: B1 as ArchiveInput['broadcasts'][number]['id'],
        title: TITLE1,
        visibility: 'public',
        startedAt: '2026-11-20T10:00:00.000Z',
        endedAt: '2026-11-20T10:00:06.000Z',
        replay: { durationMs: 4000, timeline: timeline1, files: ['poster.jpg', 'replay.mp4', 'video.webm'] },
        chat: [chat('m1', 500, 'hello early'), chat('m2', 3500, 'land ho', 'bob_sails')],
        hearts: [{ offsetMs: 2000, count: 3 }],
      },
      {
        id: B2 as ArchiveInput['broadcasts'][number]['id'],
        title: TITLE2,
        visibility: 'private',
        startedAt: '2026-11-21T18:00:00.000Z',
        endedAt: '2026-11-21T18:00:05.000Z',
        replay: { durationMs: 4000, timeline: timeline2, files: ['replay.mp4', 'poster.jpg'] },
        chat: [chat('m3', 1000, 'golden hour')],
        hearts: [],
      },
      {
        id: B3 as ArchiveInput['broadcasts'][number]['id'],
        title: TITLE3,
        visibility: 'public',
        startedAt: '2026-11-19T08:00:00.000Z',
        endedAt: '2026-11-19T08:01:00.000Z',
        replay: null,
        chat: [chat('m4', 20_000, 'can you hear me')],
        hearts: [{ offsetMs: 1000, count: 1 }],
      },
    ],
    chatElsewhere: [{ ...chat('m9', 4200, 'nice stream!'), broadcastId: 'b_otherperson', broadcastTitle: "Bob's boat" }],
  };
}

let dataDir: string;
let work: string;
let browser: Browser | undefined;

beforeAll(async () => {
  dataDir = await tmpDir('archive-data');
  work = await tmpDir('archive-out');
  const src = path.join(dataDir, 'src');
  mkdirSync(src, { recursive: true });
  await runFfmpeg(
    [
      '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '4', '-map', '0:v', '-map', '1:a', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '64k', '-movflags', '+faststart', path.join(src, 'replay.mp4'),
    ],
    { timeoutMs: 60_000 },
  );
  await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=1', '-frames:v', '1', path.join(src, 'poster.jpg')], { timeoutMs: 30_000 });
  for (const id of [B1, B2]) {
    const dir = path.join(dataDir, 'replays', id);
    mkdirSync(dir, { recursive: true });
    copyFileSync(path.join(src, 'replay.mp4'), path.join(dir, 'replay.mp4'));
    copyFileSync(path.join(src, 'poster.jpg'), path.join(dir, 'poster.jpg'));
  }
  writeFileSync(path.join(dataDir, 'replays', B1, 'video.webm'), 'not to be archived');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await rm(dataDir, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
});

describe('buildArchive', () => {
  test('writes a valid zip: manifest, stored MP4, offline viewer in sync', async () => {
    const outFile = path.join(work, 'ok', 'archive.zip');
    const progress: number[] = [];
    const result = await buildArchive({ input: makeInput(), storage: new LocalDiskStorage(dataDir), outFile, onProgress: (p) => progress.push(p) });

    expect(partialsOf(outFile)).toEqual([]);
    expect(result.sizeBytes).toBe(statSync(outFile).size);
    // The published checksum is the manifest's SHA-256, as extracted from the zip.
    expect(result.manifestSha256).toBe(createHash('sha256').update(execFileSync('unzip', ['-p', outFile, `${ROOT}/manifest.json`])).digest('hex'));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toBe(100);
    expect(progress.every((p, i) => p >= 0 && p <= 100 && (i === 0 || p >= (progress[i - 1] ?? 0)))).toBe(true);

    // unzip -t: every entry's CRC checks out.
    const t = spawnSync('unzip', ['-t', outFile], { encoding: 'utf8' });
    expect(t.status, t.stdout + t.stderr).toBe(0);
    expect(t.stdout).toMatch(/No errors detected/);

    // Entry order and compression methods.
    const names = execFileSync('zipinfo', ['-1', outFile], { encoding: 'utf8' }).trim().split('\n');
    expect(names.length).toBe(result.entries);
    expect(names.at(-1)).toBe(`${ROOT}/manifest.json`);
    expect(names.every((n) => n.startsWith(`${ROOT}/`))).toBe(true);
    const method = (entry: string) =>
      /compression method:\s+(.*)/.exec(execFileSync('zipinfo', ['-v', outFile, `${ROOT}/${entry}`], { encoding: 'utf8' }))?.[1]?.trim();
    expect(method(`broadcasts/${B1}/replay.mp4`)).toBe('none (stored)');
    expect(method(`broadcasts/${B1}/poster.jpg`)).toBe('none (stored)');
    expect(method(`broadcasts/${B1}/chat.json`)).toMatch(/^deflated/);
    expect(method('index.html')).toMatch(/^deflated/);

    const ext = path.join(work, 'ok', 'x');
    execFileSync('unzip', ['-q', outFile, '-d', ext]);
    const top = path.join(ext, ROOT);
    const manifest = JSON.parse(readFileSync(path.join(top, 'manifest.json'), 'utf8')) as {
      format: string;
      exportedAt: string;
      appVersion: string;
      user: { id: string; username: string };
      files: Array<{ path: string; sizeBytes: number; sha256: string }>;
    };
    expect(manifest.format).toBe('spyglass-archive/1');
    expect(manifest.appVersion).toBe('0.1.0');
    expect(manifest.user).toEqual({ id: 'u_alice00001', username: 'alice.test' });
    expect(Number.isNaN(Date.parse(manifest.exportedAt))).toBe(false);
    const onDisk = listFiles(top).filter((f) => f !== 'manifest.json').sort();
    expect(manifest.files.map((f) => f.path).sort()).toEqual(onDisk);
    for (const f of manifest.files) {
      expect(statSync(path.join(top, f.path)).size, f.path).toBe(f.sizeBytes);
      expect(await sha256File(path.join(top, f.path)), f.path).toBe(f.sha256);
    }
    expect(onDisk).toEqual(
      [
        'chat-elsewhere.json',
        'index.html',
        'profile.json',
        ...[B1, B2].flatMap((id) => ['broadcast.json', 'chat.json', 'hearts.json', 'poster.jpg', 'replay.mp4'].map((n) => `broadcasts/${id}/${n}`)),
        ...['broadcast.json', 'chat.json', 'hearts.json'].map((n) => `broadcasts/${B3}/${n}`),
      ].sort(),
    );

    // The MP4 is the very same bytes.
    const srcMp4 = readFileSync(path.join(dataDir, 'replays', B1, 'replay.mp4'));
    expect(Buffer.compare(readFileSync(path.join(top, 'broadcasts', B1, 'replay.mp4')), srcMp4)).toBe(0);

    // JSON documents.
    const chat1 = JSON.parse(readFileSync(path.join(top, 'broadcasts', B1, 'chat.json'), 'utf8')) as Array<{ text: string; offsetMs: number; atMs?: number }>;
    expect(chat1.map((m) => [m.text, m.offsetMs, m.atMs])).toEqual([
      ['hello early', 500, 0],
      ['land ho', 3500, 2500],
    ]);
    const hearts1 = JSON.parse(readFileSync(path.join(top, 'broadcasts', B1, 'hearts.json'), 'utf8')) as unknown;
    expect(hearts1).toEqual([{ offsetMs: 2000, count: 3, atMs: 1000 }]);
    const chat3 = JSON.parse(readFileSync(path.join(top, 'broadcasts', B3, 'chat.json'), 'utf8')) as Array<Record<string, unknown>>;
    expect(chat3[0]).not.toHaveProperty('atMs');
    const b1 = JSON.parse(readFileSync(path.join(top, 'broadcasts', B1, 'broadcast.json'), 'utf8')) as Record<string, unknown>;
    expect(b1).toMatchObject({ title: TITLE1, visibility: 'public', startedAt: '2026-11-20T10:00:00.000Z', replay: { files: ['replay.mp4', 'poster.jpg'] } });
    expect(JSON.parse(readFileSync(path.join(top, 'profile.json'), 'utf8'))).toEqual(makeInput().profile);
    expect(JSON.parse(readFileSync(path.join(top, 'chat-elsewhere.json'), 'utf8'))).toEqual(makeInput().chatElsewhere);

    // The offline viewer, from file://.
    browser = await launchChromium();
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(path.join(top, 'index.html')).href);
    // Three broadcasts, each a button named by its title; the HTML-ish title stays text.
    await expect.poll(() => page.getByRole('button').count()).toBe(3);
    await page.getByRole('button', { name: TITLE2, exact: true }).waitFor();
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    // Posters load from the archive.
    await expect
      .poll(() => page.evaluate(() => [...document.querySelectorAll('#broadcasts img')].map((i) => (i as HTMLImageElement).naturalWidth)))
      .toEqual([640, 640]);
    expect(await page.getByText('nice stream!').count()).toBe(1);

    await page.getByRole('button', { name: TITLE1, exact: true }).click();
    await page.getByLabel('Replay video').waitFor({ timeout: 10_000 });
    const chatLog = page.getByRole('log', { name: 'Chat' });
    const shownAt = await videoTimeWhenChatShows(page, 'land ho');
    expect(Math.abs(shownAt - 2.5)).toBeLessThanOrEqual(0.5);
    expect(await chatLog.textContent()).toContain('hello early');
    await expect.poll(() => page.getByLabel('Hearts so far').textContent()).toContain('3');

    // Seeking back removes it; forward shows it again.
    await page.evaluate(() => {
      const v = document.querySelector('video')!;
      v.pause();
      v.currentTime = 1.2;
    });
    await expect.poll(async () => (await chatLog.textContent()) ?? '', { timeout: 5000 }).not.toContain('land ho');
    expect(await chatLog.textContent()).toContain('hello early');
    await page.evaluate(() => {
      document.querySelector('video')!.currentTime = 3.5;
    });
    await expect.poll(async () => (await chatLog.textContent()) ?? '', { timeout: 5000 }).toContain('land ho');

    // A broadcast without a replay: no video, its whole chat.
    await page.getByRole('button', { name: TITLE3, exact: true }).click();
    expect(await page.getByLabel('Replay video').count()).toBe(0);
    await expect.poll(async () => (await chatLog.textContent()) ?? '').toContain('can you hear me');

    expect(errors).toEqual([]);
    expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
  }, 120_000);

  test('a quota smaller than the archive fails like a full disk and leaves no file', async () => {
    const outFile = path.join(work, 'quota', 'archive.zip');
    const err = await buildArchive({ input: makeInput(), storage: new LocalDiskStorage(dataDir), outFile, maxBytes: 60_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArchiveDiskFullError);
    expect(existsSync(outFile)).toBe(false);
    expect(partialsOf(outFile)).toEqual([]);
    // The same input fits without the quota (the failure was the quota, not the input).
    const ok = await buildArchive({ input: makeInput(), storage: new LocalDiskStorage(dataDir), outFile });
    expect(ok.sizeBytes).toBeGreaterThan(60_000);
  });

  test('a background archive is written no faster than its rate cap', async () => {
    const outFile = path.join(work, 'capped', 'archive.zip');
    const free = await buildArchive({ input: makeInput(), storage: new LocalDiskStorage(dataDir), outFile });
    // A cap of a third of the archive per second: it cannot take less than ~3 s, however idle the machine.
    const t0 = performance.now();
    const capped = await buildArchive({ input: makeInput(), storage: new LocalDiskStorage(dataDir), outFile, maxBytesPerSecond: Math.ceil(free.sizeBytes / 3) });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(2_900);
    // The same archive (its deflated documents carry the export time, so a byte or two may differ).
    expect(Math.abs(capped.sizeBytes - free.sizeBytes)).toBeLessThan(1000);
    execFileSync('unzip', ['-tq', outFile]);
  }, 60_000);

  test('aborting mid-way removes the partial file; the final name never holds a partial zip', async () => {
    const bigData = await tmpDir('archive-big');
    try {
      const dir = path.join(bigData, 'replays', B1);
      mkdirSync(dir, { recursive: true });
      // 64 MiB of incompressible bytes as the "replay": big enough to abort in the middle.
      execFileSync('sh', ['-c', `head -c ${64 << 20} /dev/urandom > "${path.join(dir, 'replay.mp4')}"`]);
      const outFile = path.join(work, 'abort', 'archive.zip');
      const ac = new AbortController();
      const seen: Array<{ percent: number; partial: boolean; final: boolean }> = [];
      const err = await buildArchive({
        input: makeInput(),
        storage: new LocalDiskStorage(bigData),
        outFile,
        signal: ac.signal,
        onProgress: (percent) => {
          seen.push({ percent, partial: partialsOf(outFile).length === 1, final: existsSync(outFile) });
          ac.abort();
        },
      }).catch((e: unknown) => e);
      expect((err as Error).name).toBe('AbortError');
      expect(seen[0]).toMatchObject({ partial: true, final: false });
      expect(seen[0]!.percent).toBeLessThan(100);
      expect(existsSync(outFile)).toBe(false);
      expect(partialsOf(outFile)).toEqual([]);
    } finally {
      await rm(bigData, { recursive: true, force: true });
    }
  });

  test('bad input is refused before anything is written', async () => {
    const outDir = path.join(work, 'bad');
    const outFile = path.join(outDir, 'archive.zip');
    const input = makeInput();
    input.broadcasts[0]!.replay!.files = ['../../../etc/passwd'];
    await expect(buildArchive({ input, storage: new LocalDiskStorage(dataDir), outFile })).rejects.toThrow(/Invalid|invalid/);
    const badId = makeInput();
    (badId.broadcasts[0] as { id: string }).id = '../b_firstcast01';
    await expect(buildArchive({ input: badId, storage: new LocalDiskStorage(dataDir), outFile })).rejects.toThrow(/broadcast id/);
    expect(existsSync(outDir)).toBe(false);
  });
});
