import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { checkKey, type LocalDir, type LocalFile, type SpoolDir, type Storage, type StoredObject } from './Storage.ts';

/**
 * The one-host default of the storage port: objects are files under the data directory, at
 * their key (`<root>/replays/<broadcastId>/replay.mp4`). Local files and directories (local,
 * spool) are the objects themselves, so nothing is copied.
 */
export class LocalDiskStorage implements Storage {
  readonly #root: string;

  /** @param root the data directory (made on first write if missing). */
  constructor(root: string) {
    this.#root = path.resolve(root);
  }

  /** The file of a key; the key is checked first, and the result is always under the root. */
  #path(key: string): string {
    const full = path.join(this.#root, ...checkKey(key).split('/'));
    // checkKey already refuses '..'; this keeps the promise if the rules ever change.
    if (!full.startsWith(this.#root + path.sep)) throw new Error(`storage key escapes the root: ${key}`);
    return full;
  }

  async stat(key: string): Promise<StoredObject | null> {
    try {
      const st = await stat(this.#path(key));
      return st.isFile() ? { sizeBytes: st.size, modifiedAt: st.mtime } : null;
    } catch (err) {
      if (isAbsent(err)) return null;
      throw err;
    }
  }

  async createReadStream(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const file = this.#path(key);
    // Open first, so a missing object rejects here (ENOENT) instead of erroring the stream later.
    const handle = await open(file, 'r');
    return handle.createReadStream({ autoClose: true, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  async readFile(key: string): Promise<Buffer> {
    return readFile(this.#path(key));
  }

  async writeFile(key: string, data: string | Uint8Array): Promise<void> {
    const file = this.#path(key);
    await mkdir(path.dirname(file), { recursive: true });
    const temp = `${file}.partial-${process.pid}-${randomBytes(6).toString('hex')}`;
    try {
      const handle = await open(temp, 'w');
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async putFile(key: string, localPath: string): Promise<void> {
    const file = this.#path(key);
    await mkdir(path.dirname(file), { recursive: true });
    try {
      await rename(localPath, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      // Another file system: copy beside the target, then rename, so the object appears whole.
      const temp = `${file}.partial-${process.pid}-${randomBytes(6).toString('hex')}`;
      try {
        await copyFile(localPath, temp);
        await rename(temp, file);
      } catch (e) {
        await rm(temp, { force: true });
        throw e;
      }
      await unlink(localPath);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const base = checkKey(prefix);
    const out: string[] = [];
    const walk = async (dir: string, keyPrefix: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isAbsent(err)) return;
        throw err;
      }
      for (const e of entries) {
        if (e.isDirectory()) await walk(path.join(dir, e.name), `${keyPrefix}/${e.name}`);
        else if (e.isFile()) out.push(`${keyPrefix}/${e.name}`);
      }
    };
    await walk(this.#path(base), base);
    return out.sort();
  }

  async deletePrefix(prefix: string): Promise<void> {
    // An open download keeps its file; the space is freed when it ends.
    await rm(this.#path(prefix), { recursive: true, force: true });
  }

  async localFile(key: string): Promise<LocalFile> {
    return { path: this.#path(key), release: async () => undefined };
  }

  async localDir(prefix: string): Promise<LocalDir> {
    const dir = this.#path(prefix);
    await mkdir(dir, { recursive: true });
    return { path: dir, commit: async () => undefined, release: async () => undefined };
  }

  async spoolDir(prefix: string): Promise<SpoolDir> {
    const dir = this.#path(prefix);
    await mkdir(dir, { recursive: true });
    return {
      path: dir,
      // The file already is the object: only say so when it is not there.
      store: async (name) => {
        const st = await stat(this.#path(`${prefix}/${name}`));
        if (!st.isFile()) throw Object.assign(new Error(`not a file: ${prefix}/${name}`), { code: 'EISDIR' });
      },
      release: async () => undefined,
    };
  }
}

function isAbsent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
