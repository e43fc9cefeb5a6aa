import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Linux first. `cat` copies a file into the zip with copy_file_range only on Linux with GNU
 * coreutils ≥ 9.0 (Debian 12 has 9.1): there the bytes never enter this process. Elsewhere
 * (BSD or busybox cat) the same call is still correct, copying through cat's own buffer; the
 * portable in-process alternative is the writer's user-space copy (ZipWriter with
 * `maxBytesPerSecond`). `setpriv --pdeathsig` exists only on Linux (util-linux) and is used
 * when present.
 */
const SETPRIV = '/usr/bin/setpriv';

/** A copy that the kernel did not finish because the disk is full (mapped to ArchiveDiskFullError). */
function copyError(message: string, stderr: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  if (/No space left on device/i.test(stderr)) err.code = 'ENOSPC';
  else if (/Disk quota exceeded/i.test(stderr)) err.code = 'EDQUOT';
  return err;
}

/**
 * `cat <file>` with its stdout on `fd`: GNU cat (≥ 9.0) copies with copy_file_range when its
 * output is a regular file not opened for appending, so the bytes never enter this process.
 * The child shares our open file description: it writes at the file's current offset and
 * advances it. Under `setpriv --pdeathsig SIGKILL` when available, so that it dies with a
 * killed worker (pdeathsig follows the spawning thread: this runs on the main thread);
 * SIGKILLed on abort. Resolves once it is gone.
 */
export function kernelCopy(fd: number, absPath: string, signal: AbortSignal): Promise<void> {
  const [command, argv] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'SIGKILL', '--', 'cat', '--', absPath]] : ['cat', ['--', absPath]];
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const child = spawn(command, argv, { stdio: ['ignore', fd, 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      if (stderr.length < 4096) stderr += s;
    });
    const onAbort = () => child.kill('SIGKILL');
    signal.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    const finish = (err: unknown) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (err === null) resolve();
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the spawn error, the signal's reason or copyError(), passed on as they are
      else reject(err);
    };
    child.once('error', (err) => {
      if (child.pid === undefined) finish(err);
    });
    child.once('close', (code, sig) => {
      if (signal.aborted) finish(signal.reason);
      else if (code === 0) finish(null);
      else finish(copyError(`cat ${absPath} exited with ${code ?? sig}: ${stderr.trim() || 'no output'}`, stderr));
    });
  });
}
