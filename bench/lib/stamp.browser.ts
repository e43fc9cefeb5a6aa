/**
 * Browser-side code of the latency and time-to-first-frame benchmarks, bundled by esbuild
 * (`bundleBrowserScript`) and injected into Chromium pages with `page.addInitScript`. It
 * defines `window.__bench` (see {@link BenchApi}):
 *
 * - A **stamped camera**: `installCamera()` replaces `navigator.mediaDevices.getUserMedia`
 *   with a canvas stream (`captureStream(0)` + `requestFrame()` after every draw) on which a
 *   timer draws, `fps` times a second, the wall-clock time (`Date.now()`) of the draw as
 *   8 × 6 black/white blocks — 32 bits of the time (ms modulo 2³²), an 8-bit frame counter
 *   and a CRC-8 of both — plus an Opus-able audio track (an oscillator). Big blocks of full
 *   contrast survive VP8 at any simulcast layer.
 * - A **stamp reader**: `readStamps(video)` registers `requestVideoFrameCallback` on a
 *   `<video>`, draws each presented frame into a small canvas, decodes the blocks and records
 *   how old the stamp is at that moment (`Date.now()` in the callback; the same machine's
 *   wall clock as the sender's, so pages in different processes agree).
 * - **Join milestones**: `RTCPeerConnection` and `WebSocket` are wrapped so that the time
 *   (performance.now()) of every new WebSocket, its open, every new peer connection, its
 *   setRemoteDescription and setLocalDescription calls and its `connected` state is recorded; `firstFrame()` waits for a video's first presented frame.
 */

export const COLS = 8;
export const ROWS = 6;
const BITS = COLS * ROWS; // 32 stamp + 8 counter + 8 CRC
const TWO32 = 4294967296;

export interface CameraOptions {
  width: number;
  height: number;
  fps: number;
}

/** One decoded frame at the viewer. Times in ms; "age" = viewer wall clock − the stamp drawn by the sender. */
export interface StampSample {
  /** Sender's frame counter (mod 256). */
  seq: number;
  /** Wall-clock ms (epoch) at which the sender drew the frame. */
  drawnAt: number;
  /** Age of the stamp when the rVFC callback ran (Date.now() in the callback). */
  callbackMs: number;
  /** Age at the frame's expected display time (metadata.expectedDisplayTime). */
  displayMs: number;
  /** Age when the frame's last packet arrived (metadata.receiveTime), if the browser gives it. */
  receiveMs: number | null;
  width: number;
  height: number;
}

export interface StampReport {
  samples: StampSample[];
  /** Frames presented whose blocks did not decode (CRC mismatch). */
  undecodable: number;
  /** rVFC callbacks seen (decoded or not). */
  callbacks: number;
}

export interface Milestone {
  what: 'ws-new' | 'ws-open' | 'pc-new' | 'pc-remote' | 'pc-local' | 'pc-connected';
  at: number;
}

/** One socket.io request with an ack, as seen by the page: event name, sent and acked (performance.now()). */
export interface RequestTiming {
  event: string;
  sentAt: number;
  ackAt: number | null;
}

export interface FirstFrame {
  /** performance.now() in the rVFC callback of the first presented frame. */
  at: number;
  expectedDisplayTime: number;
  /** When its last packet arrived (performance.now() clock), if given. */
  receiveTime: number | null;
  width: number;
  height: number;
}

/** WebRTC video counters summed over the page's peer connections (see `rtpStats`). Times in seconds, as getStats gives them. */
export interface RtpCounters {
  inbound: {
    framesReceived: number;
    framesDecoded: number;
    framesDropped: number;
    totalDecodeTime: number;
    totalProcessingDelay: number;
    totalAssemblyTime: number;
    jitterBufferDelay: number;
    jitterBufferEmittedCount: number;
    /** What the jitter buffer aimed at (it grows with the jitter and the losses it sees). */
    jitterBufferTargetDelay: number;
    packetsReceived: number;
    packetsLost: number;
    nackCount: number;
    pliCount: number;
    freezeCount: number;
  };
  /** Over every simulcast layer. */
  outbound: { framesEncoded: number; totalEncodeTime: number; packetsSent: number; totalPacketSendDelay: number };
}

/** Every counter at zero (a page without peer connections; the sum's start). */
export function zeroCounters(): RtpCounters {
  return {
    inbound: {
      framesReceived: 0, framesDecoded: 0, framesDropped: 0, totalDecodeTime: 0, totalProcessingDelay: 0, totalAssemblyTime: 0, jitterBufferDelay: 0, jitterBufferEmittedCount: 0,
      jitterBufferTargetDelay: 0, packetsReceived: 0, packetsLost: 0, nackCount: 0, pliCount: 0, freezeCount: 0,
    },
    outbound: { framesEncoded: 0, totalEncodeTime: 0, packetsSent: 0, totalPacketSendDelay: 0 },
  };
}

export interface BenchApi {
  /** Video counters of every peer connection of this page that is still open. */
  rtpStats(): Promise<RtpCounters>;
  installCamera(opts: CameraOptions): void;
  /** Frames the camera has drawn so far. */
  framesDrawn(): number;
  readStamps(video: HTMLVideoElement): void;
  /** Returns the samples collected so far and clears them. */
  takeStamps(): StampReport;
  milestones(): Milestone[];
  /** socket.io requests sent over the page's WebSockets (`42<id>["event",…]` and their `43<id>` acks). */
  requests(): RequestTiming[];
  firstFrame(findVideo: () => HTMLVideoElement | null, timeoutMs: number): Promise<FirstFrame>;
  /** The floor, sender side: a peer connection carrying the camera's tracks; resolves with the offer (ICE gathered). */
  floorOffer(): Promise<string>;
  /** The floor, receiver side: answers, plays what arrives in a new `<video>` and reads its stamps. */
  floorAnswer(offer: string): Promise<string>;
  /** The floor, sender side: applies the answer. */
  floorAccept(answer: string): Promise<void>;
  /** Closes the floor's peer connection in this page. */
  floorClose(): void;
}

declare global {
  interface Window {
    __bench: BenchApi;
  }
}

function crc8(bytes: number[]): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

/** The 48 bits of a stamp: time (ms mod 2³²) little end first, then the counter, then the CRC. */
export function encodeStamp(ms: number, seq: number): number[] {
  const low = ms % TWO32;
  const bytes = [low & 0xff, (low >>> 8) & 0xff, (low >>> 16) & 0xff, (low >>> 24) & 0xff, seq & 0xff];
  bytes.push(crc8(bytes));
  const bits: number[] = [];
  for (const b of bytes) for (let i = 0; i < 8; i++) bits.push((b >> i) & 1);
  return bits;
}

/** Inverse of {@link encodeStamp}; null when the CRC does not match. */
export function decodeStamp(bits: number[]): { low: number; seq: number } | null {
  const bytes: number[] = [];
  for (let i = 0; i < 6; i++) {
    let b = 0;
    for (let j = 0; j < 8; j++) b |= (bits[i * 8 + j] ?? 0) << j;
    bytes.push(b);
  }
  if (crc8(bytes.slice(0, 5)) !== bytes[5]) return null;
  const low = (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16)) + bytes[3]! * 2 ** 24;
  return { low, seq: bytes[4]! };
}

/** How many ms ago (by `nowMs`, epoch) a stamp of `low` = ms mod 2³² was drawn. */
export function stampAge(nowMs: number, low: number): number {
  return (((nowMs % TWO32) - low) % TWO32 + TWO32) % TWO32;
}

function install(): BenchApi {
  // ------------------------------------------------------------ milestones --
  const milestones: Milestone[] = [];
  const pcs: RTCPeerConnection[] = [];
  const requests: RequestTiming[] = [];
  const mark = (what: Milestone['what']) => milestones.push({ what, at: performance.now() });
  const OriginalPc = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends OriginalPc {
    constructor(config?: RTCConfiguration) {
      super(config);
      mark('pc-new');
      pcs.push(this);
      // The first remote description is the SFU's first consumer offer; ICE starts with the local one.
      /* eslint-disable @typescript-eslint/no-deprecated -- the methods are wrapped, not called with their deprecated callback overloads */
      const setRemote = this.setRemoteDescription.bind(this);
      const setLocal = this.setLocalDescription.bind(this);
      this.setRemoteDescription = ((d: RTCSessionDescriptionInit) => {
        mark('pc-remote');
        return setRemote(d);
      });
      this.setLocalDescription = ((d?: RTCLocalSessionDescriptionInit) => {
        mark('pc-local');
        return setLocal(d);
      });
      /* eslint-enable @typescript-eslint/no-deprecated */
      this.addEventListener('connectionstatechange', () => {
        if (this.connectionState === 'connected') mark('pc-connected');
      });
    }
  };
  const OriginalWs = window.WebSocket;
  window.WebSocket = class extends OriginalWs {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      mark('ws-new');
      this.addEventListener('open', () => mark('ws-open'));
      // socket.io over engine.io: "4" message, "2" event / "3" ack, then the ack id.
      const pending = new Map<string, RequestTiming>();
      const send = this.send.bind(this);
      this.send = (data: Parameters<WebSocket["send"]>[0]) => {
        if (typeof data === 'string') {
          const m = /^42(\d+)\["([^"]+)"/.exec(data);
          if (m) {
            const r: RequestTiming = { event: m[2]!, sentAt: performance.now(), ackAt: null };
            pending.set(m[1]!, r);
            requests.push(r);
          }
        }
        send(data);
      };
      this.addEventListener('message', (e: MessageEvent) => {
        if (typeof e.data !== 'string') return;
        const m = /^43(\d+)/.exec(e.data);
        const r = m ? pending.get(m[1]!) : undefined;
        if (r) {
          r.ackAt = performance.now();
          pending.delete(m![1]!);
        }
      });
    }
  };

  // ---------------------------------------------------------------- camera --
  let drawn = 0;
  let camera: { canvas: HTMLCanvasElement; tracks: CanvasCaptureMediaStreamTrack[]; audio: MediaStreamTrack } | null = null;

  const startCamera = (opts: CameraOptions) => {
    const canvas = document.createElement('canvas');
    canvas.width = opts.width;
    canvas.height = opts.height;
    const ctx = canvas.getContext('2d')!;
    const tracks: CanvasCaptureMediaStreamTrack[] = [];
    const audioCtx = new AudioContext();
    const osc = audioCtx.createOscillator();
    osc.frequency.value = 440;
    const gain = audioCtx.createGain();
    gain.gain.value = 0.2;
    const dest = audioCtx.createMediaStreamDestination();
    osc.connect(gain).connect(dest);
    osc.start();
    void audioCtx.resume();
    const cw = opts.width / COLS;
    const ch = opts.height / ROWS;
    const draw = () => {
      const now = Date.now();
      const bits = encodeStamp(now, drawn);
      for (let i = 0; i < BITS; i++) {
        ctx.fillStyle = bits[i] ? '#fff' : '#000';
        ctx.fillRect((i % COLS) * cw, Math.floor(i / COLS) * ch, cw, ch);
      }
      drawn += 1;
      for (const t of tracks) if (t.readyState === 'live') t.requestFrame();
    };
    // A timer, not requestAnimationFrame: rAF may be throttled in pages that are not in front.
    setInterval(draw, 1000 / opts.fps);
    draw();
    camera = { canvas, tracks, audio: dest.stream.getAudioTracks()[0]! };
    return camera;
  };

  // ------------------------------------------------------------ the reader --
  let report: StampReport = { samples: [], undecodable: 0, callbacks: 0 };
  const scratch = document.createElement('canvas');
  scratch.width = COLS * 4;
  scratch.height = ROWS * 4;

  const gathered = async (pc: RTCPeerConnection): Promise<string> => {
    if (pc.iceGatheringState !== 'complete') {
      await new Promise<void>((resolve) => {
        const check = () => {
          if (pc.iceGatheringState === 'complete') resolve();
        };
        pc.addEventListener('icegatheringstatechange', check);
        check();
      });
    }
    return pc.localDescription!.sdp;
  };
  let floorPc: RTCPeerConnection | null = null;

  const api: BenchApi = {
    async rtpStats() {
      const c = zeroCounters();
      for (const pc of pcs) {
        if (pc.connectionState === 'closed') continue;
        (await pc.getStats()).forEach((st: Record<string, unknown>) => {
          if (st.kind !== 'video') return;
          const add = (into: Record<string, number>) => {
            for (const k of Object.keys(into)) into[k] = into[k]! + Number(st[k] ?? 0);
          };
          if (st.type === 'inbound-rtp') add(c.inbound);
          if (st.type === 'outbound-rtp') add(c.outbound);
        });
      }
      return c;
    },
    async floorOffer() {
      const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
      const pc = new RTCPeerConnection();
      floorPc = pc;
      // Audio as a call would send it; video as one encoding with the ceiling of Spyglass's top simulcast layer.
      for (const track of stream.getAudioTracks()) pc.addTrack(track, stream);
      for (const track of stream.getVideoTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream], sendEncodings: [{ maxBitrate: 1_200_000 }] });
      await pc.setLocalDescription(await pc.createOffer());
      return gathered(pc);
    },
    async floorAnswer(offer) {
      const pc = new RTCPeerConnection();
      floorPc = pc;
      const video = document.createElement('video');
      video.autoplay = true;
      video.playsInline = true;
      video.setAttribute('aria-label', 'Floor video');
      document.body.append(video);
      pc.addEventListener('track', (e) => {
        if (e.streams[0] && video.srcObject !== e.streams[0]) {
          video.srcObject = e.streams[0];
          void video.play().catch(() => undefined);
        }
      });
      api.readStamps(video);
      await pc.setRemoteDescription({ type: 'offer', sdp: offer });
      await pc.setLocalDescription(await pc.createAnswer());
      return gathered(pc);
    },
    async floorAccept(answer) {
      await floorPc!.setRemoteDescription({ type: 'answer', sdp: answer });
      // Keep the full resolution while bandwidth estimation ramps up (a direct connection starts
      // at ~300 kbit/s and would send 480×270 for a while), as the SFU path's top layer does.
      for (const sender of floorPc!.getSenders()) {
        if (sender.track?.kind !== 'video') continue;
        const params = sender.getParameters() as RTCRtpSendParameters & { degradationPreference?: string };
        params.degradationPreference = 'maintain-resolution';
        await sender.setParameters(params);
      }
    },
    floorClose() {
      floorPc?.close();
      floorPc = null;
    },
    installCamera(opts) {
      const md = navigator.mediaDevices;
      md.getUserMedia = async (constraints?: MediaStreamConstraints) => {
        const cam = camera ?? startCamera(opts);
        const out: MediaStreamTrack[] = [];
        if (constraints?.video) {
          const track = cam.canvas.captureStream(0).getVideoTracks()[0] as CanvasCaptureMediaStreamTrack;
          cam.tracks.push(track);
          out.push(track);
        }
        if (constraints?.audio) out.push(cam.audio.clone());
        return new MediaStream(out);
      };
    },
    framesDrawn: () => drawn,
    readStamps(video) {
      const ctx = scratch.getContext('2d', { willReadFrequently: true })!;
      const onFrame = (_now: number, meta: VideoFrameCallbackMetadata) => {
        const epoch = Date.now();
        const offset = epoch - performance.now();
        report.callbacks += 1;
        ctx.drawImage(video, 0, 0, scratch.width, scratch.height);
        const px = ctx.getImageData(0, 0, scratch.width, scratch.height).data;
        const bits: number[] = [];
        for (let i = 0; i < BITS; i++) {
          const x = (i % COLS) * 4;
          const y = Math.floor(i / COLS) * 4;
          let sum = 0;
          for (const [dx, dy] of [[1, 1], [2, 1], [1, 2], [2, 2]] as const) {
            const o = ((y + dy) * scratch.width + x + dx) * 4;
            sum += px[o]! + px[o + 1]! + px[o + 2]!;
          }
          bits.push(sum / 12 > 128 ? 1 : 0);
        }
        const stamp = decodeStamp(bits);
        if (stamp === null) report.undecodable += 1;
        else {
          const callbackMs = stampAge(epoch, stamp.low);
          const receive = (meta as VideoFrameCallbackMetadata & { receiveTime?: number }).receiveTime;
          report.samples.push({
            seq: stamp.seq,
            drawnAt: epoch - callbackMs,
            callbackMs,
            displayMs: Math.round((offset + meta.expectedDisplayTime - (epoch - callbackMs)) * 10) / 10,
            receiveMs: receive === undefined ? null : Math.round((offset + receive - (epoch - callbackMs)) * 10) / 10,
            width: meta.width,
            height: meta.height,
          });
        }
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    },
    takeStamps() {
      const out = report;
      report = { samples: [], undecodable: 0, callbacks: 0 };
      return out;
    },
    milestones: () => [...milestones],
    requests: () => requests.map((r) => ({ ...r })),
    firstFrame(findVideo, timeoutMs) {
      return new Promise<FirstFrame>((resolve, reject) => {
        const deadline = performance.now() + timeoutMs;
        const attach = () => {
          const video = findVideo();
          if (video === null) {
            if (performance.now() > deadline) reject(new Error('no <video> appeared'));
            else setTimeout(attach, 2);
            return;
          }
          const timer = setTimeout(() => reject(new Error(`no video frame within ${timeoutMs} ms`)), Math.max(0, deadline - performance.now()));
          video.requestVideoFrameCallback((_now, meta) => {
            const at = performance.now();
            clearTimeout(timer);
            const receive = (meta as VideoFrameCallbackMetadata & { receiveTime?: number }).receiveTime;
            resolve({ at, expectedDisplayTime: meta.expectedDisplayTime, receiveTime: receive ?? null, width: meta.width, height: meta.height });
          });
        };
        attach();
      });
    },
  };
  return api;
}

if (typeof window !== 'undefined' && (window as Partial<Window>).__bench === undefined) window.__bench = install();
