/** The messages between a zip writer and its hashing thread (hashThread.mjs). */

/** What to compute over a file's bytes: its CRC-32 and its SHA-256. */
export interface Wanted {
  crc: boolean;
  sha: boolean;
}

/** To the thread. `data` is handed over (transferred). */
export type ToThread = ({ t: 'begin' } & Wanted) | { t: 'chunk'; data: Uint8Array } | { t: 'end' } | ({ t: 'read'; path: string; size: number } & Wanted);

/** From the thread. */
export type FromThread = { t: 'ack'; n: number } | { t: 'file'; crc32: number; sha256: string | null; bytes: number } | { t: 'error'; message: string; code?: string };

/** What the writer learns of a stored file. */
export interface FileEntryResult {
  crc32: number;
  /** The file's SHA-256 (hex) when asked for, else null. */
  sha256: string | null;
}

/** The same, with the bytes the thread hashed. */
export type FileHashes = FileEntryResult & { bytes: number };
