import type { Logger } from '../../common/logger.ts';
import type { WorkerPool } from '../../sfu/WorkerPool.ts';

/**
 * The CPU each media worker used over the last sampling interval, as a share of one core
 * (mediasoup's `getResourceUsage`: user + system time), for the node registry's heartbeat.
 * A worker is absent until it was sampled twice; a worker that was replaced starts again.
 */
export class WorkerCpu {
  readonly #pool: WorkerPool;
  readonly #logger: Logger;
  readonly #timer: NodeJS.Timeout;
  /** Per worker pid: the last reading (CPU ms, wall ms) and the share it gave. */
  readonly #byPid = new Map<number, { cpuMs: number; at: number; share: number | undefined }>();
  #sampling = false;

  constructor(pool: WorkerPool, intervalMs: number, logger: Logger) {
    this.#pool = pool;
    this.#logger = logger;
    this.#timer = setInterval(() => void this.sample(), intervalMs);
    this.#timer.unref();
  }

  /** The share of one core worker `pid` used over the last interval (0–1, more on a busy worker's threads), if known. */
  share(pid: number): number | undefined {
    return this.#byPid.get(pid)?.share;
  }

  /** Reads every worker's CPU time once (the timer calls it; tests may too). */
  async sample(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      const seen = new Set<number>();
      for (const w of this.#pool.workers) {
        const usage = await w.worker.getResourceUsage().catch(() => undefined);
        if (!usage) continue;
        seen.add(w.pid);
        const cpuMs = usage.ru_utime + usage.ru_stime;
        const at = performance.now();
        const last = this.#byPid.get(w.pid);
        const share = last && at > last.at ? Math.max(0, (cpuMs - last.cpuMs) / (at - last.at)) : undefined;
        this.#byPid.set(w.pid, { cpuMs, at, share: share === undefined ? undefined : Math.round(share * 1000) / 1000 });
      }
      for (const pid of this.#byPid.keys()) if (!seen.has(pid)) this.#byPid.delete(pid);
    } catch (err) {
      this.#logger.warn({ err }, 'could not sample the media workers’ CPU');
    } finally {
      this.#sampling = false;
    }
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
