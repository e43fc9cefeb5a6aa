import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { videoFramesByStream } from '../../testkit/browser.ts';
import { startE2e, type E2eStage } from '../../testkit/e2e.ts';
import { goLiveInPage, signUpInPage, waitUntilSending } from '../../testkit/liveUi.ts';

/** What the player page answers about its WHEP session. */
interface PlayerState {
  status: number;
  location: string | null;
  etag: string | null;
  error?: string;
}

/**
 * WHEP playback in Chromium: a broadcaster goes live from /live; a player on another origin
 * (a plain RTCPeerConnection, recvonly audio and video, the WHEP exchange by fetch, no
 * mediasoup-client, no cookie) decodes the video; the broadcaster's viewer count goes up by
 * one while it plays and down after its DELETE.
 */
describe('WHEP playback in Chromium', () => {
  let e2e: E2eStage | undefined;
  let playerOrigin: http.Server | undefined;
  let playerUrl = '';

  beforeAll(async () => {
    e2e = await startE2e({ server: { mediasoup: { numWorkers: 1 }, recording: { enabled: false } } });
    // The player's page: another origin (another port), an empty page.
    playerOrigin = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>WHEP player</title><p>player</p>');
    });
    await new Promise<void>((resolve) => playerOrigin?.listen(0, '127.0.0.1', resolve));
    playerUrl = `http://127.0.0.1:${(playerOrigin.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await e2e?.close();
    await new Promise<void>((resolve) => (playerOrigin ? playerOrigin.close(() => resolve()) : resolve()));
  });

  /** The player's WHEP POST, from its page; the peer connection stays on `window.__whep`. */
  function play(page: Page, endpoint: string): Promise<PlayerState> {
    return page.evaluate(async (url) => {
      const pc = new RTCPeerConnection();
      (window as unknown as { __whep: RTCPeerConnection }).__whep = pc;
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' });
      await pc.setLocalDescription(await pc.createOffer());
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription?.sdp ?? '' });
      const body = await res.text();
      const state = { status: res.status, location: res.headers.get('location'), etag: res.headers.get('etag') };
      if (res.status !== 201) return { ...state, error: body };
      try {
        await pc.setRemoteDescription({ type: 'answer', sdp: body });
      } catch (error) {
        return { ...state, error: `setRemoteDescription: ${String(error)}\n${body}` };
      }
      return state;
    }, endpoint);
  }

  it('a plain RTCPeerConnection on another origin decodes the broadcast; the count follows it', { timeout: 120_000 }, async () => {
    const stage = e2e!;
    const host = await stage.newPage();
    await signUpInPage(host, 'whep_host');
    const broadcastId = await goLiveInPage(host, 'Seen through WHEP');
    await waitUntilSending(host);
    const count = host.getByRole('status', { name: 'Viewer count' });
    const watching = async () => (await count.textContent()) ?? '';
    await expect.poll(watching, { timeout: 10_000 }).toContain('0 watching');

    const player = await stage.newPage();
    await player.goto(playerUrl);
    const state = await play(player, `${stage.server.url}/whep/${broadcastId}`);
    expect(state.error).toBeUndefined();
    expect(state.status).toBe(201);
    expect(state.location).toMatch(new RegExp(`^/whep/${broadcastId}/[A-Za-z0-9_-]{22}$`));
    expect(state.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);

    await expect.poll(async () => Math.max(0, ...Object.values(await videoFramesByStream(player))), { timeout: 20_000, interval: 250 }).toBeGreaterThan(10);
    await expect.poll(watching, { timeout: 10_000 }).toContain('1 watching');
    expect(stage.server.live.viewerCount(broadcastId as never)).toBe(1);

    // The player leaves: DELETE on its session (CORS from its origin), and the count drops.
    const deleted = await player.evaluate(async (url) => {
      const res = await fetch(url, { method: 'DELETE' });
      (window as unknown as { __whep: RTCPeerConnection }).__whep.close();
      return res.status;
    }, `${stage.server.url}${state.location ?? ''}`);
    expect(deleted).toBe(200);
    await expect.poll(watching, { timeout: 10_000 }).toContain('0 watching');
    expect(stage.server.live.viewerCount(broadcastId as never)).toBe(0);
  });
});
