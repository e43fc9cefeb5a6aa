import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { videoTimeWhenChatShows } from '../../testkit/browser.ts';
import { goLiveInPage, signUpInPage, waitForReplay, waitUntilSending } from '../../testkit/liveUi.ts';
import { startE2e, type E2eStage } from '../../testkit/e2e.ts';
import type { TestServer } from '../../testkit/server.ts';
import type { WorkersProcess } from '../../testkit/workers.ts';

interface Probe {
  format: { duration: string };
  streams: Array<{ codec_type: string; codec_name: string }>;
}

/**
 * Go live for ~10 s in Chromium with a chat message at ~5 s and a few hearts, stop, and get
 * the replay: real SFU, real Redis, a real workers process with ffmpeg, and the replay page.
 */
describe('recording and replay in Chromium', () => {
  let e2e: E2eStage | undefined;
  let server: TestServer;
  let workers: WorkersProcess;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'spyglass-replay-e2e-'));

  beforeAll(async () => {
    e2e = await startE2e({ workers: true });
    server = e2e.server;
    workers = e2e.workers!;
  });
  afterAll(async () => {
    await e2e?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const newPage = (): Promise<Page> => e2e!.newPage();

  it('records a 10 s broadcast into a replay with chat and hearts in sync, downloadable with Range', async () => {
    const host = await newPage();
    await signUpInPage(host, 'skipper');
    // VP8 (the fallback for browsers that cannot encode H.264): WebM preview, transcoded MP4. H.264: h264.test.ts.
    const id = await goLiveInPage(host, 'Ten seconds at sea', 20_000, 'vp8');
    await waitUntilSending(host);

    const viewer = await newPage();
    await signUpInPage(viewer, 'deckhand');
    await viewer.goto(`/watch/${id}`);
    await viewer.getByRole('textbox', { name: 'Chat message' }).waitFor();

    // The recording started when its first run began (run.json, written by the workers process on this host).
    const recordingDir = path.join(server.dataDir, 'recordings', id);
    const runInfo = () =>
      existsSync(recordingDir)
        ? readdirSync(recordingDir)
            .map((run) => path.join(recordingDir, run, 'run.json'))
            .find((f) => existsSync(f))
        : undefined;
    await expect.poll(runInfo, { timeout: 15_000, interval: 50 }).toBeDefined();
    const recordingFrom = Date.parse((JSON.parse(readFileSync(runInfo()!, 'utf8')) as { startedAt: string }).startedAt);

    await viewer.getByRole('textbox', { name: 'Chat message' }).fill('land ho');
    await viewer.waitForTimeout(Math.max(0, 5000 - (Date.now() - recordingFrom)));
    await viewer.getByRole('button', { name: 'Send', exact: true }).click();
    const chatSentAt = (Date.now() - recordingFrom) / 1000;
    const heart = viewer.getByRole('button', { name: 'Send a heart' });
    for (let i = 0; i < 3; i++) await heart.click();

    await host.waitForTimeout(Math.max(0, 10_000 - (Date.now() - recordingFrom)));
    await host.getByRole('button', { name: 'End broadcast' }).click();
    const recordedSeconds = (Date.now() - recordingFrom) / 1000;

    // The replay becomes ready.
    const replay = await waitForReplay(host, id, 90_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\nworkers said:\n${workers.output().slice(-6000)}`);
    });
    expect(replay.state, replay.reason ?? '').toBe('ready');
    expect(replay.posterUrl).not.toBeNull();
    expect(replay.download).not.toBeNull();
    const chat = replay.chat.find((m) => m.text === 'land ho');
    expect(chat).toBeDefined();
    // Placed where it was sent (5 s into the recording, later on a loaded machine), not at its start.
    expect(chatSentAt).toBeGreaterThanOrEqual(5);
    expect(Math.abs(chat!.atMs / 1000 - chatSentAt)).toBeLessThanOrEqual(0.5);
    expect(replay.hearts.reduce((n, h) => n + h.count, 0)).toBe(3);

    // The download: H.264 + AAC, as long as the broadcast (±1 s), and Range requests work.
    const download = replay.download!;
    const full = await host.request.get(download.url);
    expect(full.status()).toBe(200);
    expect(full.headers()['content-type']).toMatch(/^video\/mp4/);
    expect(full.headers()['content-disposition']).toMatch(/^attachment; filename="/);
    const bytes = await full.body();
    expect(bytes.length).toBe(download.sizeBytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(download.sha256);
    const file = path.join(tmp, 'replay.mp4');
    writeFileSync(file, bytes);
    const probe = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file]).toString(),
    ) as Probe;
    expect(probe.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()).toEqual(['audio:aac', 'video:h264']);
    expect(Math.abs(Number(probe.format.duration) - recordedSeconds)).toBeLessThanOrEqual(1);

    const ranged = await host.request.get(download.url, { headers: { range: 'bytes=1000-1999' } });
    expect(ranged.status()).toBe(206);
    expect(ranged.headers()['content-range']).toBe(`bytes 1000-1999/${bytes.length}`);
    expect(Buffer.compare(await ranged.body(), bytes.subarray(1000, 2000))).toBe(0);

    // The replay page: the chat message shows at its moment of video time, and seeking moves the chat.
    const watcher = await newPage();
    await watcher.goto(`/replay/${id}`);
    await watcher.getByLabel('Replay video').waitFor({ timeout: 15_000 });
    const shownAt = await videoTimeWhenChatShows(watcher, 'land ho');
    expect(Math.abs(shownAt - chat!.atMs / 1000)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(shownAt - chatSentAt)).toBeLessThanOrEqual(0.5);

    const chatLog = watcher.getByRole('log', { name: 'Chat' });
    await watcher.evaluate(() => {
      const v = document.querySelector('video')!;
      v.pause();
      v.currentTime = 1;
    });
    await expect.poll(async () => (await chatLog.textContent()) ?? '', { timeout: 5000 }).not.toContain('land ho');
    await watcher.evaluate(() => {
      document.querySelector('video')!.currentTime = 7;
    });
    await expect.poll(async () => (await chatLog.textContent()) ?? '', { timeout: 5000 }).toContain('land ho');
  }, 180_000);
});
