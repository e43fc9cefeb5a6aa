import dgram from 'node:dgram';
import type { RtpEndpoint } from '../../testkit/media.ts';

/**
 * Sits between the synthetic broadcaster (ffmpeg) and Spyglass's ingest and counts what was
 * sent: every VP8 frame (RTP timestamp, size of its VP8 data, keyframe or not, when it left)
 * and every Opus packet. ffmpeg sends its RTP here and its RTCP straight to the ingest.
 * `stop()` ends the forwarding at an exact frame boundary: what the relay counted is exactly
 * what reached the SFU.
 */

export interface SentFrame {
  /** RTP timestamp (90 kHz). */
  ts: number;
  /** Bytes of VP8 data (RTP payload minus the VP8 payload descriptor), as a WebM stores the frame. */
  size: number;
  key: boolean;
  packets: number;
  /** When its first packet was forwarded (epoch ms). */
  sentAt: number;
}

export class FrameRelay {
  /** Where ffmpeg sends RTP (its RTCP goes to the ingest's RTCP ports directly). */
  readonly endpoints: { video: RtpEndpoint; audio: RtpEndpoint };
  readonly frames: SentFrame[] = [];
  audioPackets = 0;
  /** Datagrams that were not RTP of the expected payload type (ignored). */
  malformed = 0;
  readonly #video: dgram.Socket;
  readonly #audio: dgram.Socket;
  #forwarding = true;
  #current: SentFrame | null = null;

  readonly #codec: 'vp8' | 'h264';

  private constructor(video: dgram.Socket, audio: dgram.Socket, target: { video: RtpEndpoint; audio: RtpEndpoint }, videoPt: number, codec: 'vp8' | 'h264') {
    this.#codec = codec;
    this.#video = video;
    this.#audio = audio;
    this.endpoints = {
      video: { ip: '127.0.0.1', port: video.address().port, rtcpPort: target.video.rtcpPort },
      audio: { ip: '127.0.0.1', port: audio.address().port, rtcpPort: target.audio.rtcpPort },
    };
    video.on('message', (msg) => {
      if (!this.#forwarding) return;
      this.#countVideo(msg, videoPt);
      video.send(msg, target.video.port, target.video.ip);
    });
    audio.on('message', (msg) => {
      if (!this.#forwarding) return;
      this.audioPackets += 1;
      audio.send(msg, target.audio.port, target.audio.ip);
    });
  }

  /** `codec` 'h264': frames are counted by RTP timestamp, `size` is the RTP payload, `key` an IDR slice (NAL type 5). */
  static async open(target: { video: RtpEndpoint; audio: RtpEndpoint }, videoPt: number, codec: 'vp8' | 'h264' = 'vp8'): Promise<FrameRelay> {
    const bind = async () => {
      const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
      socket.on('error', () => undefined);
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
      return socket;
    };
    return new FrameRelay(await bind(), await bind(), target, videoPt, codec);
  }

  /**
   * Stops forwarding after the frame in progress (waits for its marker bit, at most 200 ms),
   * so that the last frame counted is a whole one. Resolves with the time forwarding stopped.
   */
  async stop(): Promise<number> {
    const until = Date.now() + 200;
    while (this.#current !== null && Date.now() < until) await new Promise((r) => setTimeout(r, 1));
    this.#forwarding = false;
    // A frame cut short (no marker within 200 ms) was not wholly sent: it does not count.
    if (this.#current !== null) this.frames.pop();
    this.#current = null;
    return Date.now();
  }

  close(): void {
    this.#forwarding = false;
    this.#video.close();
    this.#audio.close();
  }

  #countVideo(msg: Buffer, videoPt: number): void {
    if (msg.length < 12 || msg[0]! >> 6 !== 2 || (msg[1]! & 0x7f) !== videoPt) {
      this.malformed += 1;
      return;
    }
    const marker = (msg[1]! & 0x80) !== 0;
    const ts = msg.readUInt32BE(4);
    let off = 12 + (msg[0]! & 0x0f) * 4;
    if (msg[0]! & 0x10) off += 4 + msg.readUInt16BE(off + 2) * 4; // header extension
    let end = msg.length;
    if (msg[0]! & 0x20) end -= msg[msg.length - 1]!; // padding
    if (this.#codec === 'h264') {
      this.#countH264(msg, ts, off, end, marker);
      return;
    }
    // VP8 payload descriptor (RFC 7741 §4.2).
    const b0 = msg[off]!;
    const start = (b0 & 0x10) !== 0 && (b0 & 0x07) === 0;
    let p = off + 1;
    if (b0 & 0x80) {
      const x = msg[p++]!;
      if (x & 0x80) p += msg[p]! & 0x80 ? 2 : 1; // PictureID
      if (x & 0x40) p += 1; // TL0PICIDX
      if (x & 0x30) p += 1; // TID / KEYIDX
    }
    const size = Math.max(0, end - p);
    let frame = this.#current;
    if (frame === null || frame.ts !== ts) {
      frame = { ts, size: 0, key: false, packets: 0, sentAt: Date.now() };
      this.frames.push(frame);
      this.#current = frame;
    }
    // The VP8 payload header's P bit (0: keyframe), in the first packet of the frame.
    if (start && size > 0) frame.key = (msg[p]! & 0x01) === 0;
    frame.size += size;
    frame.packets += 1;
    if (marker) this.#current = null;
  }

  /** H.264 (RFC 6184): single NAL, STAP-A (24) or FU-A (28); an IDR slice (type 5) makes a keyframe. */
  #countH264(msg: Buffer, ts: number, off: number, end: number, marker: boolean): void {
    let frame = this.#current;
    if (frame === null || frame.ts !== ts) {
      frame = { ts, size: 0, key: false, packets: 0, sentAt: Date.now() };
      this.frames.push(frame);
      this.#current = frame;
    }
    const type = (msg[off] ?? 0) & 0x1f;
    const types: number[] = [];
    if (type === 28) types.push((msg[off + 1] ?? 0) & 0x1f);
    else if (type === 24) {
      for (let p = off + 1; p + 2 < end; p += 2 + msg.readUInt16BE(p)) types.push((msg[p + 2] ?? 0) & 0x1f);
    } else types.push(type);
    if (types.includes(5)) frame.key = true;
    frame.size += Math.max(0, end - off);
    frame.packets += 1;
    if (marker) this.#current = null;
  }
}
