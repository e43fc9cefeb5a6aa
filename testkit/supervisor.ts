import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../scripts/cluster/freePort.ts';
import { HostProcess } from '../scripts/cluster/HostProcess.ts';
import { dropQueues, testQueuePrefix } from './server.ts';

export { freePort };

const root = path.join(import.meta.dirname, '..');
/** The plain-RTP stand-in for WebRTC, loaded into the signalling process (see plainWebRtc.ts). */
export const PLAIN_WEBRTC_PRELOAD = path.join(import.meta.dirname, 'plainWebRtc.preload.mjs');

/** A real `npm start` (scripts/start.ts: signalling + workers processes) on temp data and free ports. */
export interface Supervisor {
  readonly pid: number;
  readonly url: string;
  readonly dataDir: string;
  readonly queuePrefix: string;
  readonly redisUrl: string;
  /** Everything the supervisor and its processes printed. */
  output(): string;
  /** Resolves with the supervisor's exit code. */
  readonly exited: Promise<number | null>;
  /** Waits until the output (from `from` on) matches `re`; returns the match. */
  waitFor(re: RegExp, timeoutMs?: number, from?: number): Promise<RegExpMatchArray>;
  /** SIGTERM (then SIGKILL after 20 s), then deletes its data dir and Redis keys. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts `node --import tsx scripts/start.ts` (what `npm start` runs after setup and the web
 * build) with its own data dir, queue prefix, HTTP port and media port ranges, and the
 * plain-RTP stand-in for WebRTC in the signalling process. Resolves once it prints its URL.
 * `entry: 'signaling/main.ts'` starts the signalling process alone (one node, no supervisor).
 */
export async function startSupervisor(env: Record<string, string> = {}, entry = 'scripts/start.ts'): Promise<Supervisor> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'spyglass-supervised-'));
  const queuePrefix = env.SPYGLASS_QUEUE_PREFIX ?? testQueuePrefix();
  const port = await freePort();
  const redisUrl = env.REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  // Port blocks of their own, away from the defaults other test servers use, and below the
  // kernel's ephemeral range (32768–60999), where tests that ask for a free port get theirs.
  const rtc = 20_000 + randomInt(0, 10) * 1000;
  const rec = 60_000 + randomInt(0, 25) * 200;
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      NODE_OPTIONS: `--import tsx --import ${PLAIN_WEBRTC_PRELOAD}`,
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dataDir,
      REDIS_URL: redisUrl,
      SPYGLASS_QUEUE_PREFIX: queuePrefix,
      SPYGLASS_MEDIA_PORT: '0',
      SPYGLASS_RTMP_PORT: '0',
      SPYGLASS_RTC_MIN_PORT: String(rtc),
      SPYGLASS_RTC_MAX_PORT: String(rtc + 999),
      SPYGLASS_RECORDING_MIN_PORT: String(rec),
      SPYGLASS_RECORDING_MAX_PORT: String(rec + 199),
      LOG_LEVEL: 'warn',
      // Every synthetic peer connects from 127.0.0.1: one address, far more than a person's tabs.
      SPYGLASS_CONNECTIONS_PER_ADDRESS: '1000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: false,
  });
  const proc = new HostProcess('the supervisor', 'machine', child);
  let stopped: Promise<void> | undefined;
  const sup: Supervisor = {
    pid: child.pid!,
    url: `http://127.0.0.1:${port}`,
    dataDir,
    queuePrefix,
    redisUrl,
    output: () => proc.output(),
    exited: proc.exited,
    waitFor: (re, timeoutMs = 60_000, from = 0) => proc.waitFor(re, timeoutMs, from),
    stop() {
      stopped ??= (async () => {
        await proc.stop(20_000);
        await dropQueues(redisUrl, queuePrefix).catch(() => undefined);
        rmSync(dataDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
  try {
    await sup.waitFor(/Spyglass is live at (\S+)/, 90_000);
  } catch (error) {
    await sup.stop();
    throw error;
  }
  return sup;
}
