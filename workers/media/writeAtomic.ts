import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes `dir/name` so that a reader (or a crash) sees the old file or the whole new one,
 * never a part: a temporary file beside it, fsync, rename. `dir` must exist.
 */
export async function writeAtomic(dir: string, name: string, data: string): Promise<void> {
  const tmp = path.join(dir, `${name}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path.join(dir, name));
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
