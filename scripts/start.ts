/**
 * `npm start`: runs every Spyglass process on this machine (today the signalling process,
 * which hosts the SFU) and stops them together on Ctrl-C / SIGTERM. Each process reads the
 * same environment, so one set of variables configures the whole service.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const processes: Array<{ name: string; entry: string }> = [{ name: 'signaling', entry: 'signaling/main.ts' }];

const children: ChildProcess[] = [];
let stopping = false;

function stopAll(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill(signal);
}

for (const p of processes) {
  const child = spawn(tsx, [p.entry], { cwd: root, stdio: 'inherit', env: process.env });
  children.push(child);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`${p.name} exited (${signal ?? code}); stopping the others\n`);
      stopAll('SIGTERM');
    }
    if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) process.exit(code ?? 0);
  });
}

process.on('SIGINT', () => stopAll('SIGINT'));
process.on('SIGTERM', () => stopAll('SIGTERM'));
