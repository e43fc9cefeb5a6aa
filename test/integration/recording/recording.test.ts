import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastId } from '../../../common/protocol/ids.ts';
import { launchChromium, trackPeerConnections } from '../../../testkit/browser.ts';
import { goLiveInPage, signUpInPage, waitForReplay, waitUntilSending } from '../../../testkit/liveUi.ts';
import { connect, nextEvent, ok, request, signUp, startTestServer, type TestServer } from '../../../testkit/server.ts';
import { spawnWorkers, type WorkersProcess } from '../../../testkit/workers.ts';

/** Duration (s) of a media file, per ffprobe. */
function probeDuration(file: string): number {
  const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file]).toString();
  return Number(out.trim());
}

/**
 * Recording against its faults, with a real SFU, real Redis, real workers processes running
 * ffmpeg, and a real Chromium broadcaster (fake camera and microphone).
 */
describe('recording survives faults', () => {
  let server: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const workers: WorkersProcess[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    browser = await launchChromium();
  });
  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close().catch(() => {});
    for (const w of workers.splice(0)) await w.stop();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function broadcasterPage(username: string): Promise<Page> {
    const context = await browser.newContext({ baseURL: server.url });
    contexts.push(context);
    const page = await context.newPage();
    await trackPeerConnections(page);
    await signUpInPage(page, username);
    return page;
  }

  async function startWorkers(env: Record<string, string> = {}): Promise<WorkersProcess> {
    const w = await spawnWorkers(server.config, env);
    workers.push(w);
    return w;
  }

  it('keeps recording through a 2-second gap in the broadcaster stream: one recording, one run', async () => {
    await startWorkers();
    const page = await broadcasterPage('gappy');
    const id = (await goLiveInPage(page, 'Gap test')) as BroadcastId;
    await waitUntilSending(page);
    await page.waitForTimeout(3000);
    // A network blip: the broadcaster sends nothing at all for 2 s, then carries on.
    await page.evaluate(async () => {
      const senders = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs
        .filter((pc) => pc.signalingState !== 'closed')
        .flatMap((pc) => pc.getSenders())
        .filter((s) => s.track !== null);
      const tracks = senders.map((s) => s.track);
      await Promise.all(senders.map((s) => s.replaceTrack(null)));
      await new Promise((r) => setTimeout(r, 2000));
      await Promise.all(senders.map((s, i) => s.replaceTrack(tracks[i] ?? null)));
    });
    await page.waitForTimeout(3000);
    // The recorder keeps its run's segment index (index.json) beside the stored segments as it records.
    const recordingDir = path.join(server.dataDir, 'recordings', id);
    const indexed = () => {
      const [run] = readdirSync(recordingDir);
      if (!run || !existsSync(path.join(recordingDir, run, 'index.json'))) return [];
      return (JSON.parse(readFileSync(path.join(recordingDir, run, 'index.json'), 'utf8')) as { segments: Array<{ file: string }> }).segments.map((e) => e.file);
    };
    await expect.poll(indexed, { timeout: 10_000 }).toContain('seg-00000.mkv');
    await page.getByRole('button', { name: 'End broadcast' }).click();

    const replay = await waitForReplay(page, id);
    expect(replay.state, replay.reason ?? '').toBe('ready');
    const stored = await server.stores.replays.get(id);
    // One run: the gap did not restart (or end) the recorder.
    expect(stored?.timeline).toHaveLength(1);
    const mp4 = path.join(server.dataDir, 'replays', id, 'replay.mp4');
    // ~8 s of broadcast including the gap (the gap is kept as a held frame, so chat stays in sync).
    expect(probeDuration(mp4)).toBeGreaterThan(6.5);
  }, 180_000);

  it('produces the replay when the workers process recording it is killed with SIGKILL', async () => {
    const first = await startWorkers();
    const page = await broadcasterPage('crashy');
    const id = (await goLiveInPage(page, 'Crash test')) as BroadcastId;
    await waitUntilSending(page);
    const liveFrom = Date.now();
    await expect.poll(() => existsSync(path.join(server.dataDir, 'recordings', id)), { timeout: 10_000 }).toBe(true);
    await page.waitForTimeout(5000);
    first.kill('SIGKILL');
    await first.exited;
    // A new workers process (what the supervisor of `npm start` does) takes the stalled job over.
    await startWorkers();
    await page.waitForTimeout(10_000);
    await page.getByRole('button', { name: 'End broadcast' }).click();
    const liveSeconds = (Date.now() - liveFrom) / 1000;

    const replay = await waitForReplay(page, id);
    expect(replay.state, replay.reason ?? '').toBe('ready');
    const stored = await server.stores.replays.get(id);
    expect(stored?.timeline.length).toBeGreaterThanOrEqual(2);
    const duration = probeDuration(path.join(server.dataDir, 'replays', id, 'replay.mp4'));
    // At most ~10 s lost to the crash.
    console.info(`kill -9 of the workers process: ${liveSeconds.toFixed(1)} s live, ${duration.toFixed(1)} s in the replay`);
    expect(duration).toBeGreaterThan(liveSeconds - 10.5);
    expect(duration).toBeLessThan(liveSeconds + 1);
  }, 180_000);
});

describe('recording and disk space', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('refuses to go live, with a clear reason, when the disk is below the threshold', async () => {
    server = await startTestServer({ recording: { minFreeMb: 1e12 } });
    const alice = await signUp(server.url, 'alice');
    const socket = await connect(server.url, alice.token);
    const res = await request(socket, 'broadcast:start', { title: 'Too big', visibility: 'public', invitees: [] });
    expect(res.ok).toBe(false);
    if (!res.ok) {
      expect(res.error.code).toBe('INSUFFICIENT_STORAGE');
      expect(res.error.message).toMatch(/not enough free disk space to record: \d+ MiB free, 1000000000000 MiB required/);
    }
    // Nothing was left live.
    const live = (await (await fetch(`${server.url}/api/broadcasts`)).json()) as { broadcasts: unknown[] };
    expect(live.broadcasts).toEqual([]);
    socket.close();
  }, 180_000);

  it('stops recording with the reason shown to the broadcaster when the worker disk runs low; the replay fails clearly', async () => {
    server = await startTestServer();
    const w = await spawnWorkers(server.config, { SPYGLASS_MIN_FREE_MB: '1000000000000' });
    try {
      const bob = await signUp(server.url, 'bob');
      const socket = await connect(server.url, bob.token);
      const stopped = nextEvent(socket, 'recording:status', 15_000);
      const { broadcast } = await ok(socket, 'broadcast:start', { title: 'Low disk', visibility: 'public', invitees: [] });
      const status = await stopped;
      expect(status).toMatchObject({ broadcastId: broadcast.id, state: 'stopped' });
      expect(status.reason).toMatch(/Recording stopped: the disk has \d+ MiB free, below the 1000000000000 MiB minimum/);
      await ok(socket, 'broadcast:stop', { broadcastId: broadcast.id });
      // No media was ever recorded: the replay fails once, with the reason, instead of "processing" forever.
      await expect
        .poll(async () => (await server!.stores.replays.get(broadcast.id))?.state, { timeout: 20_000 })
        .toBe('failed');
      expect((await server.stores.replays.get(broadcast.id))?.reason).toMatch(/no media was recorded/);
      socket.close();
    } finally {
      await w.stop();
    }
  }, 180_000);
});
