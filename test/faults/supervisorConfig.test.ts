import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.join(import.meta.dirname, '..', '..');

/**
 * npm start's supervisor restarts a process that dies, but not one whose config is bad
 * (exit code 2): restarting cannot help, and a restart loop would hide the message.
 */
describe("npm start's supervisor", () => {
  it('stops everything with the config error, without restarting, when the config is bad', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', SPYGLASS_MEDIASOUP_WORKERS: 'many' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearTimeout(timer);
    expect(out).toMatch(/SPYGLASS_MEDIASOUP_WORKERS must be a number/);
    expect(out).not.toMatch(/restarting it/);
    expect(code).toBe(2);
  }, 30_000);
});
