import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { RtpIngestSession } from '../../signaling/ingest/ports.ts';
import { inboundStats } from '../../testkit/browser.ts';
import { startE2e, type E2eStage } from '../../testkit/e2e.ts';
import { signUpInPage } from '../../testkit/liveUi.ts';
import { audioProducerRtpParameters, SMOKE_CLIP, startRtpSender, synthesiseClip, videoProducerRtpParameters, type RtpSender } from '../../testkit/media.ts';

/**
 * Stream keys and an encoder's broadcast in Chromium (docs/ingest.md): a key made on /account,
 * an encoder going live with it (the ingest core fed by ffmpeg's synthetic RTP, as the RTMP
 * path feeds it), the go-live page showing that broadcast — title, count, chat, hearts — without the
 * camera and without taking its media, and its End button ending it.
 */
describe('going live from an encoder with a stream key, seen on /account and /live', () => {
  let stage: E2eStage;
  let sender: RtpSender | undefined;
  let session: RtpIngestSession | undefined;

  beforeAll(async () => {
    stage = await startE2e();
  });
  afterAll(async () => {
    await sender?.stop();
    await session?.end();
    await stage?.close();
  });

  it('creates a key on /account, shows the encoder’s broadcast on /live with count and chat, ends it there, revokes the key', async () => {
    const { server } = stage;
    const host = await stage.newPage();
    await signUpInPage(host, 'obs_owner');

    // /account: create a key; its secret is shown once, with the WHIP URL.
    await host.goto('/account');
    await host.getByRole('heading', { name: 'Stream keys' }).waitFor();
    await host.getByRole('textbox', { name: 'Key name' }).fill('OBS at home');
    await host.getByRole('textbox', { name: 'Broadcast title' }).fill('Harbour from OBS');
    await host.getByRole('button', { name: 'Create stream key' }).click();
    const secretCode = host.getByLabel('Stream key secret');
    await secretCode.waitFor();
    const secret = (await secretCode.textContent()) ?? '';
    expect(secret).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    expect(await host.getByLabel('WHIP URL').textContent()).toBe(`${new URL(server.url).origin}/whip`);
    await host.getByRole('button', { name: 'Copy key' }).waitFor();
    const list = host.getByRole('list', { name: 'Your stream keys' });
    await expect.poll(async () => (await list.textContent()) ?? '').toContain('OBS at home');
    expect(await list.textContent()).not.toContain(secret);

    // The encoder goes live with it: synthetic VP8 + Opus over plain RTP.
    session = await server.ingest.broadcasts.open(secret, '127.0.0.1', 'rtmp');
    const id: BroadcastId = session.broadcastId;
    const video = await session.produceRtp('video', videoProducerRtpParameters);
    const audio = await session.produceRtp('audio', audioProducerRtpParameters);
    sender = startRtpSender(await synthesiseClip(SMOKE_CLIP), video.rtp, audio.rtp);

    // /live shows it: the title, no camera preview, the count and chat.
    await host.goto('/live');
    const encoder = host.getByRole('region', { name: 'Live from your encoder' });
    await encoder.waitFor({ timeout: 10_000 });
    expect(await encoder.textContent()).toContain('Harbour from OBS');
    expect(await host.getByLabel('Camera preview').isVisible()).toBe(false);
    expect(await host.getByRole('button', { name: 'Go live' }).isVisible()).toBe(false);
    await expect.poll(async () => (await host.getByRole('status', { name: 'Viewer count' }).textContent()) ?? '').toContain('0 watching');

    // A viewer watches (frames decoded) and chats; the page counts them and shows the message.
    const viewer = await stage.newPage();
    await signUpInPage(viewer, 'obs_viewer');
    await viewer.goto(`/watch/${id}`);
    await expect.poll(async () => (await inboundStats(viewer)).framesDecoded, { timeout: 20_000, interval: 250 }).toBeGreaterThan(10);
    await expect.poll(async () => (await host.getByRole('status', { name: 'Viewer count' }).textContent()) ?? '', { timeout: 10_000 }).toContain('1 watching');
    await viewer.getByRole('textbox', { name: 'Chat message' }).fill('nice scene');
    await viewer.getByRole('button', { name: 'Send', exact: true }).click();
    await expect.poll(async () => (await host.getByRole('log', { name: 'Chat' }).textContent()) ?? '', { timeout: 10_000 }).toContain('obs_viewer: nice scene');
    await host.getByRole('textbox', { name: 'Chat message' }).fill('thanks!');
    await host.getByRole('button', { name: 'Send', exact: true }).click();
    await expect.poll(async () => (await viewer.getByRole('log', { name: 'Chat' }).textContent()) ?? '', { timeout: 10_000 }).toContain('obs_owner: thanks!');

    for (let i = 0; i < 2; i++) await viewer.getByRole('button', { name: 'Send a heart' }).click();
    await expect.poll(async () => Number((await host.getByLabel('Hearts', { exact: true }).textContent())?.trim() ?? 0), { timeout: 10_000 }).toBe(2);

    // The page took nothing over: the encoder is still the broadcaster, with both its producers.
    expect(server.live.onAir(id)?.broadcasterPeerId).toMatch(/^ingest:/);
    expect(server.live.onAir(id)?.media.producers).toHaveLength(2);

    // End on the page ends the encoder's broadcast.
    await host.getByRole('button', { name: 'End broadcast' }).click();
    await expect(session.closed).resolves.toBe('stopped');
    await host.getByRole('heading', { name: 'Broadcast ended' }).waitFor({ timeout: 10_000 });
    await viewer.getByText('Broadcast ended').first().waitFor({ timeout: 10_000 });
    await sender.stop();
    await session.end();

    // Revoked on /account: the key starts nothing any more.
    await host.goto('/account');
    await host.getByRole('button', { name: 'Revoke OBS at home' }).click();
    await expect.poll(async () => (await host.getByRole('list', { name: 'Your stream keys' }).textContent()) ?? '').toContain('You have no stream keys.');
    await expect(server.ingest.broadcasts.open(secret, '127.0.0.1', 'rtmp')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  }, 120_000);
});
