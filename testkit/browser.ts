import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export interface ChromiumOptions {
  /** A fake camera and microphone (default); false for pages that bring their own media. */
  fakeDevices?: boolean;
  /** Keeps timers and rendering of pages in other windows at full rate (benchmarks with several pages at once). */
  unthrottled?: boolean;
  /** Runs the browser in this network namespace (a host of scripts/cluster/HostNetwork.ts): `ip netns exec`. */
  namespace?: string;
  /** More command-line switches. */
  args?: string[];
}

/**
 * Debian's Chromium, headless, as root on these machines (see docs/web.md). By default with a
 * fake camera and microphone.
 */
export async function launchChromium(options: ChromiumOptions = {}): Promise<Browser> {
  const { fakeDevices = true, unthrottled = false, namespace, args = [] } = options;
  const executable = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (namespace === undefined) return launch(executable, fakeDevices, unthrottled, args);
  // In a namespace: a wrapper that enters it and execs Chromium (Playwright's pipes are inherited).
  if (!/^[A-Za-z0-9_-]+$/.test(namespace)) throw new Error(`namespace ${JSON.stringify(namespace)}: letters, digits, _ and - only`);
  if (executable.includes("'")) throw new Error(`Chromium's path ${JSON.stringify(executable)} has a quote`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-chromium-'));
  try {
    const wrapper = path.join(dir, 'chromium');
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${namespace} '${executable}' "$@"\n`);
    chmodSync(wrapper, 0o755);
    return await launch(wrapper, fakeDevices, unthrottled, args);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function launch(executablePath: string, fakeDevices: boolean, unthrottled: boolean, extra: string[]): Promise<Browser> {
  return chromium.launch({
    executablePath,
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
      ...extra,
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

/** One end of an ICE candidate pair, as WebRTC stats describe it. */
export interface CandidateStats {
  candidateType: string;
  address: string;
  port: number;
  protocol: string;
  /** A relay candidate's protocol to its TURN server: udp, tcp or tls. */
  relayProtocol?: string;
}

/** The candidate pair each open peer connection of the page sends and receives on (its transport's selected pair). */
export function selectedCandidatePairs(page: Page): Promise<Array<{ local: CandidateStats; remote: CandidateStats }>> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
    const out: Array<{ local: CandidateStats; remote: CandidateStats }> = [];
    const candidate = (s: Record<string, unknown> | undefined): CandidateStats => ({
      candidateType: String(s?.candidateType),
      address: String(s?.address),
      port: Number(s?.port),
      protocol: String(s?.protocol),
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a WebRTC stats field, a string in every browser; typed unknown here
      ...(s?.relayProtocol === undefined ? {} : { relayProtocol: String(s.relayProtocol) }),
    });
    for (const pc of pcs) {
      if (pc.connectionState === 'closed') continue;
      const stats = new Map<string, Record<string, unknown>>();
      (await pc.getStats()).forEach((s: Record<string, unknown>) => stats.set(String(s.id), s));
      for (const s of stats.values()) {
        if (s.type !== 'transport' || s.selectedCandidatePairId === undefined) continue;
        // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a WebRTC stats field, a string in every browser; typed unknown here
        const pair = stats.get(String(s.selectedCandidatePairId));
        out.push({ local: candidate(stats.get(String(pair?.localCandidateId))), remote: candidate(stats.get(String(pair?.remoteCandidateId))) });
      }
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
