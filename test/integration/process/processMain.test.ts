import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const root = path.join(import.meta.dirname, '..', '..', '..');
const processMain = path.join(root, 'common', 'processMain.ts');

/**
 * A process built on runProcess whose close() resolves (`closes`) or never does (`hangs`);
 * it prints "ready" once started and its signal handlers are in place. Resolves with its exit code and output after SIGTERM.
 */
async function runAndTerminate(close: 'closes' | 'hangs', env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const closeBody = close === 'closes' ? 'async () => undefined' : '() => new Promise(() => undefined)';
  const script = `import { runProcess } from ${JSON.stringify(processMain)};
runProcess('probe', async () => {
  // Alive like a server would be, until close() ends it (process.exit by runProcess).
  setInterval(() => undefined, 60_000);
  // After runProcess has installed its signal handlers (they follow the start's promise).
  setTimeout(() => process.stdout.write('ready\\n'), 0);
  return { close: ${closeBody} };
});`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('ready\n') && child.exitCode === null && !child.killed) child.kill('SIGTERM');
  });
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, out };
}

describe('runProcess: graceful shutdown', () => {
  let dataDir: string | undefined;
  afterEach(() => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });
  const tempDataDir = () => (dataDir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-process-')));

  it('exits 0 once close() resolves', async () => {
    const { code, out } = await runAndTerminate('closes', { DATA_DIR: tempDataDir() });
    expect(code, out).toBe(0);
    expect(out).toContain('shutting down');
    expect(out).not.toContain('shutdown timed out');
  });

  it('exits 1 after shutdownTimeoutSeconds when close() hangs, and says so', async () => {
    const { code, out } = await runAndTerminate('hangs', { DATA_DIR: tempDataDir(), SPYGLASS_SHUTDOWN_TIMEOUT_SECONDS: '1' });
    expect(code, out).toBe(1);
    expect(out).toContain('shutdown timed out');
  }, 20_000);

  it('refuses a shutdown timeout that is not a positive number of seconds (exit 2, with the reason)', async () => {
    const { code, out } = await runAndTerminate('closes', { DATA_DIR: tempDataDir(), SPYGLASS_SHUTDOWN_TIMEOUT_SECONDS: '0' });
    expect(code).toBe(2);
    expect(out).toContain('shutdownTimeoutSeconds');
  });
});
