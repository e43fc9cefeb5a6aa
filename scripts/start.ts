/**
 * `npm start`: runs every Spyglass process on this machine — the signalling process (which
 * hosts the SFU) and the workers process (recording, replays) — and stops them together on
 * Ctrl-C / SIGTERM. Each process reads the same environment, so one set of variables
 * configures the whole service.
 *
 * A process that dies is restarted a second later, like a service manager would: a workers
 * process takes its recordings over from the queue; a signalling process comes back on the
 * same port, the browsers' socket.io clients reconnect to it by themselves, and at its start
 * it ends the broadcasts the dead process left live (their media died with it) and finalises
 * their replays (see docs/operations.md). A process that exits with code 2 (its config is
 * bad) or dies more than 5 times within a minute is not restarted: everything stops.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const processes: Array<{ name: string; entry: string; restart: boolean }> = [
  { name: 'signaling', entry: 'signaling/main.ts', restart: true },
  { name: 'workers', entry: 'workers/main.ts', restart: true },
];
/** A process restarted more often than this within a minute is left down (and everything stops). */
const MAX_RESTARTS_PER_MINUTE = 5;
/** The exit code of a process whose config is bad (common/processMain.ts): restarting cannot help. */
const EXIT_BAD_CONFIG = 2;

const running = new Map<string, ChildProcess>();
let stopping = false;
let exitCode = 0;

function stopAll(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  for (const c of running.values()) c.kill(signal);
  if (running.size === 0) process.exit(exitCode);
}

function run(p: (typeof processes)[number], restarts: number[]): void {
  // tsx as a loader inside the process (not the tsx CLI, which adds a wrapper process):
  // signals and exit codes are the process's own.
  const child = spawn(process.execPath, ['--import', 'tsx', p.entry], { cwd: root, stdio: 'inherit', env: process.env });
  running.set(p.name, child);
  child.on('exit', (code, signal) => {
    running.delete(p.name);
    if (!stopping) {
      const now = Date.now();
      const recent = restarts.filter((t) => now - t < 60_000);
      if (p.restart && code !== EXIT_BAD_CONFIG && recent.length < MAX_RESTARTS_PER_MINUTE) {
        process.stderr.write(`${p.name} exited (${signal ?? code}); restarting it\n`);
        setTimeout(() => run(p, [...recent, now]), 1000);
        return;
      }
      process.stderr.write(`${p.name} exited (${signal ?? code}); stopping the others\n`);
      exitCode = code ?? 1;
      stopAll('SIGTERM');
    }
    if (running.size === 0) process.exit(exitCode);
  });
}

for (const p of processes) run(p, []);
process.on('SIGINT', () => stopAll('SIGINT'));
process.on('SIGTERM', () => stopAll('SIGTERM'));
