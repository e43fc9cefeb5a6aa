import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goLiveInPage, signUpInPage, waitForReplay, waitUntilSending } from '../../testkit/liveUi.ts';
import { startE2e, type E2eStage } from '../../testkit/e2e.ts';
import type { WorkersProcess } from '../../testkit/workers.ts';

/** The codec (mimeType) and frames of the page's video RTP streams in one direction, from getStats. */
async function videoStreams(page: Page, type: 'inbound-rtp' | 'outbound-rtp'): Promise<Array<{ mimeType: string; frames: number }>> {
  return page.evaluate(async (t) => {
    const out: Array<{ mimeType: string; frames: number }> = [];
    for (const pc of (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs) {
      const stats = await pc.getStats();
      stats.forEach((s: Record<string, unknown>) => {
        if (s.type !== t || s.kind !== 'video') return;
        const codec = typeof s.codecId === 'string' ? (stats.get(s.codecId) as { mimeType?: string } | undefined) : undefined;
        out.push({ mimeType: codec?.mimeType ?? '', frames: Number(s.framesDecoded ?? s.framesEncoded ?? 0) });
      });
    }
    return out;
  }, type);
}

/**
 * Chromium broadcasts in H.264 (the page's default where the browser encodes it), a viewer
 * decodes it, and the replay's MP4 is a remux of what was sent: real SFU, Redis, workers
 * process with ffmpeg. The VP8 path is replay.test.ts.
 */
describe('H.264 broadcast in Chromium', () => {
  let e2e: E2eStage | undefined;
  let workers: WorkersProcess;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'spyglass-h264-e2e-'));

  beforeAll(async () => {
    e2e = await startE2e({ workers: true });
    workers = e2e.workers!;
  });
  afterAll(async () => {
    await e2e?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const newPage = (): Promise<Page> => e2e!.newPage();

  it('sends H.264, a viewer decodes it, and the replay MP4 copies it (no re-encode)', async () => {
    const host = await newPage();
    await signUpInPage(host, 'helmsman');
    const id = await goLiveInPage(host, 'H.264 at sea');
    await waitUntilSending(host);
    const sent = await videoStreams(host, 'outbound-rtp');
    expect(sent).toHaveLength(3); // simulcast: three H.264 layers
    expect(sent.every((s) => s.mimeType === 'video/H264'), JSON.stringify(sent)).toBe(true);

    const viewer = await newPage();
    await viewer.goto(`/watch/${id}`);
    await expect
      .poll(async () => (await videoStreams(viewer, 'inbound-rtp')).find((s) => s.frames > 0), { timeout: 20_000, interval: 250 })
      .toMatchObject({ mimeType: 'video/H264' });

    await host.waitForTimeout(6000);
    await host.getByRole('button', { name: 'End broadcast' }).click();
    const endedAt = Date.now();

    const replay = await waitForReplay(host, id, 90_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\nworkers said:\n${workers.output().slice(-6000)}`);
    });
    const readyAfterMs = Date.now() - endedAt;
    expect(replay.state, replay.reason ?? '').toBe('ready');
    expect(replay.download).not.toBeNull();
    // The finalize job says how it made the MP4: copied, not transcoded.
    expect(workers.output()).toMatch(/"mp4Video":"copy"/);
    expect(workers.output()).not.toMatch(/"mp4Video":"transcode"/);
    // The recorder encoded the audio to AAC while recording, so finalize encoded nothing: the
    // MP4's audio was copied too (what finalize ran, as it logs it).
    expect(workers.output()).toMatch(/"aac":true[^\n]*"recorder run started"/);
    expect(workers.output()).toMatch(/"mp4Audio":"copy"/);
    expect(workers.output()).not.toMatch(/"mp4Audio":"(encode|mixed)"/);

    const bytes = await (await host.request.get(replay.download!.url)).body();
    const file = path.join(tmp, 'replay.mp4');
    writeFileSync(file, bytes);
    const probe = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file]).toString(),
    ) as { format: { duration: string }; streams: Array<{ codec_type: string; codec_name: string; profile?: string; duration?: string }> };
    expect(probe.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()).toEqual(['audio:aac', 'video:h264']);
    // Audio as long as the video (the recorded AAC covers the run).
    const duration = (type: string) => Number(probe.streams.find((s) => s.codec_type === type)?.duration);
    expect(Math.abs(duration('audio') - duration('video')), `audio ${duration('audio')} s, video ${duration('video')} s`).toBeLessThanOrEqual(0.3);
    // Chromium's encoder (OpenH264) wrote these frames: a libx264 re-encode leaves its "x264 - core" SEI in the stream.
    expect(bytes.includes('x264 - core')).toBe(false);
    expect(probe.streams.find((s) => s.codec_type === 'video')?.profile).toMatch(/Baseline/);
    execFileSync('ffmpeg', ['-v', 'error', '-xerror', '-i', file, '-f', 'null', '-']);

    // Before the MP4, the preview: the recorded H.264 and Opus in MP4 (video.mp4), which Chromium plays as it is.
    expect(workers.output()).toMatch(/replay preview ready/);
    expect(replay.sources.videoMp4).toBe(`/api/replays/${id}/video.mp4`);
    const played = await viewer.evaluate(async (url) => {
      const v = document.createElement('video') as HTMLVideoElement & { webkitAudioDecodedByteCount: number; webkitVideoDecodedByteCount: number };
      v.muted = true;
      v.src = url;
      document.body.append(v);
      await v.play();
      await new Promise((r) => setTimeout(r, 1500));
      return { time: v.currentTime, audioBytes: v.webkitAudioDecodedByteCount, videoBytes: v.webkitVideoDecodedByteCount, error: v.error?.code ?? null };
    }, replay.sources.videoMp4!);
    expect(played.error).toBeNull();
    expect(played.time).toBeGreaterThan(0.5);
    expect(played.videoBytes).toBeGreaterThan(0);
    expect(played.audioBytes).toBeGreaterThan(0);
    console.info(`H.264 e2e: replay ready ${readyAfterMs} ms after the end of a ${Number(probe.format.duration).toFixed(1)} s broadcast`);
  }, 180_000);
});
