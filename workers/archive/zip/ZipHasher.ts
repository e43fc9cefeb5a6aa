import type { FileHashes } from './hashMessages.ts';
import { HashThread } from './HashThread.ts';

/**
 * The hashing, on two threads so that it runs beside the copy on every core there is: one
 * computes the SHA-256 of the zip (every byte, in order: our headers and documents are sent to
 * it, file bytes it reads itself), the other each stored file's CRC-32 and, when asked, its
 * SHA-256. Files copied by the kernel both read from the page cache; chunks of a user-space
 * copy are handed to both.
 */
export class ZipHasher {
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
