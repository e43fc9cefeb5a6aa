import { open, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import zlib from 'node:zlib';
import { centralHeader, dataDescriptor, dosDateTime, endRecords, localHeader, record, type CentralRecord } from './format.ts';
import type { FileEntryResult } from './hashMessages.ts';
import { kernelCopy } from './kernelCopy.ts';
import { ZipHasher } from './ZipHasher.ts';

export { deflateBound, plannedZipSize, ZIP32_LIMIT, type PlannedEntry } from './format.ts';
export type { FileEntryResult } from './hashMessages.ts';

/** Our own small writes (headers, documents) are batched up to this many bytes. */
const WRITE_BATCH = 1 << 20;
/** After a kernel copy of at least this many bytes, writeback is started at once (see #startEarlySync). */
const EARLY_SYNC_BYTES = 16 << 20;
/** A user-space copy's chunk (background archives). */
const COPY_CHUNK = 1 << 20;

export interface ZipWriterOptions {
  /** Modification time of every entry. */
  mtime: Date;
  /** ZIP64 fields on every entry and the ZIP64 end record, however small (for tests). */
  forceZip64?: boolean;
  signal?: AbortSignal;
  /** Copy file bytes in user space and write the zip no faster than this. */
  maxBytesPerSecond?: number;
}

/**
 * A small streaming zip writer, made for the archives (see docs/archives.md, "Speed"): it
 * writes entries one after the other to a file it opened itself, so that the bytes of a media
 * file can be copied by the kernel (kernelCopy.ts) instead of passing through this process.
 * It composes the pure format (format.ts: headers, ZIP64, sizes), the copy (kernelCopy.ts, or
 * a paced user-space copy with `maxBytesPerSecond` for background archives) and the hashing
 * (ZipHasher.ts: CRC-32 and SHA-256 on two threads that read the same bytes from the page
 * cache, so that no byte of the zip is read back).
 *
 * Every write uses the file's current offset (position null): the `cat` child shares our open
 * file description and advances the same offset, and we never write while it runs.
 *
 * Entries do not wait for the zip's hash (measured, #12): the zip's thread reads each copied
 * file behind the copies, in order, and finish() waits for it. With the CRC-32 recorded at
 * finalize, nothing but `cat` is waited for between entries: 1 GiB in 4 files took ~1.06 s
 * against 2.0–2.4 s when every entry waited for its CRC thread and the zip's thread, on the
 * 2-core VM loaded by other tests (per-thread CPU from /proc: the zip's SHA-256 ~0.85 s, the
 * CRC ~0.4 s per GiB; three threads and `cat` on two busy cores were the stall).
 */
export class ZipWriter {
  readonly #fh: FileHandle;
  readonly #hasher = new ZipHasher();
  readonly #when: { date: number; time: number };
  readonly #force: boolean;
  readonly #signal: AbortSignal | undefined;
  readonly #rate: number | undefined;
  readonly #records: CentralRecord[] = [];
  readonly #startedAt = performance.now();
  /** Bytes written or queued. */
  #offset = 0;
  #queued: Buffer[] = [];
  #queuedBytes = 0;
  /** While `cat` copies a file: the offset it started at. */
  #copyingFrom: number | null = null;
  #closed = false;
  #earlySync: Promise<void> | null = null;
  #syncError: unknown = null;

  private constructor(fh: FileHandle, opts: ZipWriterOptions) {
    this.#fh = fh;
    this.#when = dosDateTime(opts.mtime);
    this.#force = opts.forceZip64 ?? false;
    this.#signal = opts.signal;
    this.#rate = opts.maxBytesPerSecond;
  }

  /** Creates `file` (which must not exist) and writes a zip into it. */
  static async create(file: string, opts: ZipWriterOptions): Promise<ZipWriter> {
    // Not O_APPEND: copy_file_range refuses a destination opened for appending.
    const fh = await open(file, 'wx', 0o644);
    return new ZipWriter(fh, opts);
  }

  /** Bytes written (or queued to be) so far, exact between entries. */
  get bytesWritten(): number {
    return this.#offset;
  }

  /** Bytes in the file now, including those `cat` has copied of the current entry. */
  async currentSize(): Promise<number> {
    if (this.#copyingFrom === null) return this.#offset;
    try {
      return (await this.#fh.stat()).size;
    } catch {
      return this.#offset;
    }
  }

  /** A document, deflated (or `deflated` given: the raw deflate of `data`, already made). */
  async addBuffer(name: string, data: Buffer, deflated: Buffer = zlib.deflateRawSync(data)): Promise<void> {
    this.#signal?.throwIfAborted();
    const r = record({ name, compressedSize: deflated.length, uncompressedSize: data.length, descriptor: false }, this.#offset, this.#force);
    r.crc32 = zlib.crc32(data);
    await this.#write(localHeader(r, this.#when));
    await this.#write(deflated);
    this.#records.push(r);
  }

  /**
   * A file of `size` bytes, stored. Fails if the file does not have exactly `size` bytes
   * while it is copied.
   */
  async addFile(name: string, absPath: string, size: number, opts: { sha256: boolean; crc32?: number | undefined }): Promise<FileEntryResult> {
    this.#signal?.throwIfAborted();
    const r = record({ name, compressedSize: size, uncompressedSize: size, descriptor: true }, this.#offset, this.#force);
    await this.#write(localHeader(r, this.#when));
    await this.#flush();
    const hashed = this.#rate ? await this.#copyPaced(absPath, size, opts.sha256) : await this.#copyInKernel(absPath, size, opts.sha256, opts.crc32);
    r.crc32 = hashed.crc32;
    await this.#write(dataDescriptor(r));
    this.#records.push(r);
    return hashed;
  }

  /** The central directory and end records; fsyncs and closes the file. */
  async finish(): Promise<{ sizeBytes: number; sha256: string }> {
    this.#signal?.throwIfAborted();
    const cdOffset = this.#offset;
    const central = Buffer.concat(this.#records.map((r) => centralHeader(r, this.#when, this.#force)));
    await this.#write(central);
    await this.#write(endRecords(this.#records.length, cdOffset, central.length, this.#force));
    await this.#flush();
    // The last bytes are hashed while the file is fsynced.
    const digest = this.#hasher.digest();
    digest.catch(() => undefined); // awaited below; a failing fsync must not leave it unhandled
    await this.#earlySync;
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- the early fsync's error, passed on as it was
    if (this.#syncError !== null) throw this.#syncError;
    await this.#fh.sync();
    const sha256 = await digest;
    await this.close();
    return { sizeBytes: this.#offset, sha256 };
  }

  /** Closes the file and ends the hashing thread; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#hasher.close();
    await this.#earlySync;
    await this.#fh.close();
  }

  /** An fdatasync of what is written so far, in the background (one at a time); finish() waits for it. */
  #startEarlySync(): void {
    if (this.#earlySync || this.#closed) return;
    this.#earlySync = this.#fh.datasync().then(
      () => {
        this.#earlySync = null;
      },
      (err: unknown) => {
        this.#earlySync = null;
        this.#syncError ??= err;
      },
    );
  }

  /** Queues bytes of ours (headers, documents); written in batches of up to WRITE_BATCH by #flush. */
  async #write(buf: Buffer): Promise<void> {
    this.#queued.push(buf);
    this.#queuedBytes += buf.length;
    this.#offset += buf.length;
    if (this.#queuedBytes >= WRITE_BATCH) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#queued.length === 0) return;
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- the length is 1
    const buf = this.#queued.length === 1 ? this.#queued[0]! : Buffer.concat(this.#queued, this.#queuedBytes);
    this.#queued = [];
    this.#queuedBytes = 0;
    let done = 0;
    while (done < buf.length) {
      const { bytesWritten } = await this.#fh.write(buf, done, buf.length - done, null);
      done += bytesWritten;
    }
    await this.#hasher.bytes(buf);
    await this.#pace();
  }

  /** With a rate cap: waits until the bytes written so far are due. */
  async #pace(): Promise<void> {
    if (!this.#rate) return;
    const aheadMs = (this.#offset / this.#rate) * 1000 - (performance.now() - this.#startedAt);
    if (aheadMs >= 1) await sleep(aheadMs, undefined, this.#signal ? { signal: this.#signal } : {});
  }

  /**
   * `cat` copies the file in the kernel while the entry thread reads it for its CRC (and
   * SHA-256) — unless both are known (`knownCrc32` and no `sha256`): then nothing waits but the
   * copy. The zip's thread reads the file for the zip's hash behind, in order; finish() waits.
   */
  async #copyInKernel(absPath: string, size: number, sha256: boolean, knownCrc32: number | undefined): Promise<FileEntryResult> {
    this.#signal?.throwIfAborted();
    const from = this.#offset;
    const stop = new AbortController();
    const onAbort = () => stop.abort(this.#signal?.reason);
    this.#signal?.addEventListener('abort', onAbort, { once: true });
    this.#copyingFrom = from;
    const copied = kernelCopy(this.#fh.fd, absPath, stop.signal);
    // Once cat is done, the disk can start on these bytes while the threads still hash them.
    if (size >= EARLY_SYNC_BYTES) copied.then(() => this.#startEarlySync(), () => undefined);
    const read = this.#hasher.readFile(absPath, size, { crc: knownCrc32 === undefined, sha256 }, this.#signal);
    try {
      let hashed: (FileEntryResult & { bytes: number }) | null;
      try {
        // The first failure of either ends both (cat is killed and waited for: nothing writes after).
        [hashed] = await Promise.all([read, copied]);
      } catch (err) {
        stop.abort(err);
        read.catch(() => undefined);
        await copied.catch(() => undefined);
        throw err;
      }
      this.#signal?.throwIfAborted();
      const after = (await this.#fh.stat()).size;
      if (after - from !== size || (hashed !== null && hashed.bytes !== size)) {
        throw new Error(`${absPath}: copied ${after - from} and read ${hashed?.bytes ?? size} bytes of ${size}; the file changed while it was archived`);
      }
      this.#offset = after;
      const crc32 = knownCrc32 ?? hashed?.crc32;
      if (crc32 === undefined) throw new Error(`${absPath}: no CRC-32 (none was known and none was read)`);
      return { crc32, sha256: hashed?.sha256 ?? null };
    } finally {
      this.#copyingFrom = null;
      this.#signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Background archives: read, write and hand each chunk to the thread, paced. */
  async #copyPaced(absPath: string, size: number, sha256: boolean): Promise<FileEntryResult> {
    const src = await open(absPath, 'r');
    try {
      this.#hasher.beginFile(sha256);
      let left = size;
      while (left > 0) {
        this.#signal?.throwIfAborted();
        const chunk = Buffer.allocUnsafeSlow(Math.min(COPY_CHUNK, left));
        const { bytesRead } = await src.read(chunk, 0, chunk.length, size - left);
        if (bytesRead === 0) throw new Error(`${absPath}: ended after ${size - left} of ${size} bytes; the file changed while it was archived`);
        const data = chunk.subarray(0, bytesRead);
        let done = 0;
        while (done < data.length) done += (await this.#fh.write(data, done, data.length - done, null)).bytesWritten;
        this.#offset += data.length;
        left -= data.length;
        await this.#hasher.fileChunk(data);
        await this.#pace();
      }
      const { bytesRead: more } = await src.read(Buffer.alloc(1), 0, 1, size);
      if (more !== 0) throw new Error(`${absPath}: longer than ${size} bytes; the file changed while it was archived`);
      const hashed = await this.#hasher.endFile();
      return { crc32: hashed.crc32, sha256: hashed.sha256 };
    } finally {
      await src.close();
    }
  }
}
