import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';

/**
 * A small streaming zip writer, made for the archives (see docs/archives.md, "Speed"): it
 * writes entries one after the other to a file it opened itself, so that the bytes of a media
 * file can be copied by the kernel (`cat` with its stdout on our file: `copy_file_range`)
 * instead of passing through this process.
 *
 * - In-memory documents are deflated (`zlib.deflateRawSync`), CRC and sizes in the local header.
 * - Files are STORED with a data descriptor (general-purpose bit 3): local header with CRC and
 *   sizes 0, the bytes, then the descriptor (8-byte sizes when the entry is ZIP64). Their CRC-32
 *   (and SHA-256 when asked) is computed on a worker thread that reads the same file from the
 *   page cache while it is copied; the thread also computes the SHA-256 of the whole zip, over
 *   exactly the bytes written, in order (headers are sent to it, file bytes it reads itself), so
 *   that no byte of the zip is read back.
 * - ZIP64 when needed (an entry ≥ 4 GiB − 1, an offset beyond, more than 65,534 entries, a central
 *   directory beyond 4 GiB), or for every entry and the end record with `forceZip64` (tests).
 * - UTF-8 names (bit 11), DOS time from `mtime` (local time, 2 s resolution), made by Unix,
 *   mode 0644 regular file in the external attributes.
 * - With `maxBytesPerSecond` (background archives) file bytes are copied in user space in
 *   chunks, paced so that the zip is written no faster than that; the chunks go to the thread.
 *
 * Every write uses the file's current offset (position null): the `cat` child shares our open
 * file description and advances the same offset, and we never write while it runs.
 */

/** Sizes and offsets at or above this need ZIP64 (0xFFFFFFFF itself means "see the ZIP64 field"). */
export const ZIP32_LIMIT = 0xffffffff;
/** Entry counts at or above this need the ZIP64 end record. */
const ZIP32_ENTRIES = 0xffff;

const SIG_LOCAL = 0x04034b50;
const SIG_DESCRIPTOR = 0x08074b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
const SIG_END = 0x06054b50;
const FLAG_DESCRIPTOR = 1 << 3;
const FLAG_UTF8 = 1 << 11;
const METHOD_STORE = 0;
const METHOD_DEFLATE = 8;
const VERSION_DEFAULT = 20; // deflate, data descriptor
const VERSION_ZIP64 = 45;
/** Unix (3), spec version 6.3. */
const VERSION_MADE_BY = (3 << 8) | 63;
/** A regular file, rw-r--r--. */
const EXTERNAL_ATTRIBUTES = (0o100644 << 16) >>> 0;

/** Our own small writes (headers, documents) are batched up to this many bytes. */
const WRITE_BATCH = 1 << 20;
/** After a kernel copy of at least this many bytes, writeback is started at once (see #startEarlySync). */
const EARLY_SYNC_BYTES = 16 << 20;
/** A user-space copy's chunk (background archives). */
const COPY_CHUNK = 1 << 20;
/** Bytes handed to the hashing thread and not hashed yet, beyond which writing waits. */
const HASH_BACKLOG = 8 << 20;
const SETPRIV = '/usr/bin/setpriv';

export interface ZipWriterOptions {
  /** Modification time of every entry. */
  mtime: Date;
  /** ZIP64 fields on every entry and the ZIP64 end record, however small (for tests). */
  forceZip64?: boolean;
  signal?: AbortSignal;
  /** Copy file bytes in user space and write the zip no faster than this. */
  maxBytesPerSecond?: number;
}

/** What the size of a zip depends on, entry by entry (see plannedZipSize). */
export interface PlannedEntry {
  name: string;
  compressedSize: number;
  uncompressedSize: number;
  /** Stored files are written with a data descriptor; documents are not. */
  descriptor: boolean;
}

export interface FileEntryResult {
  crc32: number;
  /** The file's SHA-256 (hex) when asked for, else null. */
  sha256: string | null;
}

interface CentralRecord {
  name: Buffer;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  offset: number;
  sizes64: boolean;
}

function nameBytes(name: string): Buffer {
  const b = Buffer.from(name, 'utf8');
  if (b.length === 0 || b.length > 0xffff) throw new Error(`zip entry name of ${b.length} bytes: ${name.slice(0, 80)}`);
  return b;
}

/** MS-DOS date and time, local time, 2 s resolution; clamped to 1980–2107. */
export function dosDateTime(d: Date): { date: number; time: number } {
  const year = d.getFullYear();
  if (year < 1980) return { date: (1 << 5) | 1, time: 0 };
  if (year > 2107) return { date: (127 << 9) | (12 << 5) | 31, time: (23 << 11) | (59 << 5) | 29 };
  return {
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
  };
}

const needsZip64 = (e: { compressedSize: number; uncompressedSize: number }, force: boolean) =>
  force || e.compressedSize >= ZIP32_LIMIT || e.uncompressedSize >= ZIP32_LIMIT;

function localHeader(r: CentralRecord, when: { date: number; time: number }): Buffer {
  const known = (r.flags & FLAG_DESCRIPTOR) === 0;
  const extra = r.sizes64 ? 20 : 0;
  const b = Buffer.alloc(30 + r.name.length + extra);
  b.writeUInt32LE(SIG_LOCAL, 0);
  b.writeUInt16LE(r.sizes64 ? VERSION_ZIP64 : VERSION_DEFAULT, 4);
  b.writeUInt16LE(r.flags, 6);
  b.writeUInt16LE(r.method, 8);
  b.writeUInt16LE(when.time, 10);
  b.writeUInt16LE(when.date, 12);
  b.writeUInt32LE(known ? r.crc32 : 0, 14);
  b.writeUInt32LE(r.sizes64 ? ZIP32_LIMIT : known ? r.compressedSize : 0, 18);
  b.writeUInt32LE(r.sizes64 ? ZIP32_LIMIT : known ? r.uncompressedSize : 0, 22);
  b.writeUInt16LE(r.name.length, 26);
  b.writeUInt16LE(extra, 28);
  r.name.copy(b, 30);
  if (r.sizes64) {
    // The ZIP64 extended information field of a local header has both sizes (0 until the descriptor).
    const at = 30 + r.name.length;
    b.writeUInt16LE(0x0001, at);
    b.writeUInt16LE(16, at + 2);
    b.writeBigUInt64LE(BigInt(known ? r.uncompressedSize : 0), at + 4);
    b.writeBigUInt64LE(BigInt(known ? r.compressedSize : 0), at + 12);
  }
  return b;
}

function dataDescriptor(r: CentralRecord): Buffer {
  if (!r.sizes64) {
    const b = Buffer.alloc(16);
    b.writeUInt32LE(SIG_DESCRIPTOR, 0);
    b.writeUInt32LE(r.crc32, 4);
    b.writeUInt32LE(r.compressedSize, 8);
    b.writeUInt32LE(r.uncompressedSize, 12);
    return b;
  }
  const b = Buffer.alloc(24);
  b.writeUInt32LE(SIG_DESCRIPTOR, 0);
  b.writeUInt32LE(r.crc32, 4);
  b.writeBigUInt64LE(BigInt(r.compressedSize), 8);
  b.writeBigUInt64LE(BigInt(r.uncompressedSize), 16);
  return b;
}

function centralHeader(r: CentralRecord, when: { date: number; time: number }, force: boolean): Buffer {
  const offset64 = force || r.offset >= ZIP32_LIMIT;
  const fields = (r.sizes64 ? 2 : 0) + (offset64 ? 1 : 0);
  const extra = fields > 0 ? 4 + 8 * fields : 0;
  const b = Buffer.alloc(46 + r.name.length + extra);
  b.writeUInt32LE(SIG_CENTRAL, 0);
  b.writeUInt16LE(VERSION_MADE_BY, 4);
  b.writeUInt16LE(fields > 0 ? VERSION_ZIP64 : VERSION_DEFAULT, 6);
  b.writeUInt16LE(r.flags, 8);
  b.writeUInt16LE(r.method, 10);
  b.writeUInt16LE(when.time, 12);
  b.writeUInt16LE(when.date, 14);
  b.writeUInt32LE(r.crc32, 16);
  b.writeUInt32LE(r.sizes64 ? ZIP32_LIMIT : r.compressedSize, 20);
  b.writeUInt32LE(r.sizes64 ? ZIP32_LIMIT : r.uncompressedSize, 24);
  b.writeUInt16LE(r.name.length, 28);
  b.writeUInt16LE(extra, 30);
  // comment length, disk number start, internal attributes: 0
  b.writeUInt32LE(EXTERNAL_ATTRIBUTES, 38);
  b.writeUInt32LE(offset64 ? ZIP32_LIMIT : r.offset, 42);
  r.name.copy(b, 46);
  if (fields > 0) {
    // Only the fields whose header value is 0xFFFFFFFF, in this order.
    let at = 46 + r.name.length;
    b.writeUInt16LE(0x0001, at);
    b.writeUInt16LE(8 * fields, at + 2);
    at += 4;
    if (r.sizes64) {
      b.writeBigUInt64LE(BigInt(r.uncompressedSize), at);
      b.writeBigUInt64LE(BigInt(r.compressedSize), at + 8);
      at += 16;
    }
    if (offset64) b.writeBigUInt64LE(BigInt(r.offset), at);
  }
  return b;
}

function endRecords(entries: number, cdOffset: number, cdSize: number, force: boolean): Buffer {
  const zip64 = force || entries >= ZIP32_ENTRIES || cdOffset >= ZIP32_LIMIT || cdSize >= ZIP32_LIMIT;
  const b = Buffer.alloc((zip64 ? 56 + 20 : 0) + 22);
  let at = 0;
  if (zip64) {
    b.writeUInt32LE(SIG_END64, 0);
    b.writeBigUInt64LE(44n, 4); // size of the rest of this record
    b.writeUInt16LE(VERSION_MADE_BY, 12);
    b.writeUInt16LE(VERSION_ZIP64, 14);
    // this disk, disk of the central directory: 0
    b.writeBigUInt64LE(BigInt(entries), 24);
    b.writeBigUInt64LE(BigInt(entries), 32);
    b.writeBigUInt64LE(BigInt(cdSize), 40);
    b.writeBigUInt64LE(BigInt(cdOffset), 48);
    // Locator: where the ZIP64 end record is (right after the central directory).
    b.writeUInt32LE(SIG_LOCATOR64, 56);
    b.writeBigUInt64LE(BigInt(cdOffset + cdSize), 64);
    b.writeUInt32LE(1, 72); // total number of disks
    at = 76;
  }
  b.writeUInt32LE(SIG_END, at);
  b.writeUInt16LE(zip64 ? ZIP32_ENTRIES : entries, at + 8);
  b.writeUInt16LE(zip64 ? ZIP32_ENTRIES : entries, at + 10);
  b.writeUInt32LE(zip64 ? ZIP32_LIMIT : cdSize, at + 12);
  b.writeUInt32LE(zip64 ? ZIP32_LIMIT : cdOffset, at + 16);
  return b;
}

function record(e: PlannedEntry, offset: number, force: boolean): CentralRecord {
  return {
    name: nameBytes(e.name),
    method: e.descriptor ? METHOD_STORE : METHOD_DEFLATE,
    flags: FLAG_UTF8 | (e.descriptor ? FLAG_DESCRIPTOR : 0),
    crc32: 0,
    compressedSize: e.compressedSize,
    uncompressedSize: e.uncompressedSize,
    offset,
    sizes64: needsZip64(e, force),
  };
}

/**
 * The exact size of the zip ZipWriter writes for these entries, in this order (the same
 * header builders, so it cannot disagree with the writer).
 */
export function plannedZipSize(entries: readonly PlannedEntry[], forceZip64 = false): number {
  const when = { date: 0, time: 0 };
  let offset = 0;
  const records: CentralRecord[] = [];
  for (const e of entries) {
    const r = record(e, offset, forceZip64);
    records.push(r);
    offset += localHeader(r, when).length + e.compressedSize + (e.descriptor ? dataDescriptor(r).length : 0);
  }
  let cdSize = 0;
  for (const r of records) cdSize += centralHeader(r, when, forceZip64).length;
  return offset + cdSize + endRecords(records.length, offset, cdSize, forceZip64).length;
}

/** An upper bound of the size of `n` bytes once deflated (zlib's deflateBound, raw). */
export const deflateBound = (n: number) => n + (n >>> 12) + (n >>> 14) + (n >>> 25) + 13;

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
  async addFile(name: string, absPath: string, size: number, opts: { sha256: boolean }): Promise<FileEntryResult> {
    this.#signal?.throwIfAborted();
    const r = record({ name, compressedSize: size, uncompressedSize: size, descriptor: true }, this.#offset, this.#force);
    await this.#write(localHeader(r, this.#when));
    await this.#flush();
    const hashed = this.#rate ? await this.#copyPaced(absPath, size, opts.sha256) : await this.#copyInKernel(absPath, size, opts.sha256);
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

  /** `cat` copies the file in the kernel while the thread reads it for its CRC (and SHA-256). */
  async #copyInKernel(absPath: string, size: number, sha256: boolean): Promise<FileEntryResult> {
    this.#signal?.throwIfAborted();
    const from = this.#offset;
    const stop = new AbortController();
    const onAbort = () => stop.abort(this.#signal?.reason);
    this.#signal?.addEventListener('abort', onAbort, { once: true });
    this.#copyingFrom = from;
    const copied = kernelCopy(this.#fh.fd, absPath, stop.signal);
    // Once cat is done, the disk can start on these bytes while the threads still hash them.
    if (size >= EARLY_SYNC_BYTES) copied.then(() => this.#startEarlySync(), () => undefined);
    const read = this.#hasher.readFile(absPath, size, sha256, this.#signal);
    try {
      let hashed: FileEntryResult & { bytes: number };
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
      if (after - from !== size || hashed.bytes !== size) {
        throw new Error(`${absPath}: copied ${after - from} and read ${hashed.bytes} bytes of ${size}; the file changed while it was archived`);
      }
      this.#offset = after;
      return { crc32: hashed.crc32, sha256: hashed.sha256 };
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

/** A copy that the kernel did not finish because the disk is full (mapped to ArchiveDiskFullError). */
function copyError(message: string, stderr: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  if (/No space left on device/i.test(stderr)) err.code = 'ENOSPC';
  else if (/Disk quota exceeded/i.test(stderr)) err.code = 'EDQUOT';
  return err;
}

/**
 * `cat <file>` with its stdout on `fd`: GNU cat (≥ 9.0) copies with copy_file_range when its
 * output is a regular file not opened for appending, so the bytes never enter this process.
 * The child shares our open file description: it writes at the file's current offset and
 * advances it. Under `setpriv --pdeathsig SIGKILL` when available, so that it dies with a
 * killed worker (pdeathsig follows the spawning thread: this runs on the main thread);
 * SIGKILLed on abort. Resolves once it is gone.
 */
function kernelCopy(fd: number, absPath: string, signal: AbortSignal): Promise<void> {
  const [command, argv] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'SIGKILL', '--', 'cat', '--', absPath]] : ['cat', ['--', absPath]];
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const child = spawn(command, argv, { stdio: ['ignore', fd, 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      if (stderr.length < 4096) stderr += s;
    });
    const onAbort = () => child.kill('SIGKILL');
    signal.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    const finish = (err: unknown) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (err === null) resolve();
      else reject(err);
    };
    child.once('error', (err) => {
      if (child.pid === undefined) finish(err);
    });
    child.once('close', (code, sig) => {
      if (signal.aborted) finish(signal.reason);
      else if (code === 0) finish(null);
      else finish(copyError(`cat ${absPath} exited with ${code ?? sig}: ${stderr.trim() || 'no output'}`, stderr));
    });
  });
}

/** Chunk a hashing thread reads a file in: small enough to stay in the CPU's L2 cache for the CRC or hash that follows. */
const READ_CHUNK = 128 << 10;

/**
 * One hashing thread. What it computes over the bytes it is given or reads: the zip's SHA-256
 * (`zip`), and per file its CRC-32 (`crc`) and SHA-256 (`sha`).
 */
const HASH_WORKER = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const zlib = require('node:zlib');
const zip = createHash('sha256');
let file = null;
const begin = (m) => (file = { crc: m.crc, zip: m.zip, crc32: 0, sha: m.sha ? createHash('sha256') : null, bytes: 0 });
const add = (data) => {
  if (file.zip) zip.update(data);
  if (file.crc) file.crc32 = zlib.crc32(data, file.crc32);
  if (file.sha) file.sha.update(data);
  file.bytes += data.length;
};
const end = () => {
  const f = file;
  file = null;
  parentPort.postMessage({ t: 'file', crc32: f.crc32 >>> 0, sha256: f.sha ? f.sha.digest('hex') : null, bytes: f.bytes });
};
parentPort.on('message', (m) => {
  switch (m.t) {
    case 'bytes':
      zip.update(m.data);
      return parentPort.postMessage({ t: 'ack', n: m.data.byteLength });
    case 'begin':
      return begin(m);
    case 'chunk':
      add(m.data);
      return parentPort.postMessage({ t: 'ack', n: m.data.byteLength });
    case 'end':
      return end();
    case 'read': {
      begin(m);
      let fd = -1;
      try {
        fd = fs.openSync(m.path, 'r');
        const buf = Buffer.allocUnsafeSlow(${READ_CHUNK});
        let left = m.size;
        while (left > 0) {
          const n = fs.readSync(fd, buf, 0, Math.min(buf.length, left), m.size - left);
          if (n === 0) break;
          add(buf.subarray(0, n));
          left -= n;
        }
      } catch (err) {
        file = null;
        return parentPort.postMessage({ t: 'error', message: String((err && err.message) || err), code: err && err.code });
      } finally {
        if (fd >= 0) fs.closeSync(fd);
      }
      return end();
    }
    case 'digest':
      return parentPort.postMessage({ t: 'digest', hex: zip.digest('hex') });
  }
});
`;

type ThreadMessage =
  | { t: 'ack'; n: number }
  | { t: 'file'; crc32: number; sha256: string | null; bytes: number }
  | { t: 'error'; message: string; code?: string }
  | { t: 'digest'; hex: string };

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (err: Error) => void;
}

type FileHashes = FileEntryResult & { bytes: number };
interface Wanted {
  crc: boolean;
  sha: boolean;
  zip: boolean;
}

/** A hashing thread: at most HASH_BACKLOG bytes handed to it wait unhashed. */
class HashThread {
  readonly #worker = new Worker(HASH_WORKER, { eval: true, execArgv: [], stdout: false, stderr: false });
  #pending = 0;
  #waiting: Waiter<void> | null = null;
  readonly #files: Array<Waiter<FileHashes>> = [];
  #digest: Waiter<string> | null = null;
  #failure: Error | null = null;

  constructor() {
    this.#worker.on('message', (m: ThreadMessage) => {
      switch (m.t) {
        case 'ack':
          this.#pending -= m.n;
          if (this.#waiting && this.#pending <= HASH_BACKLOG / 2) {
            this.#waiting.resolve();
            this.#waiting = null;
          }
          return;
        case 'file':
          this.#files.shift()?.resolve({ crc32: m.crc32, sha256: m.sha256, bytes: m.bytes });
          return;
        case 'error':
          this.#files.shift()?.reject(Object.assign(new Error(m.message), m.code ? { code: m.code } : {}));
          return;
        case 'digest':
          this.#digest?.resolve(m.hex);
      }
    });
    const fail = (err: Error) => {
      this.#failure ??= err;
      this.#waiting?.reject(err);
      for (const f of this.#files.splice(0)) f.reject(err);
      this.#digest?.reject(err);
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`a hashing thread exited (${code})`)));
  }

  /** Hands `data` over (the caller must not use its memory again) or, with `copy`, a copy of it. */
  post(message: { t: 'bytes' | 'chunk' }, data: Buffer, copy: boolean): Promise<void> | undefined {
    if (this.#failure) return Promise.reject(this.#failure);
    let view: Uint8Array;
    if (copy || data.byteOffset !== 0 || data.length !== data.buffer.byteLength) {
      view = new Uint8Array(data.length);
      view.set(data);
    } else view = new Uint8Array(data.buffer, 0, data.length);
    this.#worker.postMessage({ ...message, data: view }, [view.buffer as ArrayBuffer]);
    this.#pending += view.length;
    if (this.#pending <= HASH_BACKLOG) return undefined;
    return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }));
  }

  begin(wanted: Wanted): void {
    this.#worker.postMessage({ t: 'begin', ...wanted });
  }

  end(): Promise<FileHashes> {
    const p = this.#expectFile();
    this.#worker.postMessage({ t: 'end' });
    return p;
  }

  read(absPath: string, size: number, wanted: Wanted): Promise<FileHashes> {
    const p = this.#expectFile();
    this.#worker.postMessage({ t: 'read', path: absPath, size, ...wanted });
    return p;
  }

  digest(): Promise<string> {
    if (this.#failure) return Promise.reject(this.#failure);
    const p = new Promise<string>((resolve, reject) => (this.#digest = { resolve, reject }));
    this.#worker.postMessage({ t: 'digest' });
    return p;
  }

  close(): void {
    this.#worker.removeAllListeners('exit');
    for (const f of this.#files.splice(0)) f.reject(new Error('the zip writer was closed'));
    void this.#worker.terminate();
  }

  #expectFile(): Promise<FileHashes> {
    if (this.#failure) return Promise.reject(this.#failure);
    const p = new Promise<FileHashes>((resolve, reject) => this.#files.push({ resolve, reject }));
    p.catch(() => undefined); // awaited by the caller; a failure after an abort must not go unhandled
    return p;
  }
}

/**
 * The hashing, on two threads so that it runs beside the copy on every core there is: one
 * computes the SHA-256 of the zip (every byte, in order: our headers and documents are sent to
 * it, file bytes it reads itself), the other each stored file's CRC-32 and, when asked, its
 * SHA-256. Files copied by the kernel both read from the page cache; chunks of a user-space
 * copy are handed to both.
 */
class ZipHasher {
  readonly #zip = new HashThread();
  readonly #entry = new HashThread();

  /** Zip bytes written by us (headers, documents): hashed in order. */
  bytes(buf: Buffer): Promise<void> | undefined {
    return this.#zip.post({ t: 'bytes' }, buf, true);
  }

  beginFile(sha256: boolean): void {
    this.#zip.begin({ crc: false, sha: false, zip: true });
    this.#entry.begin({ crc: true, sha: sha256, zip: false });
  }

  /** A chunk of the current file, as written (handed over: the caller must not reuse it). */
  async fileChunk(data: Buffer): Promise<void> {
    const a = this.#zip.post({ t: 'chunk' }, data, true);
    const b = this.#entry.post({ t: 'chunk' }, data, false);
    await Promise.all([a, b]);
  }

  async endFile(): Promise<FileHashes> {
    return this.#both(this.#zip.end(), this.#entry.end());
  }

  /** Reads `size` bytes of the file (fewer if it is shorter) for its CRC-32, its SHA-256 if asked, and the zip's hash. */
  async readFile(absPath: string, size: number, sha256: boolean, signal?: AbortSignal): Promise<FileHashes> {
    signal?.throwIfAborted();
    const p = this.#both(this.#zip.read(absPath, size, { crc: false, sha: false, zip: true }), this.#entry.read(absPath, size, { crc: true, sha: sha256, zip: false }));
    if (!signal) return p;
    let onAbort: (() => void) | undefined;
    try {
      return await Promise.race([p, new Promise<never>((_, reject) => signal.addEventListener('abort', (onAbort = () => reject(signal.reason)), { once: true }))]);
    } finally {
      p.catch(() => undefined);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  digest(): Promise<string> {
    return this.#zip.digest();
  }

  close(): void {
    this.#zip.close();
    this.#entry.close();
  }

  async #both(zip: Promise<FileHashes>, entry: Promise<FileHashes>): Promise<FileHashes> {
    const [z, e] = await Promise.all([zip, entry]);
    // Both read the same file: a file that changed between their reads shows here (or in the size check).
    return z.bytes === e.bytes ? e : { ...e, bytes: -1 };
  }
}
