import type { FileHashes } from './hashMessages.ts';
import { HashThread } from './HashThread.ts';

/**
 * The hashing, on two threads so that it runs beside the copy on every core there is: one
 * computes the SHA-256 of the zip (every byte, in order: our headers and documents are sent to
 * it, file bytes it reads itself), the other each stored file's CRC-32 and, when asked, its
 * SHA-256. Files copied by the kernel both read from the page cache — the entry thread only
 * when the CRC-32 or SHA-256 is not known already, the zip's thread behind the copy (the writer
 * goes on to the next entry; digest() checks every read); chunks of a user-space copy are
 * handed to both.
 */
export class ZipHasher {
  readonly #zip = new HashThread();
  readonly #entry = new HashThread();
  /** Files the zip's thread was queued to read, in order, not yet checked. */
  readonly #zipReads: Array<{ absPath: string; size: number; read: Promise<FileHashes> }> = [];

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

  /**
   * A file copied by the kernel. The zip's thread is only queued to read it (after whatever was
   * queued before; digest() checks that it read `size` bytes): the writer does not wait for the
   * zip's hash between entries. Resolves with what the entry thread read for the CRC-32 and
   * SHA-256 that are `wanted`, or null when neither is (both recorded at finalize).
   */
  async readFile(absPath: string, size: number, wanted: { crc: boolean; sha256: boolean }, signal?: AbortSignal): Promise<FileHashes | null> {
    signal?.throwIfAborted();
    this.#zipReads.push({ absPath, size, read: this.#zip.read(absPath, size, { crc: false, sha: false, zip: true }) });
    if (!wanted.crc && !wanted.sha256) return null;
    const p = this.#entry.read(absPath, size, { crc: wanted.crc, sha: wanted.sha256, zip: false });
    if (!signal) return p;
    let onAbort: (() => void) | undefined;
    try {
      return await Promise.race([p, new Promise<never>((_, reject) => signal.addEventListener('abort', (onAbort = () => reject(signal.reason)), { once: true }))]);
    } finally {
      p.catch(() => undefined);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  /** The zip's SHA-256, once the zip's thread has read every queued file in full. */
  async digest(): Promise<string> {
    const digest = this.#zip.digest();
    digest.catch(() => undefined); // awaited below, unless a read failed first
    for (const r of this.#zipReads.splice(0)) {
      const { bytes } = await r.read;
      if (bytes !== r.size) throw new Error(`${r.absPath}: read ${bytes} of ${r.size} bytes for the zip's hash; the file changed while it was archived`);
    }
    return digest;
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
