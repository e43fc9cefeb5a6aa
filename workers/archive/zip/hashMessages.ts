/** The messages between a zip writer and one of its hashing threads (hashThread.mjs). */

/** What to compute over a file's bytes: its CRC-32, its SHA-256, and whether they go into the zip's SHA-256. */
export interface Wanted {
  crc: boolean;
  sha: boolean;
  zip: boolean;
}

/** To the thread. `data` is handed over (transferred). */
export type ToThread =
  | { t: 'bytes'; data: Uint8Array }
  | ({ t: 'begin' } & Wanted)
  | { t: 'chunk'; data: Uint8Array }
  | { t: 'end' }
  | ({ t: 'read'; path: string; size: number } & Wanted)
  | { t: 'digest' };

/** From the thread. */
export type FromThread =
  | { t: 'ack'; n: number }
  | { t: 'file'; crc32: number; sha256: string | null; bytes: number }
  | { t: 'error'; message: string; code?: string }
  | { t: 'digest'; hex: string };

/** What the writer learns of a stored file. */
export interface FileEntryResult {
  crc32: number;
  /** The file's SHA-256 (hex) when asked for, else null. */
  sha256: string | null;
}

/** The same, with the bytes the thread hashed (-1 when the two threads disagree: the file changed). */
export type FileHashes = FileEntryResult & { bytes: number };
