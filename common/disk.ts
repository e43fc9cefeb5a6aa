import { mkdir, statfs } from 'node:fs/promises';

/** Free space (for unprivileged users) of the file system holding `dir`, in MiB. Creates `dir` if missing. */
export async function freeMb(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  const s = await statfs(dir);
  return (s.bavail * s.bsize) / (1024 * 1024);
}
