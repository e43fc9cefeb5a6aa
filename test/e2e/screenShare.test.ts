import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import { inboundStats, videoFramesByStream } from '../../testkit/browser.ts';
import { goLiveInPage, signUpInPage, waitForReplay, waitUntilSending } from '../../testkit/liveUi.ts';
import { type TestServer } from '../../testkit/server.ts';
import { startE2e, type E2eStage } from '../../testkit/e2e.ts';

/**
 * Screen sharing on /live in real Chromium: headless Chromium with `--use-fake-ui-for-media-stream`
 * (the picker answers itself) and `--use-fake-device-for-media-stream` (a fake screen, like the
 * fake camera) gives `getDisplayMedia` a screen without any other flag. The broadcaster switches
 * camera → screen → camera while live; a viewer keeps decoding the same stream throughout, and
 * the recording keeps its one run.
 */
describe('screen sharing on /live in Chromium', () => {
  let stage: E2eStage;
  let server: TestServer;

  beforeAll(async () => {
    stage = await startE2e({ workers: true });
    server = stage.server;
  });
  afterAll(async () => {
    await stage?.close();
  });
  const newPage = (): Promise<Page> => stage.newPage();

  /** What the broadcaster's video sender sends: a screen ('monitor', 'window', 'browser') or the camera (null). */
  const sentSurface = (page: Page): Promise<string | null> =>
    page.evaluate(() => {
      const senders = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs
        .filter((pc) => pc.connectionState !== 'closed')
        .flatMap((pc) => pc.getSenders())
        .filter((s) => s.track?.kind === 'video');
      const settings = senders[0]?.track?.getSettings() as (MediaTrackSettings & { displaySurface?: string }) | undefined;
      return settings?.displaySurface ?? null;
    });

  /** The video streams the viewer decodes (mediasoup's probation stream, SSRC 1234, carries no frames and is left out). */
  const decoding = async (viewer: Page): Promise<Record<string, number>> =>
    Object.fromEntries(Object.entries(await videoFramesByStream(viewer)).filter(([, frames]) => frames > 0));

  /** The viewer keeps decoding on the streams it had (no new consumer): at least 10 more frames on each, and no other stream. */
  async function keepsDecoding(viewer: Page, streams: Record<string, number>): Promise<Record<string, number>> {
    const keys = Object.keys(streams).sort();
    expect(keys.length).toBeGreaterThan(0);
    await expect
      .poll(
        async () => {
          const now = await decoding(viewer);
          return Object.keys(now).sort().join() === keys.join() && keys.every((k) => (now[k] ?? 0) > (streams[k] ?? 0) + 10);
        },
        { timeout: 15_000 },
      )
      .toBe(true);
    return decoding(viewer);
  }

  it('switches camera → screen → camera while live: the viewer keeps its stream, the recording its run', async () => {
    const host = await newPage();
    await signUpInPage(host, 'screencaster');
    const id = (await goLiveInPage(host, 'Slides')) as BroadcastId;
    await waitUntilSending(host);
    const source = host.getByRole('status', { name: 'Video source' });
    expect(await source.textContent()).toBe('Sending: camera');
    expect(await sentSurface(host)).toBeNull();
    await host.getByText('Recording for the replay').waitFor({ timeout: 15_000 });

    const viewer = await newPage();
    await viewer.goto(`/watch/${id}`);
    await expect.poll(async () => (await inboundStats(viewer)).framesDecoded, { timeout: 20_000 }).toBeGreaterThan(10);
    let streams = await decoding(viewer);

    await host.getByRole('button', { name: 'Share screen' }).click();
    await expect.poll(() => source.textContent(), { timeout: 10_000 }).toBe('Sending: your screen');
    expect(await sentSurface(host)).toBe('monitor');
    // The preview shows what is sent: the screen alone.
    expect(
      await host.evaluate(() =>
        (document.querySelector<HTMLVideoElement>('video[aria-label="Camera preview"]')?.srcObject as MediaStream).getVideoTracks().map((t) => (t.getSettings() as MediaTrackSettings & { displaySurface?: string }).displaySurface ?? 'camera'),
      ),
    ).toEqual(['monitor']);
    streams = await keepsDecoding(viewer, streams);

    await host.getByRole('button', { name: 'Use camera' }).click();
    await expect.poll(() => source.textContent(), { timeout: 10_000 }).toBe('Sending: camera');
    expect(await sentSurface(host)).toBeNull();
    await keepsDecoding(viewer, streams);
    expect(await host.getByText('Recording for the replay').isVisible()).toBe(true);

    await host.getByRole('button', { name: 'End broadcast' }).click();
    const replay = await waitForReplay(host, id, 90_000);
    expect(replay.state, replay.reason ?? '').toBe('ready');
    // One run: switching the source never restarted (or stopped) the recorder.
    expect((await server.stores.replays.get(id))?.timeline).toHaveLength(1);
  }, 180_000);

  it('shares the screen before going live: the broadcast starts with it', async () => {
    const host = await newPage();
    await signUpInPage(host, 'screenfirst');
    await host.goto('/live');
    await host.getByRole('button', { name: 'Share screen' }).click();
    await expect.poll(() => host.getByRole('status', { name: 'Video source' }).textContent(), { timeout: 10_000 }).toBe('Sending: your screen');
    await host.getByRole('textbox', { name: 'Title' }).fill('Screen from the start');
    await host.getByRole('radio', { name: 'Public' }).check();
    await host.getByRole('button', { name: 'Go live' }).click();
    await host.getByRole('link', { name: 'Watch link' }).waitFor({ timeout: 20_000 });
    await waitUntilSending(host);
    expect(await sentSurface(host)).toBe('monitor');
    await host.getByRole('button', { name: 'End broadcast' }).click();
  }, 120_000);
});
