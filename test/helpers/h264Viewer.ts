import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { types as ms } from 'mediasoup';

/**
 * A plain-RTP viewer of a broadcast's H.264 video: a DirectTransport consumer on the router
 * (RTP handed to the test process as the SFU forwards it to viewers), depacketised (RFC 6184:
 * single NAL units, STAP-A, FU-A) into an Annex B stream that ffmpeg decodes.
 */
export class H264Viewer {
  readonly #transport: ms.DirectTransport;
  readonly #consumer: ms.Consumer;
  readonly #nals: Buffer[] = [];
  #fu: Buffer[] | undefined;
  packets = 0;

  private constructor(transport: ms.DirectTransport, consumer: ms.Consumer) {
    this.#transport = transport;
    this.#consumer = consumer;
    consumer.on('rtp', (packet) => this.#rtp(packet));
  }

  /** Consumes `producerId` (the H.264 video) on `router`, asking for a keyframe at once. */
  static async open(router: ms.Router, producerId: string): Promise<H264Viewer> {
    const transport = await router.createDirectTransport();
    try {
      const consumer = await transport.consume({ producerId, rtpCapabilities: router.rtpCapabilities });
      const viewer = new H264Viewer(transport, consumer);
      await consumer.requestKeyFrame();
      return viewer;
    } catch (error) {
      transport.close();
      throw error;
    }
  }

  #rtp(packet: Buffer): void {
    this.packets += 1;
    const cc = packet.readUInt8(0) & 0x0f;
    const extension = (packet.readUInt8(0) & 0x10) !== 0;
    let offset = 12 + cc * 4;
    if (extension) offset += 4 + packet.readUInt16BE(offset + 2) * 4;
    const payload = packet.subarray(offset);
    if (payload.length === 0) return;
    const type = payload.readUInt8(0) & 0x1f;
    if (type >= 1 && type <= 23) {
      this.#nals.push(Buffer.from(payload));
    } else if (type === 24) {
      for (let p = 1; p + 2 <= payload.length; ) {
        const size = payload.readUInt16BE(p);
        this.#nals.push(Buffer.from(payload.subarray(p + 2, p + 2 + size)));
        p += 2 + size;
      }
    } else if (type === 28) {
      const fuHeader = payload.readUInt8(1);
      if (fuHeader & 0x80) this.#fu = [Buffer.from([(payload.readUInt8(0) & 0xe0) | (fuHeader & 0x1f)])];
      if (!this.#fu) return;
      this.#fu.push(Buffer.from(payload.subarray(2)));
      if (fuHeader & 0x40) {
        this.#nals.push(Buffer.concat(this.#fu));
        this.#fu = undefined;
      }
    }
  }

  /** How many frames ffmpeg decodes from what arrived so far (0 before the first keyframe with its SPS and PPS). */
  async decodedFrames(): Promise<number> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'h264-viewer-'));
    try {
      const file = path.join(dir, 'video.h264');
      writeFileSync(file, Buffer.concat(this.#nals.flatMap((nal) => [Buffer.from([0, 0, 0, 1]), nal])));
      const { stdout } = await promisify(execFile)('ffprobe', [
        '-v', 'quiet', '-f', 'h264', '-select_streams', 'v:0', '-count_frames', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file,
      ]);
      return Number.parseInt(stdout.trim(), 10) || 0;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  close(): void {
    this.#consumer.close();
    this.#transport.close();
  }
}
