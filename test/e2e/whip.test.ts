import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import { startE2e, type E2eStage } from '../../testkit/e2e.ts';
import { waitForReplay } from '../../testkit/liveUi.ts';
import { signUp } from '../../testkit/server.ts';
import { publishWhip, unpublishWhip } from '../../testkit/whipClient.ts';

/** The page's video RTP streams in one direction: codec, RID, frames and bytes, from getStats. */
async function videoStreams(page: Page, type: 'inbound-rtp' | 'outbound-rtp'): Promise<Array<{ mimeType: string; rid: string; frames: number; bytes: number }>> {
  return page.evaluate(async (t) => {
    const out: Array<{ mimeType: string; rid: string; frames: number; bytes: number }> = [];
    for (const pc of (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs) {
      if (pc.connectionState === 'closed') continue;
      const stats = await pc.getStats();
      stats.forEach((s: Record<string, unknown>) => {
        if (s.type !== t || s.kind !== 'video') return;
        const codec = typeof s.codecId === 'string' ? (stats.get(s.codecId) as { mimeType?: string } | undefined) : undefined;
        out.push({
          mimeType: codec?.mimeType ?? '',
          rid: typeof s.rid === 'string' ? s.rid : '',
          frames: Number(s.framesDecoded ?? s.framesEncoded ?? 0),
          bytes: Number(s.bytesReceived ?? s.bytesSent ?? 0),
        });
      });
    }
    return out;
  }, type);
}

/**
 * WHIP end to end: Chromium as the encoder (testkit/whipClient.ts, a WHIP client per RFC 9725 on
 * a page of another origin, so CORS is exercised), the real server, SFU, Redis and workers
 * process; a viewer on /watch decodes the broadcast, DELETE ends it and its replay is produced.
 * Once H.264 + Opus as OBS sends, once VP8 in three simulcast layers by RID.
 */
describe('WHIP ingest in Chromium', () => {
  let e2e: E2eStage | undefined;
  /** Serves the encoder's page on a loopback port of its own: another origin than the server's, in the same (loopback) address space. */
  let encoderSite: Server | undefined;

  beforeAll(async () => {
    e2e = await startE2e({ workers: true });
    encoderSite = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>encoder</title>'));
    await new Promise<void>((resolve) => encoderSite!.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => (encoderSite ? encoderSite.close(resolve) : resolve(undefined)));
    await e2e?.close();
  });

  /** A page of http://localhost:<its own port> (the server is http://127.0.0.1:<port>): a WHIP client of another origin. */
  async function encoderPage(): Promise<Page> {
    const page = await e2e!.newPage();
    await page.goto(`http://localhost:${(encoderSite!.address() as AddressInfo).port}/`);
    return page;
  }

  async function keyOf(username: string, title: string): Promise<string> {
    const auth = await signUp(e2e!.server.url, username);
    return (await e2e!.server.stores.streamKeys.create(auth.user.id, { name: 'encoder', title, visibility: 'public' })).secret;
  }

  async function broadcastOf(title: string): Promise<BroadcastId> {
    let id: BroadcastId | undefined;
    await expect
      .poll(async () => {
        const res = await fetch(`${e2e!.server.url}/api/broadcasts`);
        const { broadcasts } = (await res.json()) as { broadcasts: Array<{ id: BroadcastId; title: string; source: string }> };
        const found = broadcasts.find((b) => b.title === title);
        id = found?.id;
        return found?.source;
      })
      .toBe('whip');
    return id!;
  }

  async function publishWatchEnd(o: { username: string; title: string; codec: 'H264' | 'VP8'; simulcast: boolean }): Promise<void> {
    const key = await keyOf(o.username, o.title);
    const encoder = await encoderPage();
    const published = await publishWhip(encoder, { endpoint: `${e2e!.server.url}/whip`, key, codec: o.codec, simulcast: o.simulcast });
    const id = await broadcastOf(o.title);

    // The encoder sends what it offered: one stream, or the three RID layers (each encoding frames: the SFU's feedback let it ramp up).
    await expect
      .poll(async () => (await videoStreams(encoder, 'outbound-rtp')).filter((s) => s.frames > 10).map((s) => `${s.mimeType}:${s.rid}`).sort(), { timeout: 30_000, interval: 250 })
      .toEqual(o.simulcast ? [`video/${o.codec}:f`, `video/${o.codec}:h`, `video/${o.codec}:q`] : [`video/${o.codec}:`]);

    const viewer = await e2e!.newPage();
    await viewer.goto(`/watch/${id}`);
    await expect
      .poll(async () => (await videoStreams(viewer, 'inbound-rtp')).find((s) => s.frames > 30), { timeout: 30_000, interval: 250 })
      .toMatchObject({ mimeType: `video/${o.codec}` });
    expect(e2e!.server.live.viewerCount(id)).toBe(1);

    expect(await unpublishWhip(encoder, published, key)).toBe(200);
    expect((await e2e!.server.stores.broadcasts.get(id))?.status).toBe('ended');
    const replay = await waitForReplay(viewer, id, 120_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\nworkers said:\n${e2e!.workers?.output().slice(-6000) ?? ''}`);
    });
    expect(replay.state, replay.reason ?? '').toBe('ready');
    expect(replay.durationMs).toBeGreaterThan(1000);
  }

  it('H.264 + Opus (as OBS sends): a viewer decodes H.264, DELETE ends the broadcast, the replay is produced', async () => {
    await publishWatchEnd({ username: 'whip_h264', title: 'WHIP in H.264', codec: 'H264', simulcast: false });
  }, 240_000);

  it('an encoder that vanishes (its connection closed, no DELETE) leaves the broadcast reconnecting; its next POST resumes the same broadcast', async () => {
    const title = 'WHIP that comes back';
    const key = await keyOf('whip_back', title);
    const encoder = await encoderPage();
    const endpoint = `${e2e!.server.url}/whip`;
    await publishWhip(encoder, { endpoint, key, codec: 'H264' });
    const id = await broadcastOf(title);
    await expect.poll(async () => (await videoStreams(encoder, 'outbound-rtp')).some((s) => s.frames > 10), { timeout: 20_000 }).toBe(true);

    // Closing the connection sends DTLS close_notify: the transport is lost, the session dropped.
    await encoder.evaluate(() => (window as unknown as { __whip: RTCPeerConnection }).__whip.close());
    await expect.poll(async () => (await e2e!.server.stores.broadcasts.get(id))?.status, { timeout: 10_000 }).toBe('reconnecting');

    const again = await publishWhip(encoder, { endpoint, key, codec: 'H264' });
    await expect.poll(async () => (await e2e!.server.stores.broadcasts.get(id))?.status, { timeout: 10_000 }).toBe('live');
    expect((await e2e!.server.stores.broadcasts.findLiveByOwner((await e2e!.server.stores.broadcasts.get(id))!.ownerId))?.id).toBe(id);
    const viewer = await e2e!.newPage();
    await viewer.goto(`/watch/${id}`);
    await expect
      .poll(async () => (await videoStreams(viewer, 'inbound-rtp')).find((s) => s.frames > 30), { timeout: 30_000, interval: 250 })
      .toMatchObject({ mimeType: 'video/H264' });
    expect(await unpublishWhip(encoder, again, key)).toBe(200);
    expect((await e2e!.server.stores.broadcasts.get(id))?.status).toBe('ended');
  }, 240_000);

  it('an ICE restart over PATCH (RFC 9725 §4.3.2): the connection moves to the new credentials and keeps sending', async () => {
    const title = 'WHIP restarting ICE';
    const key = await keyOf('whip_restart', title);
    const encoder = await encoderPage();
    const published = await publishWhip(encoder, { endpoint: `${e2e!.server.url}/whip`, key, codec: 'H264' });
    await broadcastOf(title);
    await expect.poll(async () => (await videoStreams(encoder, 'outbound-rtp')).some((s) => s.frames > 10), { timeout: 20_000 }).toBe(true);

    const restart = await encoder.evaluate(
      async ({ location, etag, key }) => {
        const pc = (window as unknown as { __whip: RTCPeerConnection }).__whip;
        const before = /a=ice-ufrag:(\S+)/.exec(pc.remoteDescription?.sdp ?? '')?.[1];
        pc.restartIce();
        const offer = await pc.createOffer();
        await pc.setLocalDescription(offer);
        const local = { ufrag: /a=ice-ufrag:(\S+)/.exec(offer.sdp ?? '')?.[1] ?? '', pwd: /a=ice-pwd:(\S+)/.exec(offer.sdp ?? '')?.[1] ?? '' };
        const mid = /a=mid:(\S+)/.exec(offer.sdp ?? '')?.[1] ?? '0';
        const res = await fetch(location, {
          method: 'PATCH',
          headers: { 'content-type': 'application/trickle-ice-sdpfrag', 'if-match': '*', authorization: `Bearer ${key}` },
          body: `a=ice-ufrag:${local.ufrag}\r\na=ice-pwd:${local.pwd}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:${mid}\r\n`,
        });
        const fragment = await res.text();
        const remote = { ufrag: /a=ice-ufrag:(\S+)/.exec(fragment)?.[1] ?? '', pwd: /a=ice-pwd:(\S+)/.exec(fragment)?.[1] ?? '' };
        // The previous answer with the server's new credentials (WHIP renegotiates nothing else).
        const answer = (pc.remoteDescription?.sdp ?? '').replace(/a=ice-ufrag:\S+/g, `a=ice-ufrag:${remote.ufrag}`).replace(/a=ice-pwd:\S+/g, `a=ice-pwd:${remote.pwd}`);
        await pc.setRemoteDescription({ type: 'answer', sdp: answer });
        return { status: res.status, etagChanged: res.headers.get('etag') !== etag && res.headers.get('etag') !== null, local: local.ufrag, remote: remote.ufrag, before };
      },
      { location: published.location, etag: published.etag, key },
    );
    expect(restart.status).toBe(200);
    expect(restart.etagChanged).toBe(true);
    expect(restart.remote).toMatch(/^[A-Za-z0-9+/]{4,}$/);
    expect(restart.remote).not.toBe(restart.before);

    // Chromium's transport reports the new local ufrag once a pair of the new ICE generation is selected:
    // its checks were answered by the SFU under the new server credentials.
    const state = () =>
      encoder.evaluate(async () => {
        const pc = (window as unknown as { __whip: RTCPeerConnection }).__whip;
        let ufrag = '';
        let sent = 0;
        (await pc.getStats()).forEach((s: Record<string, unknown>) => {
          if (s.type === 'transport' && typeof s.iceLocalUsernameFragment === 'string') ufrag = s.iceLocalUsernameFragment;
          if (s.type === 'outbound-rtp' && s.kind === 'video') sent += Number(s.bytesSent ?? 0);
        });
        return { ufrag, sent, connection: pc.connectionState };
      });
    await expect.poll(async () => (await state()).ufrag, { timeout: 20_000 }).toBe(restart.local);
    const before = (await state()).sent;
    await expect.poll(async () => (await state()).sent - before, { timeout: 10_000 }).toBeGreaterThan(50_000);
    expect((await state()).connection).toBe('connected');
    expect(await unpublishWhip(encoder, published, key)).toBe(200);
  }, 240_000);

  it('VP8 in three simulcast layers by RID: a viewer decodes VP8, DELETE ends it, the replay is produced', async () => {
    await publishWatchEnd({ username: 'whip_vp8', title: 'WHIP in VP8 simulcast', codec: 'VP8', simulcast: true });
  }, 240_000);
});
