import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Config } from '../common/config.ts';

const root = path.join(import.meta.dirname, '..');

/** A real workers process (`node --import tsx workers/main.ts`) for the given server config. */
export interface WorkersProcess {
  readonly pid: number;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Everything it printed, for failure messages. */
  output(): string;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, then waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts the workers process on the server's data directory, Redis and queue prefix, and
 * resolves once its BullMQ workers are running.
 */
export async function spawnWorkers(config: Config, env: Record<string, string> = {}): Promise<WorkersProcess> {
  // tsx as a loader in the same process (not the tsx CLI, which runs a second node process):
  // the pid is the worker's own, so a kill -9 really kills it.
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      DATA_DIR: config.dataDir,
      REDIS_URL: config.redisUrl,
      SPYGLASS_QUEUE_PREFIX: config.queuePrefix,
      LOG_LEVEL: 'info',
      NODE_ENV: 'test',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`workers did not start within 30 s:\n${out}`)), 30_000);
    const check = () => {
      if (out.includes('workers started')) {
        clearTimeout(timer);
        child.stdout.off('data', check);
        resolve();
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`workers exited (${code}) before starting:\n${out}`));
    });
  });
  return {
    pid: child.pid!,
    exited,
    output: () => out,
    kill: (signal) => child.kill(signal),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
