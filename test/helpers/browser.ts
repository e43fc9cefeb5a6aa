import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * Debian's Chromium, headless, as root on these machines (see docs/web.md). By default with a
 * fake camera and microphone; `fakeDevices: false` for pages that bring their own media.
 * `unthrottled` keeps timers and rendering of pages in other windows at full rate (benchmarks
 * with several pages at once).
 */
export function launchChromium(options: { fakeDevices?: boolean; unthrottled?: boolean } = {}): Promise<Browser> {
  const { fakeDevices = true, unthrottled = false } = options;
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...(fakeDevices ? ['--use-fake-device-for-media-stream'] : []),
      '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection',
      '--autoplay-policy=no-user-gesture-required',
      ...(unthrottled ? ['--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'] : []),
    ],
  });
}

/**
 * Records every RTCPeerConnection the page creates in `window.__pcs`, so a test can read
 * WebRTC stats without the app exposing anything.
 */
export async function trackPeerConnections(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as { __pcs: RTCPeerConnection[]; RTCPeerConnection: typeof RTCPeerConnection };
    const Original = w.RTCPeerConnection;
    w.__pcs = [];
    w.RTCPeerConnection = class extends Original {
      constructor(config?: RTCConfiguration) {
        super(config);
        w.__pcs.push(this);
      }
    };
  });
}

export interface InboundStats {
  framesDecoded: number;
  frameWidth: number;
  frameHeight: number;
  audioPackets: number;
}

/** Sums inbound RTP stats over the page's peer connections (the largest video stream counts). */
export function inboundStats(page: Page): Promise<InboundStats> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
    const out = { framesDecoded: 0, frameWidth: 0, frameHeight: 0, audioPackets: 0 };
    for (const pc of pcs) {
      const stats = await pc.getStats();
      stats.forEach((s: Record<string, unknown>) => {
        if (s.type !== 'inbound-rtp') return;
        if (s.kind === 'video' && Number(s.framesDecoded ?? 0) > out.framesDecoded) {
          out.framesDecoded = Number(s.framesDecoded ?? 0);
          out.frameWidth = Number(s.frameWidth ?? 0);
          out.frameHeight = Number(s.frameHeight ?? 0);
        }
        if (s.kind === 'audio') out.audioPackets += Number(s.packetsReceived ?? 0);
      });
    }
    return out;
  });
}

/**
 * Frames decoded so far by every inbound video stream of the page's open peer connections,
 * keyed by connection and SSRC: a stream re-created (a rejoin, another node) is a new key, so
 * a caller can tell frames of the new stream from those of the old one.
 */
export function videoFramesByStream(page: Page): Promise<Record<string, number>> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
    const out: Record<string, number> = {};
    for (const [i, pc] of pcs.entries()) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s: Record<string, unknown>) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') out[`${i}:${String(s.ssrc)}`] = Number(s.framesDecoded ?? 0);
      });
    }
    return out;
  });
}

/**
 * Plays the page's `<video>` from 0 (muted) and resolves with its currentTime (s) at the
 * moment `text` appears in the log named "Chat" — how the replay pages' chat sync is measured.
 */
export function videoTimeWhenChatShows(page: Page, text: string, timeoutMs = 20_000): Promise<number> {
  return page.evaluate(
    async ({ text, timeoutMs }) => {
      const v = document.querySelector('video')!;
      const log = document.querySelector('[role="log"][aria-label="Chat"]')!;
      await new Promise<void>((resolve, reject) => {
        if (v.readyState >= 1) resolve();
        else {
          v.addEventListener('loadedmetadata', () => resolve(), { once: true });
          v.addEventListener('error', () => reject(new Error(`video error ${v.error?.code}`)), { once: true });
        }
      });
      v.muted = true;
      v.currentTime = 0;
      return new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`chat never appeared; at ${v.currentTime}`)), timeoutMs);
        const observer = new MutationObserver(() => {
          if (!log.textContent?.includes(text)) return;
          clearTimeout(timer);
          observer.disconnect();
          resolve(v.currentTime);
        });
        observer.observe(log, { childList: true, subtree: true, characterData: true });
        void v.play();
      });
    },
    { text, timeoutMs },
  );
}
