import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { AppError } from '../../common/errors.ts';
import { PROFILE_RULES } from '../../common/protocol/rules.ts';
import { ConcurrencyLimit } from '../throttle/ConcurrencyLimit.ts';

/** The demuxers (as ffprobe names them) and codecs of the images an avatar may be. */
const IMAGE_FORMATS: ReadonlyMap<string, string> = new Map([
  ['jpeg_pipe', 'mjpeg'],
  ['png_pipe', 'png'],
  ['webp_pipe', 'webp'],
  ['gif', 'gif'],
  ['gif_pipe', 'gif'],
]);

const NOT_AN_IMAGE = 'the avatar must be a JPEG, PNG, WebP or GIF image';

const ProbeSchema = z.object({
  format: z.object({ format_name: z.string() }),
  streams: z.array(z.object({ codec_type: z.string().optional(), codec_name: z.string().optional(), width: z.number().optional(), height: z.number().optional() })),
});

export interface AvatarImagesOptions {
  /** Side of the square JPEG made, in pixels. Default PROFILE_RULES.avatarSize (256). */
  size?: number;
  /** Most pixels an uploaded image may have (a small file may decode to a huge one). Default 40 million. */
  maxPixels?: number;
  /** Time each of ffprobe and ffmpeg may take. Default 10 s. */
  timeoutMs?: number;
  /** Images processed at once in this process, and how many may wait. Default 2 and 8. */
  concurrency?: number;
  maxQueue?: number;
}

/** A JPEG made from an upload, in a temporary directory of its own until `release()`. */
export interface AvatarFile {
  readonly path: string;
  release(): Promise<void>;
}

/** Runs a program with an argv array, a timeout (SIGKILL) and at most 1 MB of output; rejects with the stderr tail in the message. */
function run(command: 'ffmpeg' | 'ffprobe', args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const tail = stderr.trim().split('\n').slice(-5).join('\n');
        reject(new Error(`${command} failed${err.killed ? ` (killed after ${timeoutMs} ms)` : ''}: ${tail || err.message}`, { cause: err }));
      } else {
        resolve(stdout);
      }
    });
  });
}

/**
 * Turns an uploaded avatar into the stored one: checks with ffprobe that the bytes are a JPEG,
 * PNG, WebP or GIF image (whatever the request's Content-Type says) of a sane size, then makes
 * a `size`×`size` JPEG with ffmpeg (scaled to cover, centre-cropped; a GIF's first frame).
 * Bounded in concurrency: beyond it, 503 UNAVAILABLE.
 */
export class AvatarImages {
  readonly #size: number;
  readonly #maxPixels: number;
  readonly #timeoutMs: number;
  readonly #limit: ConcurrencyLimit;

  constructor(o: AvatarImagesOptions = {}) {
    this.#size = o.size ?? PROFILE_RULES.avatarSize;
    this.#maxPixels = o.maxPixels ?? 40_000_000;
    this.#timeoutMs = o.timeoutMs ?? 10_000;
    this.#limit = new ConcurrencyLimit({ concurrency: o.concurrency ?? 2, maxQueue: o.maxQueue ?? 8, busyMessage: 'too many avatars are being processed; try again in a moment' });
  }

  /** The JPEG made from `upload`. Throws AppError NOT_AN_IMAGE for anything that is not an allowed image. */
  async toJpeg(upload: Buffer): Promise<AvatarFile> {
    if (upload.length === 0) throw new AppError('NOT_AN_IMAGE', `${NOT_AN_IMAGE} (the upload is empty)`);
    return this.#limit.run(async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'spyglass-avatar-'));
      const release = () => rm(dir, { recursive: true, force: true });
      try {
        // No extension: ffprobe names the format from the bytes, not from a name the client chose.
        const input = path.join(dir, 'upload');
        await writeFile(input, upload);
        const format = await this.#probe(input);
        const output = path.join(dir, 'avatar.jpg');
        const s = this.#size;
        await run(
          'ffmpeg',
          ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-f', format, '-i', input, '-frames:v', '1',
            '-vf', `scale=${s}:${s}:force_original_aspect_ratio=increase,crop=${s}:${s},format=yuvj420p`,
            '-q:v', '3', '-f', 'image2', '-update', '1', output],
          this.#timeoutMs,
        ).catch((err: unknown) => {
          // ffprobe read it, ffmpeg could not decode it: a damaged image.
          throw new AppError('NOT_AN_IMAGE', `${NOT_AN_IMAGE} (it could not be decoded)`, { cause: err });
        });
        return { path: output, release };
      } catch (err) {
        await release();
        throw err;
      }
    });
  }

  /** The demuxer to read `file` with, once it is known to be one allowed image of a sane size. */
  async #probe(file: string): Promise<string> {
    let parsed;
    try {
      const out = await run('ffprobe', ['-hide_banner', '-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file], this.#timeoutMs);
      parsed = ProbeSchema.parse(JSON.parse(out));
    } catch (err) {
      throw new AppError('NOT_AN_IMAGE', NOT_AN_IMAGE, { cause: err });
    }
    const format = parsed.format.format_name;
    const codec = IMAGE_FORMATS.get(format);
    const video = parsed.streams.filter((st) => st.codec_type === 'video');
    const only = video.length === 1 && parsed.streams.length === 1 ? video[0] : undefined;
    if (codec === undefined || only === undefined || only.codec_name !== codec) throw new AppError('NOT_AN_IMAGE', NOT_AN_IMAGE);
    const { width, height } = only;
    if (width === undefined || height === undefined || width < 1 || height < 1) throw new AppError('NOT_AN_IMAGE', `${NOT_AN_IMAGE} (its size is unknown)`);
    if (width * height > this.#maxPixels) {
      throw new AppError('VALIDATION_FAILED', `the avatar image is too large: ${width}×${height} pixels (at most ${this.#maxPixels} pixels)`);
    }
    return format;
  }
}
