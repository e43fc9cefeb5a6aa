import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';

/**
 * An archive's published checksum as a user checks it (docs/archives.md, "Integrity"): the
 * SHA-256 of the `manifest.json` that `unzip` extracts from the downloaded zip.
 */
export function manifestSha256(zipFile: string): string {
  const manifest = execFileSync('unzip', ['-p', zipFile, '*/manifest.json'], { maxBuffer: 64 << 20 });
  if (manifest.length === 0) throw new Error(`${zipFile}: no manifest.json`);
  return createHash('sha256').update(manifest).digest('hex');
}
