import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';
import yazl from 'yazl';
import { ArchiveInputSchema, type ArchiveInput } from '../jobs.ts';
import {
  ARCHIVE_FORMAT,
  archiveRootName,
  broadcastJson,
  chatJson,
  heartsJson,
  replayFilesOf,
  viewerData,
  type ArchiveReplayFile,
} from './contents.ts';
import { renderViewer } from './viewer.ts';

/**
 * Streams a user's archive zip (see docs/recording.md, "Archives: the zip"). Media files are
 * STORED (read in 1 MiB chunks, never whole in memory), JSON and HTML are deflated; each
 * file's SHA-256 is the one recorded when its replay was finalized (when the input carries
 * it and the size still matches) or is computed as it streams in, and `manifest.json` comes
 * last. The zip's own SHA-256 is computed on a worker thread, beside the writing. The zip is
 * written to `<outFile>.partial`, fsynced and renamed: a partial zip never has the final name.
 */

/**
 * yazl computes the CRC-32 of every byte it stores through buffer-crc32, a table-driven loop
 * in JavaScript (~190 MB/s on the 2-core dev VM: 40 % of an archive's CPU time). Node has a
 * native `zlib.crc32` (≥ 20.15, 22.2), ~8× faster and the same function (yazl's author asked
 * buffer-crc32 to use it: brianloveswords/buffer-crc32#34, not released). yazl 3.3.1 has no
 * option for it and takes no precomputed CRC for streamed entries, so the `unsigned` export of
 * the buffer-crc32 instance yazl loads is replaced, once, by a native version: same results
 * for what yazl passes (a Buffer and an unsigned previous CRC), the JavaScript one for
 * anything else, and left alone if a self-check disagrees or zlib.crc32 is missing.
 */
export const nativeCrc32 = (() => {
  if (typeof zlib.crc32 !== 'function') return false;
  type Crc = (buf: unknown, previous?: unknown) => number;
  const crc = createRequire(createRequire(import.meta.url).resolve('yazl'))('buffer-crc32') as { unsigned: Crc; spyglassNative?: true };
  if (crc.spyglassNative) return true;
  const js = crc.unsigned;
  const native: Crc = (buf, previous) =>
    Buffer.isBuffer(buf) && (previous === undefined || typeof previous === 'number') ? zlib.crc32(buf, (previous ?? 0) >>> 0) : js(buf, previous);
  const probe = Buffer.from('spyglass archive crc check');
  if (native(probe) !== js(probe) || native(probe, 0xdeadbeef) !== js(probe, 0xdeadbeef)) return false;
  crc.unsigned = native;
  crc.spyglassNative = true;
  return true;
})();

export interface BuildArchiveOptions {
  /** Validated with ArchiveInputSchema before anything is written. */
  input: ArchiveInput;
  dataDir: string;
  outFile: string;
  signal?: AbortSignal;
  /** Share of the expected bytes written so far (0–100), at most every PROGRESS_INTERVAL_MS; 100 once complete. */
  onProgress?: (percent: number) => void;
  /** A quota on the zip's size: exceeding it fails like a full disk (ArchiveDiskFullError). */
  maxBytes?: number;
  /** Write no faster than this (background archives, so live traffic keeps the disk and CPU). */
  maxBytesPerSecond?: number;
}

export interface BuiltArchive {
  sizeBytes: number;
  sha256: string;
  /** Entries in the zip, manifest.json included. */
  entries: number;
}

export interface ManifestFile {
  path: string;
  sizeBytes: number;
  sha256: string;
}

/** The disk (or the archive quota) is full. The partial file has been removed. */
export class ArchiveDiskFullError extends Error {
  override readonly name = 'ArchiveDiskFullError';
}

export const PROGRESS_INTERVAL_MS = 250;
const READ_CHUNK = 1 << 20;

interface PlannedFile {
  /** Path inside the zip, under the top folder. */
  zipPath: string;
  /**
   * Either a file under `<dataDir>/replays/<id>/` (stored; `sha256` when the input carries the
   * finalize-time hash of a file of this very size) or an in-memory document (deflated).
   */
  source: { kind: 'file'; absPath: string; size: number; sha256: string | null } | { kind: 'buffer'; data: Buffer };
}

const json = (value: unknown): Buffer => Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
const sha256Hex = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Stats the allowed replay files the input lists; a listed file that is gone is skipped. */
async function presentReplayFiles(dataDir: string, b: ArchiveInput['broadcasts'][number]) {
  const out: Array<{ name: ArchiveReplayFile; absPath: string; size: number; sha256: string | null }> = [];
  for (const name of replayFilesOf(b)) {
    // b.id matched BroadcastIdSchema (b_[A-Za-z0-9_-]+) and name is one of ARCHIVE_REPLAY_FILES.
    const absPath = path.join(dataDir, 'replays', b.id, name);
    try {
      const st = await stat(absPath);
      // A stored hash of a file whose size has changed since is not this file's: hash it again.
      const known = knownHashOf(b, name);
      if (st.isFile()) out.push({ name, absPath, size: st.size, sha256: known && known.sizeBytes === st.size ? known.sha256 : null });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return out;
}

/** The size and SHA-256 the input carries for a replay file (recorded when the replay was finalized). */
function knownHashOf(b: ArchiveInput['broadcasts'][number], name: ArchiveReplayFile): { sizeBytes: number; sha256: string } | undefined {
  const hashes = b.replay?.hashes;
  return hashes && Object.hasOwn(hashes, name) ? hashes[name] : undefined;
}

async function plan(input: ArchiveInput, dataDir: string, exportedAt: string): Promise<PlannedFile[]> {
  const files: PlannedFile[] = [{ zipPath: 'profile.json', source: { kind: 'buffer', data: json(input.profile) } }];
  const included = new Map<string, ArchiveReplayFile[]>();
  for (const b of input.broadcasts) {
    const present = await presentReplayFiles(dataDir, b);
    included.set(
      b.id,
      present.map((f) => f.name),
    );
    const dir = `broadcasts/${b.id}`;
    files.push(
      { zipPath: `${dir}/broadcast.json`, source: { kind: 'buffer', data: json(broadcastJson(b, included.get(b.id) ?? [])) } },
      { zipPath: `${dir}/chat.json`, source: { kind: 'buffer', data: json(chatJson(b)) } },
      { zipPath: `${dir}/hearts.json`, source: { kind: 'buffer', data: json(heartsJson(b)) } },
      ...present.map((f): PlannedFile => ({ zipPath: `${dir}/${f.name}`, source: { kind: 'file', absPath: f.absPath, size: f.size, sha256: f.sha256 } })),
    );
  }
  files.push(
    { zipPath: 'chat-elsewhere.json', source: { kind: 'buffer', data: json(input.chatElsewhere) } },
    { zipPath: 'index.html', source: { kind: 'buffer', data: Buffer.from(renderViewer(viewerData(input, exportedAt, included))) } },
  );
  return files;
}

export async function buildArchive(opts: BuildArchiveOptions): Promise<BuiltArchive> {
  // Refuse bad input before anything touches the disk.
  const input = ArchiveInputSchema.parse(opts.input);
  const { signal, onProgress, maxBytes, maxBytesPerSecond } = opts;
  signal?.throwIfAborted();

  const exportedAt = new Date().toISOString();
  const mtime = new Date(exportedAt);
  const root = archiveRootName(input.profile.username);
  const files = await plan(input, opts.dataDir, exportedAt);
  signal?.throwIfAborted();

  // Bytes we expect to write (stored media + uncompressed documents): the denominator of progress.
  const expected = Math.max(1, files.reduce((n, f) => n + (f.source.kind === 'file' ? f.source.size : f.source.data.length), 0));
  const partial = `${opts.outFile}.partial`;
  await mkdir(path.dirname(opts.outFile), { recursive: true });

  const zip = new yazl.ZipFile();
  const manifest: ManifestFile[] = [];
  let activeRead: ReadStream | null = null;
  let written = 0;
  let lastProgressAt = 0;
  const startedAt = Date.now();
  const zipHash = new OffThreadSha256();

  // Everything the zip writes passes here: count (quota, progress) and hash it.
  const meter = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      if (maxBytes !== undefined && written + chunk.length > maxBytes) {
        cb(new ArchiveDiskFullError(`The archive would exceed its quota of ${maxBytes} bytes`));
        return;
      }
      written += chunk.length;
      const backlogged = zipHash.update(chunk);
      const now = Date.now();
      if (onProgress && now - lastProgressAt >= PROGRESS_INTERVAL_MS) {
        lastProgressAt = now;
        onProgress(Math.min(99, Math.floor((written / expected) * 100)));
      }
      // Rate cap: hold this chunk back until the bytes so far are due.
      const aheadMs = maxBytesPerSecond ? (written / maxBytesPerSecond) * 1000 - (now - startedAt) : 0;
      const pass = () => (aheadMs >= 1 ? setTimeout(() => cb(null, chunk), aheadMs) : cb(null, chunk));
      // The hashing thread is HASH_BACKLOG behind: wait for it (memory stays bounded).
      if (backlogged) backlogged.then(pass, cb);
      else pass();
    },
  });
  const fail = (err: unknown) => meter.destroy(err instanceof Error ? err : new Error(String(err)));
  zip.on('error', fail);

  for (const f of files) {
    const zipPath = `${root}/${f.zipPath}`;
    const source = f.source;
    if (source.kind === 'buffer') {
      manifest.push({ path: f.zipPath, sizeBytes: source.data.length, sha256: sha256Hex(source.data) });
      zip.addBuffer(source.data, zipPath, { mtime, compress: true });
      continue;
    }
    // Opened only when the zip reaches this entry, so one media file is open at a time.
    zip.addReadStreamLazy(zipPath, { mtime, compress: false, size: source.size }, (cb) => {
      const known = source.sha256;
      if (known !== null) {
        // The finalize-time hash, of a file of the same size (yazl checks the byte count as it streams).
        const read = createReadStream(source.absPath, { highWaterMark: READ_CHUNK });
        activeRead = read;
        read.on('error', fail);
        read.once('end', () => manifest.push({ path: f.zipPath, sizeBytes: source.size, sha256: known }));
        cb(null, read);
        return;
      }
      const hash = createHash('sha256');
      let size = 0;
      const read = createReadStream(source.absPath, { highWaterMark: READ_CHUNK });
      activeRead = read;
      const hashing = new Transform({
        transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
          hash.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
        flush(done: TransformCallback) {
          manifest.push({ path: f.zipPath, sizeBytes: size, sha256: hash.digest('hex') });
          done();
        },
      });
      read.on('error', fail);
      hashing.on('error', fail);
      cb(null, read.pipe(hashing));
    });
  }
  const beforeManifest = files.length;
  // Built when the zip reaches it, i.e. after every other entry has streamed through.
  zip.addReadStreamLazy(`${root}/manifest.json`, { mtime, compress: true }, (cb) => {
    if (manifest.length !== beforeManifest) {
      cb(new Error(`manifest has ${manifest.length} of ${beforeManifest} files`), Readable.from([]));
      return;
    }
    const doc = {
      format: ARCHIVE_FORMAT,
      exportedAt,
      appVersion: input.appVersion,
      user: { id: input.profile.id, username: input.profile.username },
      files: manifest,
    };
    cb(null, Readable.from([json(doc)]));
  });
  zip.end();

  let sha256: string;
  try {
    const out = createWriteStream(partial, { flags: 'w' });
    await pipeline(zip.outputStream as NodeJS.ReadableStream, meter, out, signal ? { signal } : {});
    // The last bytes are hashed while the file is fsynced.
    const digest = zipHash.digest();
    digest.catch(() => undefined); // awaited below; a failing fsync must not leave it unhandled
    const fh = await open(partial, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    sha256 = await digest;
    signal?.throwIfAborted();
    await rename(partial, opts.outFile);
  } catch (err) {
    (activeRead as ReadStream | null)?.destroy();
    await rm(partial, { force: true });
    if (isDiskFull(err)) throw new ArchiveDiskFullError('The disk is full', { cause: err });
    throw err;
  } finally {
    zipHash.close();
  }
  await syncDir(path.dirname(opts.outFile));
  onProgress?.(100);
  return { sizeBytes: written, sha256, entries: files.length + 1 };
}

/** Bytes handed to the hashing thread and not hashed yet, beyond which the zip's writing waits. */
const HASH_BACKLOG = 8 << 20;

const HASH_WORKER = `
const { parentPort } = require('node:worker_threads');
const hash = require('node:crypto').createHash('sha256');
parentPort.on('message', (m) => {
  if (m === 'digest') return parentPort.postMessage({ digest: hash.digest('hex') });
  hash.update(m);
  parentPort.postMessage(m.byteLength);
});
`;

/**
 * SHA-256 of a byte stream on a worker thread, so that hashing the zip (~1 GB/s here) runs on
 * another core beside the reading, CRC and writing. Each chunk is copied once and the copy
 * transferred (the original goes on to the file); at most HASH_BACKLOG bytes wait unhashed.
 */
class OffThreadSha256 {
  readonly #worker = new Worker(HASH_WORKER, { eval: true, execArgv: [], stdout: false, stderr: false });
  #pending = 0;
  #waiting: { resolve: () => void; reject: (err: Error) => void } | null = null;
  #digest: { resolve: (hex: string) => void; reject: (err: Error) => void } | null = null;
  #failure: Error | null = null;

  constructor() {
    this.#worker.on('message', (m: number | { digest: string }) => {
      if (typeof m === 'number') {
        this.#pending -= m;
        if (this.#waiting && this.#pending <= HASH_BACKLOG / 2) {
          this.#waiting.resolve();
          this.#waiting = null;
        }
      } else this.#digest?.resolve(m.digest);
    });
    const fail = (err: Error) => {
      this.#failure ??= err;
      this.#waiting?.reject(err);
      this.#digest?.reject(err);
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`the hashing thread exited (${code})`)));
  }

  /** Queues a chunk; returns a promise to wait for when the backlog is full. */
  update(chunk: Buffer): Promise<void> | null {
    if (this.#failure) return Promise.reject(this.#failure);
    const copy = new Uint8Array(chunk.length);
    copy.set(chunk);
    this.#worker.postMessage(copy, [copy.buffer]);
    this.#pending += copy.length;
    if (this.#pending <= HASH_BACKLOG) return null;
    return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }));
  }

  digest(): Promise<string> {
    if (this.#failure) return Promise.reject(this.#failure);
    const p = new Promise<string>((resolve, reject) => (this.#digest = { resolve, reject }));
    this.#worker.postMessage('digest');
    return p;
  }

  close(): void {
    this.#worker.removeAllListeners('exit');
    void this.#worker.terminate();
  }
}

/** Makes a rename durable; best effort (not every file system lets a directory be fsynced). */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // ignore
  }
}
