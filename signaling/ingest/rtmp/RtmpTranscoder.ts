import { spawn, type ChildProcess } from 'node:child_process';
import type { RtpIngestEndpoint } from '../../../sfu/rtpIngest.ts';
import { TypedEmitter } from '../../../sfu/TypedEmitter.ts';

/** Where ffmpeg sends one track, and as what. */
export interface RtpTarget {
  endpoint: RtpIngestEndpoint;
  payloadType: number;
  ssrc: number;
}

/** Past this many bytes written and not yet read by ffmpeg, it is taken for stuck. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;

/**
 * ffmpeg's arguments for one encoder connection: FLV on stdin; the H.264 video copied (SPS and
 * PPS put before every keyframe, in-band, as WebRTC viewers need them: `h264_mp4toannexb`) and
 * the audio transcoded to Opus (the only re-encode), each as plain RTP (packetization-mode 1)
 * to its comedia ingest, RTCP on its own port.
 */
export function transcoderArgs(o: { video: RtpTarget; audio: RtpTarget | undefined }): string[] {
  const url = (e: RtpIngestEndpoint) => `rtp://${e.ip}:${String(e.port)}?rtcpport=${String(e.rtcpPort)}&pkt_size=1200`;
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
    // The stream comes as fast as the encoder sends it: no read-ahead, a short probe (both
    // sequence headers are written first, so the streams are known at once).
    '-fflags', '+nobuffer', '-probesize', '65536', '-analyzeduration', '500000',
    '-f', 'flv', '-i', 'pipe:0',
    '-map', '0:v:0', '-c:v', 'copy', '-bsf:v', 'h264_mp4toannexb',
    '-payload_type', String(o.video.payloadType), '-ssrc', String(o.video.ssrc), '-f', 'rtp', url(o.video.endpoint),
    ...(o.audio
      ? [
          '-map', '0:a:0', '-c:a', 'libopus', '-ar', '48000', '-ac', '2', '-b:a', '128k', '-application', 'audio', '-frame_duration', '20',
          '-payload_type', String(o.audio.payloadType), '-ssrc', String(o.audio.ssrc), '-f', 'rtp', url(o.audio.endpoint),
        ]
      : []),
  ];
}

type TranscoderEvents = {
  /** ffmpeg exited (not through `close`): why, with the last lines it wrote. */
  exit: [reason: string];
};

/** One ffmpeg child turning one encoder connection's FLV into RTP. `close` kills it; idempotent. */
export class RtmpTranscoder extends TypedEmitter<TranscoderEvents> {
  readonly #child: ChildProcess;
  readonly #tail: string[] = [];
  readonly #exited: Promise<void>;
  #closing = false;

  constructor(args: string[], ffmpegPath = 'ffmpeg') {
    super();
    this.#child = spawn(ffmpegPath, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.#child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#tail.push(...chunk.split('\n').filter(Boolean));
      this.#tail.splice(0, Math.max(0, this.#tail.length - 10));
    });
    // EPIPE when ffmpeg went first: its exit is reported below.
    this.#child.stdin?.on('error', () => undefined);
    this.#child.on('error', (err) => this.#tail.push(`spawn: ${err.message}`));
    this.#exited = new Promise<void>((resolve) => {
      this.#child.once('close', (code, signal) => {
        resolve();
        if (!this.#closing) this.emit('exit', `ffmpeg exited (${signal ?? `code ${String(code)}`}): ${this.#tail.join(' | ') || 'no output'}`);
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Hands `data` to ffmpeg. False when ffmpeg has fallen more than 16 MiB behind (it is stuck). */
  write(data: Buffer): boolean {
    const stdin = this.#child.stdin;
    if (this.#closing || !stdin || stdin.destroyed) return true;
    if (stdin.writableLength > MAX_PENDING_BYTES) return false;
    stdin.write(data);
    return true;
  }

  /** Kills ffmpeg and waits for it to be gone. Idempotent. */
  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#child.stdin?.destroy();
      if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
    }
    await this.#exited;
  }
}
