import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** `spyglass-s3-<kind>-<pid>-XXXXXX`: whose process made it is in the name. */
const NAME = /^spyglass-s3-(?:file|dir|spool)-(\d+)-/;

/**
 * A temporary directory of this process under the system's temporary directory (S3Storage's
 * downloads, local directories and recording spools), named with this process's id so that a
 * later process can tell it was left behind by a process that died (killed before it could
 * release it: {@link removeOrphanTempDirs}).
 */
export function makeTempDir(kind: 'file' | 'dir' | 'spool'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `spyglass-s3-${kind}-${process.pid}-`));
}

/**
 * Removes the temporary directories whose process is gone (a workers host killed mid-recording
 * leaves its segment in flight in one). A directory whose process id is alive stays, whoever
 * holds that id now: nothing of a live process is ever removed. Returns the names removed.
 */
export async function removeOrphanTempDirs(dir = os.tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [])) {
    const pid = Number(NAME.exec(name)?.[1] ?? Number.NaN);
    if (!Number.isInteger(pid) || pid === process.pid || alive(pid)) continue;
    await rm(path.join(dir, name), { recursive: true, force: true }).then(
      () => removed.push(name),
      () => undefined,
    );
  }
  return removed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, as another user's.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
