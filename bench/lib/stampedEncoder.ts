import { spawn, type ChildProcess } from 'node:child_process';
import { COLS, ROWS, encodeStamp, type CameraOptions } from './stamp.browser.ts';

/**
 * The stamped camera of `stamp.browser.ts` outside the browser, for encoders that are not a
 * browser (ffmpeg sending RTMP, as OBS would): this process draws every frame — the
 * wall-clock time (`Date.now()`) of the draw as the same 8 × 6 black/white blocks, so a
 * viewer's `readStamps` decodes it unchanged — and writes it raw (8-bit grey) to ffmpeg's
 * standard input, `fps` times a second; ffmpeg encodes H.264 (x264, zero-latency, no
 * B-frames, a keyframe every `keyframeSeconds`) and AAC (a 440 Hz tone) and sends them to
 * `url` (`-f flv rtmp://…`). What it measures therefore includes x264's encode, as OBS's own
 * glass-to-glass would.
 */
export interface StampedEncoder {
  readonly process: ChildProcess;
  /** Frames drawn and written so far. */
  framesDrawn(): number;
  /** The end of ffmpeg's error output (why it stopped, if it did). */
  errors(): string;
  /** Stops drawing and ends ffmpeg (SIGKILL after 3 s); resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

export function startStampedEncoder(o: { camera: CameraOptions; keyframeSeconds: number; url: string }): StampedEncoder {
  const { width, height, fps } = o.camera;
  const proc = spawn(
    'ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'error', '-nostdin'],
      ...['-f', 'rawvideo', '-pix_fmt', 'gray', '-video_size', `${width}x${height}`, '-framerate', String(fps), '-use_wallclock_as_timestamps', '1', '-i', 'pipe:0'],
      ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-bf', '0'],
      ...['-g', String(Math.round(o.keyframeSeconds * fps)), '-b:v', '2500k', '-maxrate', '2500k', '-bufsize', '1250k'],
      ...['-c:a', 'aac', '-b:a', '96k', '-ac', '2'],
      ...['-f', 'flv', o.url],
    ],
    { stdio: ['pipe', 'ignore', 'pipe'] as const },
  );
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  proc.stdin.on('error', () => undefined); // ffmpeg gone: the exit says why
  const frame = Buffer.alloc(width * height);
  const cw = width / COLS;
  const ch = height / ROWS;
  let drawn = 0;
  const draw = () => {
    if (!proc.stdin.writable || proc.stdin.writableNeedDrain) return; // an encoder that falls behind skips frames, as a camera would
    const bits = encodeStamp(Date.now(), drawn);
    for (let i = 0; i < bits.length; i++) {
      const x0 = Math.round((i % COLS) * cw);
      const x1 = Math.round(((i % COLS) + 1) * cw);
      const y0 = Math.round(Math.floor(i / COLS) * ch);
      const y1 = Math.round((Math.floor(i / COLS) + 1) * ch);
      const value = bits[i] ? 255 : 0;
      for (let y = y0; y < y1; y++) frame.fill(value, y * width + x0, y * width + x1);
    }
    proc.stdin.write(Buffer.from(frame));
    drawn += 1;
  };
  const timer = setInterval(draw, 1000 / fps);
  draw();
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let stopping: Promise<void> | undefined;
  return {
    process: proc,
    framesDrawn: () => drawn,
    stop() {
      stopping ??= (async () => {
        clearInterval(timer);
        proc.stdin.end();
        const kill = setTimeout(() => proc.kill('SIGKILL'), 3000);
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
        await exited;
        clearTimeout(kill);
      })();
      return stopping;
    },
    errors: () => stderr,
  };
}
