import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AppError } from './errors.ts';

/** The file, under the data directory, that holds the generated secret. */
export const SECRET_FILE = 'secret';

/**
 * The secret of a one-host install that configures none: read from `<dataDir>/secret`, or
 * generated (32 random bytes, base64url) and written there with mode 0600 on the first start.
 * The signalling and workers processes start together and share the data directory, so the
 * file appears atomically (written aside, then hard-linked into place): whichever process
 * loses the race reads the winner's secret instead of writing its own.
 */
export function dataDirSecret(dataDir: string): string {
  const file = path.join(dataDir, SECRET_FILE);
  const existing = readSecret(file);
  if (existing !== undefined) return existing;
  mkdirSync(dataDir, { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(tmp, 0o600); // the umask may have narrowed it further, never widened; be exact
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
  const secret = readSecret(file);
  if (secret === undefined) throw new AppError('INTERNAL', `config: could not create ${file}`);
  return secret;
}

function readSecret(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AppError('BAD_REQUEST', `config: cannot read ${file}: ${(err as Error).message}`);
  }
  const secret = text.trim();
  if (secret.length < 16) {
    throw new AppError('BAD_REQUEST', `config: ${file} holds no usable secret (under 16 characters); delete it to generate a new one, or set SPYGLASS_SECRET`);
  }
  return secret;
}
