import type { Page } from 'playwright-core';

/** What {@link publishWhip} sends: the fake camera in one codec, optionally as RID simulcast. */
export interface WhipPublishOptions {
  /** The WHIP endpoint, e.g. `http://127.0.0.1:8080/whip`. */
  endpoint: string;
  /** The stream key, sent as the bearer token. */
  key: string;
  codec: 'H264' | 'VP8';
  /** Three layers by RID, lowest first (`q` ¼, `h` ½, `f` full), as Chromium's sendEncodings take them. */
  simulcast?: boolean;
}

/** The page's WHIP session: its resource URL (absolute) and ETag. */
export interface WhipPublished {
  location: string;
  etag: string;
}

/**
 * A WHIP client per RFC 9725 in the page (a secure context: localhost or 127.0.0.1): the fake
 * camera and microphone as sendonly transceivers of a max-bundle RTCPeerConnection, the codec
 * preferred with setCodecPreferences, every candidate gathered before the POST (no trickle, as
 * OBS does), then the answer set. The connection stays in `window.__whip` (and in `__pcs` when
 * the page tracks peer connections: testkit/browser.ts). Throws with the server's answer unless
 * it is 201.
 */
export async function publishWhip(page: Page, o: WhipPublishOptions): Promise<WhipPublished> {
  return page.evaluate(async ({ endpoint, key, codec, simulcast }) => {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 1280, height: 720, frameRate: 30 } });
    const [audio] = stream.getAudioTracks();
    const [video] = stream.getVideoTracks();
    if (!audio || !video) throw new Error('no fake camera or microphone');
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    pc.addTransceiver(audio, { direction: 'sendonly', streams: [stream] });
    const layers: RTCRtpEncodingParameters[] = [
      { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
      { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
      { rid: 'f', maxBitrate: 1_500_000 },
    ];
    const transceiver = pc.addTransceiver(video, { direction: 'sendonly', streams: [stream], ...(simulcast ? { sendEncodings: layers } : {}) });
    const mimeType = `video/${codec}`;
    const codecs = RTCRtpSender.getCapabilities('video')?.codecs ?? [];
    transceiver.setCodecPreferences([...codecs.filter((c) => c.mimeType === mimeType), ...codecs.filter((c) => c.mimeType !== mimeType)]);
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise<void>((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      else pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
    });
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp', authorization: `Bearer ${key}` },
      body: pc.localDescription?.sdp ?? '',
    });
    const body = await res.text();
    if (res.status !== 201) {
      pc.close();
      throw new Error(`WHIP POST answered ${res.status}: ${body}`);
    }
    const location = res.headers.get('location');
    const etag = res.headers.get('etag');
    if (!location || !etag) throw new Error('the WHIP answer has no Location or ETag (CORS must expose them)');
    await pc.setRemoteDescription({ type: 'answer', sdp: body });
    (window as unknown as { __whip: RTCPeerConnection }).__whip = pc;
    return { location: new URL(location, endpoint).href, etag };
  }, o);
}

/** Ends the page's WHIP session (`DELETE` its resource) and closes its connection; resolves with the status. */
export async function unpublishWhip(page: Page, published: WhipPublished, key: string): Promise<number> {
  return page.evaluate(
    async ({ location, key }) => {
      const res = await fetch(location, { method: 'DELETE', headers: { authorization: `Bearer ${key}` } });
      (window as unknown as { __whip?: RTCPeerConnection }).__whip?.close();
      return res.status;
    },
    { location: published.location, key },
  );
}
