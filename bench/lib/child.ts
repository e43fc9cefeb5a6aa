import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/**
 * Helper processes of the benchmarks (UDP sinks, a signalling server under test) talk to the
 * bench process over Node's IPC channel with numbered requests. A child runs TypeScript
 * through tsx as a loader (`node --import tsx`), like the repo's other child scripts.
 */

const repoRoot = path.join(import.meta.dirname, '..', '..');

interface RequestMessage {
  id: number;
  body: unknown;
}

type ReplyMessage = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export interface ChildHandle {
  readonly pid: number;
  /** Sends one request; resolves with the child's answer, rejects with its error or if it exits. */
  request<T>(body: unknown, timeoutMs?: number): Promise<T>;
  /** Asks the child to finish (SIGTERM), then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `script` (a .ts file) with an IPC channel; resolves when it sends its first message ('ready'). */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the type of the child's first message
export async function startChild<Ready>(script: string, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildHandle; ready: Ready }> {
  const proc: ChildProcess = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let nextId = 1;
  let exitError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', (code, signal) => {
      exitError = new Error(`${path.basename(script)} exited (code ${code}, signal ${signal})`);
      for (const p of pending.values()) {
        clearTimeout(p.timer);
        p.reject(exitError);
      }
      pending.clear();
      resolve();
    });
  });
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${path.basename(script)} did not start within 60 s`)), 60_000);
    proc.once('message', (m: unknown) => {
      clearTimeout(timer);
      resolve((m as { ready: Ready }).ready);
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(exitError ?? new Error('child exited'));
    });
  });
  proc.on('message', (m: unknown) => {
    const reply = m as ReplyMessage;
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    clearTimeout(p.timer);
    if (reply.ok) p.resolve(reply.result);
    else p.reject(new Error(reply.error));
  });
  const child: ChildHandle = {
    pid: proc.pid!,
    request<T>(body: unknown, timeoutMs = 60_000): Promise<T> {
      if (exitError) return Promise.reject(exitError);
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${path.basename(script)}: no answer within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
        proc.send({ id, body } satisfies RequestMessage);
      });
    },
    async stop(graceMs = 5000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  return { child, ready };
}

/**
 * The child's side: announces `ready`, then answers every request with `handle` (errors are
 * sent back as messages). The child exits when the parent goes away.
 */
export function serveParent(ready: unknown, handle: (body: unknown) => Promise<unknown>): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error('not started with an IPC channel (use startChild)');
  process.on('message', (m: unknown) => {
    const { id, body } = m as RequestMessage;
    handle(body).then(
      (result) => send({ id, ok: true, result } satisfies ReplyMessage),
      (error: unknown) => send({ id, ok: false, error: error instanceof Error ? error.stack ?? error.message : String(error) } satisfies ReplyMessage),
    );
  });
  process.on('disconnect', () => process.exit(0));
  send({ ready });
}
