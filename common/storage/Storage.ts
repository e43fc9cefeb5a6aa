import type { Readable } from 'node:stream';

/**
 * The port for every file under the data directory that is not the database: recordings
 * (segments), replays, archives. Objects are named by keys (`replays/<broadcastId>/replay.mp4`,
 * see storageKeys.ts), never by paths, so that an object store can sit behind the same
 * interface as the local disk.
 *
 * Code that must hand a file to a local program (ffmpeg, the kernel's copy_file_range) says so
 * explicitly with `localFile` (read) or `localDir` (write): on local disk these are the files
 * themselves; an object store downloads into a temporary file, or uploads a temporary
 * directory on `commit()`.
 *
 * Keys are checked by every operation: a key that is not relative, has an empty, `.` or `..`
 * segment, or a character outside `A-Z a-z 0-9 . _ -` is refused with InvalidStorageKeyError.
 */
export interface Storage {
  /** Size and modification time of an object, or null when there is none. */
  stat(key: string): Promise<StoredObject | null>;
  /** The object's bytes, from `start` to `end` inclusive (the whole object when absent). Rejects with code ENOENT when absent. */
  createReadStream(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /** The whole object (small documents only). Rejects with code ENOENT when absent. */
  readFile(key: string): Promise<Buffer>;
  /** Writes a whole object atomically: readers see the old object or the new one, never part of it. */
  writeFile(key: string, data: string | Uint8Array): Promise<void>;
  /** Moves a local file in as the object `key`, atomically; the local file is gone afterwards. */
  putFile(key: string, localPath: string): Promise<void>;
  /** Keys of the objects under `prefix/`, sorted; empty when there are none. */
  list(prefix: string): Promise<string[]>;
  /** Deletes every object under `prefix/`. Deleting nothing is not an error. */
  deletePrefix(prefix: string): Promise<void>;
  /**
   * A local file with the object's bytes, for a local program to read, until `release()`.
   * The path may not exist when the object does not (callers handle ENOENT as "absent").
   */
  localFile(key: string): Promise<LocalFile>;
  /**
   * A local directory whose files become the objects under `prefix/`: on local disk the
   * directory itself (made if missing, holding what is already stored there), so files appear
   * as they are written; elsewhere a temporary copy, uploaded by `commit()`.
   */
  localDir(prefix: string): Promise<LocalDir>;
  /**
   * A local directory for files finished one at a time (a recorder's segments), each stored as
   * `prefix/<name>` by `store(name)` once it is finished; nothing stored under the prefix is
   * fetched. On local disk the prefix's own directory (made if missing), where `store` has
   * nothing to copy; elsewhere a new temporary directory, where `store` uploads the file,
   * checks the stored size and removes the local copy.
   */
  spoolDir(prefix: string): Promise<SpoolDir>;
}

/** What `stat` knows of an object. */
export interface StoredObject {
  sizeBytes: number;
  modifiedAt: Date;
}

/** A local copy (or the original) of one object. `release()` is idempotent. */
export interface LocalFile {
  readonly path: string;
  release(): Promise<void>;
}

/** A local directory standing for a prefix. `commit()` stores what it holds; `release()` is idempotent. */
export interface LocalDir {
  readonly path: string;
  commit(): Promise<void>;
  release(): Promise<void>;
}

/** A local directory whose finished files are stored one by one. `release()` is idempotent. */
export interface SpoolDir {
  readonly path: string;
  /** Stores the finished file `name` (relative to `path`, `/`-separated) as `prefix/name`. */
  store(name: string): Promise<void>;
  /** Done with the directory: a temporary one is removed, with anything not stored. */
  release(): Promise<void>;
}

/** A key that could escape its prefix or the store: refused before anything is touched. */
export class InvalidStorageKeyError extends Error {
  override readonly name = 'InvalidStorageKeyError';
  constructor(key: string) {
    super(`invalid storage key: ${JSON.stringify(key.slice(0, 200))}`);
  }
}

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;

/** Checks a key (or a prefix, which follows the same rules) and returns it. */
/** `key` is typed `unknown`: it comes from requests and job payloads, and is checked here. */
export function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 1024) throw new InvalidStorageKeyError(String(key));
  for (const segment of key.split('/')) {
    // A leading dot is refused too, so `..` and hidden files never name an object.
    if (!SEGMENT.test(segment)) throw new InvalidStorageKeyError(key);
  }
  return key;
}
