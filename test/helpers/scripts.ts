import { execFile } from 'node:child_process';
import path from 'node:path';

const root = path.join(import.meta.dirname, '..', '..');

/** Runs a script of the project with tsx and `env` on top of a clean environment; never rejects on a non-zero exit. */
export function runScript(script: string, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const base: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries({ ...process.env, NODE_ENV: 'test' }).filter(([k]) => !(k.startsWith('SPYGLASS_') || k === 'DATABASE_URL' || k === 'DATA_DIR')),
  );
  return new Promise((resolve) => {
    execFile('npx', ['tsx', script, ...args], { cwd: root, env: { ...base, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
