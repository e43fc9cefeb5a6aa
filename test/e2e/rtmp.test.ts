import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inboundStats } from '../../testkit/browser.ts';
import { startE2e, type E2eStage } from '../../testkit/e2e.ts';
import { waitForReplay } from '../../testkit/liveUi.ts';
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
});
