import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inboundStats } from '../../testkit/browser.ts';
import { startE2e, type E2eStage } from '../../testkit/e2e.ts';
import { signUpInPage, waitForReplay } from '../../testkit/liveUi.ts';
import { killRtmpEncoders, startRtmpEncoder } from '../../testkit/media.ts';
import { signUp } from '../../testkit/server.ts';

/**
 * An RTMP broadcast as a viewer and its owner see it (docs/ingest.md, "RTMP"): ffmpeg
 * publishes synthetic H.264 + AAC with a stream key, Chromium decodes the video and receives
 * the Opus audio on /watch, and the broadcast is recorded into a replay like any (real SFU,
 * Redis, workers process with ffmpeg).
 */
describe('RTMP broadcast in Chromium', () => {
  let e2e: E2eStage | undefined;

  beforeAll(async () => {
    e2e = await startE2e({ workers: true, server: { ingest: { rtmp: { enabled: true } } } });
  });
  afterAll(async () => {
    await killRtmpEncoders();
    await e2e?.close();
  });

  it('a viewer on /watch decodes an encoder’s H.264 and hears its audio; unpublished, it becomes a replay', async () => {
    const stage = e2e!;
    const { server } = stage;
    const owner = await signUp(server.url, 'obs_user');
    const { secret } = await server.stores.streamKeys.create(owner.user.id, { name: 'OBS', title: 'From the studio', visibility: 'public' });
    const encoder = startRtmpEncoder(`rtmp://127.0.0.1:${String(server.rtmp?.address.port)}/live/${secret}`, { size: '640x360' });
    let id: string | undefined;
    await expect
      .poll(async () => (id = (await server.stores.broadcasts.findLiveByOwner(owner.user.id))?.id), { timeout: 20_000, interval: 200 })
      .toBeDefined();

    const viewer = await stage.newPage();
    await viewer.goto(`/watch/${id!}`);
    await expect.poll(async () => (await inboundStats(viewer)).framesDecoded, { timeout: 20_000, interval: 250 }).toBeGreaterThan(30);
    const stats = await inboundStats(viewer);
    expect({ width: stats.frameWidth, height: stats.frameHeight }).toEqual({ width: 640, height: 360 });
    expect(stats.audioPackets).toBeGreaterThan(0);

    await viewer.waitForTimeout(3000);
    await encoder.unpublish();
    const replay = await waitForReplay(viewer, id!, 90_000);
    expect(replay.state, replay.reason ?? '').toBe('ready');
  }, 180_000);

  it('the go-live page shows its owner the encoder’s keyframe warning; End there disconnects the encoder', async () => {
    const stage = e2e!;
    const { server } = stage;
    const page = await stage.newPage();
    await signUpInPage(page, 'obs_warned');
    const user = await server.stores.users.findByUsername('obs_warned');
    if (!user) throw new Error('no user');
    const { secret } = await server.stores.streamKeys.create(user.id, { name: 'OBS', title: 'Long GOP', visibility: 'public' });
    const url = `rtmp://127.0.0.1:${String(server.rtmp?.address.port)}/live/${secret}`;
    const first = startRtmpEncoder(url);
    await expect.poll(async () => (await server.stores.broadcasts.findLiveByOwner(user.id))?.status, { timeout: 20_000, interval: 200 }).toBe('live');
    await page.goto('/live');
    await page.getByRole('heading', { name: 'Live from your encoder (RTMP)' }).waitFor({ timeout: 15_000 });
    // The page is in the broadcast's room: the encoder reconnects with keyframes 10 s apart (a new connection warns anew).
    await first.kill();
    await expect.poll(async () => (await server.stores.broadcasts.findLiveByOwner(user.id))?.status, { timeout: 10_000, interval: 200 }).toBe('reconnecting');
    const second = startRtmpEncoder(url, { gop: 300 });
    await page.getByRole('alert').filter({ hasText: /keyframe interval to 2 s/ }).waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'End broadcast' }).click();
    expect((await second.exited).code).not.toBe(0);
  }, 120_000);
});
