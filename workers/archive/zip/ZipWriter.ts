import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import zlib from 'node:zlib';
import { centralHeader, dataDescriptor, dosDateTime, endRecords, localHeader, record, type CentralRecord } from './format.ts';
import type { FileEntryResult, FileHashes } from './hashMessages.ts';
import { HashThread } from './HashThread.ts';
import { kernelCopy } from './kernelCopy.ts';

export { deflateBound, plannedZipSize, ZIP32_LIMIT, type PlannedEntry } from './format.ts';
export type { FileEntryResult } from './hashMessages.ts';

/** Our own small writes (headers, documents) are batched up to this many bytes. */
const WRITE_BATCH = 1 << 20;
/** After a kernel copy of at least this many bytes, writeback is started at once (see #startEarlySync). */
const EARLY_SYNC_BYTES = 16 << 20;
/** A user-space copy's chunk (background archives). */
const COPY_CHUNK = 1 << 20;
/**
 * Files up to this size (posters) are read into memory and written like our other bytes: a
 * `cat` costs a process start (~10 ms idle, 40–100 ms on a loaded machine, measured with
 * strace), far more than reading 60 kB.
 */
export const INLINE_FILE_BYTES = 1 << 20;

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
 * a paced user-space copy with `maxBytesPerSecond` for background archives) and, only for a
 * file whose CRC-32 or SHA-256 is not known already, a hashing thread (HashThread.ts, started
 * on first use) that reads it from the page cache beside the copy.
 *
 * Every write uses the file's current offset (position null): the `cat` child shares our open
 * file description and advances the same offset, and we never write while it runs.
 *
 * No hash of the whole zip (#12, measured): it was the last pass over every byte and cost as
 * much CPU as cp's whole copy (SHA-256 ~0.6–1.5 s per GiB on one core), so on a shared
 * machine the archive ran at ~0.5× cp. The archive's published checksum is the SHA-256 of its
 * manifest (buildArchive.ts), which lists every file's SHA-256. With the CRC-32 and SHA-256
 * recorded at finalize, a replay's entry costs a `cat` and nothing else.
 */
export class ZipWriter {
  readonly #fh: FileHandle;
  /** For files whose CRC-32 or SHA-256 is not known: started on first use. */
  #hasher: HashThread | null = null;
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
    let hashed: FileEntryResult;
    if (size <= INLINE_FILE_BYTES) hashed = await this.#copyInline(absPath, size, opts.sha256, opts.crc32);
    else {
      await this.#flush();
      hashed = this.#rate ? await this.#copyPaced(absPath, size, opts.sha256) : await this.#copyInKernel(absPath, size, opts.sha256, opts.crc32);
    }
    r.crc32 = hashed.crc32;
    await this.#write(dataDescriptor(r));
    this.#records.push(r);
    return hashed;
  }

  /** The central directory and end records; fsyncs and closes the file. */
  async finish(): Promise<{ sizeBytes: number }> {
    this.#signal?.throwIfAborted();
    const cdOffset = this.#offset;
    const central = Buffer.concat(this.#records.map((r) => centralHeader(r, this.#when, this.#force)));
    await this.#write(central);
    await this.#write(endRecords(this.#records.length, cdOffset, central.length, this.#force));
    await this.#flush();
    await this.#earlySync;
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- the early fsync's error, passed on as it was
    if (this.#syncError !== null) throw this.#syncError;
    await this.#fh.sync();
    await this.close();
    return { sizeBytes: this.#offset };
  }

  /** Closes the file and ends the hashing thread; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#hasher?.close();
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
    await this.#pace();
  }

  /** With a rate cap: waits until the bytes written so far are due. */
  async #pace(): Promise<void> {
    if (!this.#rate) return;
    const aheadMs = (this.#offset / this.#rate) * 1000 - (performance.now() - this.#startedAt);
    if (aheadMs >= 1) await sleep(aheadMs, undefined, this.#signal ? { signal: this.#signal } : {});
  }

  /** The hashing thread, started on first use. */
  #thread(): HashThread {
    return (this.#hasher ??= new HashThread());
  }

  /**
   * `cat` copies the file in the kernel while the hashing thread reads it for its CRC (and
   * SHA-256) — unless both are known (`knownCrc32` and no `sha256`): then nothing waits but the
   * copy.
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
    const wanted = { crc: knownCrc32 === undefined, sha: sha256 };
    const read = wanted.crc || wanted.sha ? this.#readForHashes(absPath, size, wanted) : Promise.resolve(null);
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

  /**
   * A small file (≤ INLINE_FILE_BYTES): read whole, hashed here, written with our own bytes (the
   * same bytes as a kernel copy would write). A known CRC-32 is used as the kernel copy uses it.
   */
  async #copyInline(absPath: string, size: number, sha256: boolean, knownCrc32: number | undefined): Promise<FileEntryResult> {
    this.#signal?.throwIfAborted();
    const src = await open(absPath, 'r');
    let data: Buffer;
    try {
      // One byte more than planned: a file that grew shows as one that changed.
      const buf = Buffer.allocUnsafe(size + 1);
      let got = 0;
      for (;;) {
        const { bytesRead } = await src.read(buf, got, buf.length - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
        if (got === buf.length) break;
      }
      if (got !== size) throw new Error(`${absPath}: read ${got} bytes of ${size}; the file changed while it was archived`);
      data = buf.subarray(0, size);
    } finally {
      await src.close();
    }
    await this.#write(data);
    return { crc32: knownCrc32 ?? zlib.crc32(data), sha256: sha256 ? createHash('sha256').update(data).digest('hex') : null };
  }

  /** The hashing thread reads the file for what is `wanted`; an abort rejects at once. */
  async #readForHashes(absPath: string, size: number, wanted: { crc: boolean; sha: boolean }): Promise<FileHashes> {
    const p = this.#thread().read(absPath, size, wanted);
    const signal = this.#signal;
    if (!signal) return p;
    let onAbort: (() => void) | undefined;
    try {
      return await Promise.race([p, new Promise<never>((_, reject) => signal.addEventListener('abort', (onAbort = () => reject(signal.reason)), { once: true }))]);
    } finally {
      p.catch(() => undefined);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  /** Background archives: read, write and hand each chunk to the thread, paced. */
  async #copyPaced(absPath: string, size: number, sha256: boolean): Promise<FileEntryResult> {
    const src = await open(absPath, 'r');
    try {
      const thread = this.#thread();
      thread.begin({ crc: true, sha: sha256 });
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
        await thread.post({ t: 'chunk' }, data, false);
        await this.#pace();
      }
      const { bytesRead: more } = await src.read(Buffer.alloc(1), 0, 1, size);
      if (more !== 0) throw new Error(`${absPath}: longer than ${size} bytes; the file changed while it was archived`);
      const hashed = await thread.end();
      if (hashed.bytes !== size) throw new Error(`${absPath}: hashed ${hashed.bytes} bytes of ${size}; the file changed while it was archived`);
      return { crc32: hashed.crc32, sha256: hashed.sha256 };
    } finally {
      await src.close();
    }
  }
}
