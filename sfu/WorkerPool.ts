import { setTimeout as sleep } from 'node:timers/promises';
import { createWorker, setLogEventListeners, type types as ms } from 'mediasoup';
import { AppError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { MediaWorker } from './MediaWorker.ts';
import { TypedEmitter } from './TypedEmitter.ts';

/** Options of {@link WorkerPool.create}. */
export interface WorkerPoolOptions {
  /** Number of mediasoup workers; the caller usually passes the number of cores. */
  numWorkers: number;
  /** IP the WebRtcServers listen on, e.g. '127.0.0.1' or '0.0.0.0'. */
  listenIp: string;
  /**
   * Address (IP or hostname) put into ICE candidates: what browsers connect to.
   * Required when `listenIp` is unspecified ('0.0.0.0' or '::'); default: `listenIp`.
   */
  announcedAddress?: string | undefined;
  /** Worker i's WebRtcServer listens on UDP and TCP port `webRtcPort + i`; 0 lets mediasoup pick (tests). */
  webRtcPort: number;
  /** Port range for other transports (pipe, plain). */
  rtcMinPort: number;
  rtcMaxPort: number;
  /** mediasoup worker log level. */
  logLevel: 'debug' | 'warn' | 'error' | 'none';
  /** Receives the workers' logs and deaths, with `{ workerIndex, pid }`. */
  logger: Logger;
}

/** Events of {@link WorkerPool}. */
export type WorkerPoolEvents = {
  /** A worker process died; its routers are closed already. A replacement is on its way. */
  workerdied: [{ index: number; pid: number; error: Error }];
  /** A new worker and WebRtcServer took the dead one's index (and port). */
  workerreplaced: [{ index: number; pid: number }];
};

/** How often and how long to wait when a replacement cannot bind its port yet. */
const REPLACE_ATTEMPTS = 8;
const REPLACE_DELAY_MS = 250;
const CLOSE_TIMEOUT_MS = 3000;

/**
 * The process's mediasoup workers, one WebRtcServer each.
 *
 * A dead worker is logged, announced with 'workerdied' and replaced at the same index;
 * the process never exits because of it. Routers on the dead worker get mediasoup's
 * 'workerclose', which is how broadcasts learn.
 *
 * mediasoup's log listeners are process-wide: the pool installs them at create() and
 * removes them at close(), so run one pool per process.
 */
export class WorkerPool extends TypedEmitter<WorkerPoolEvents> {
  readonly #opts: WorkerPoolOptions;
  readonly #logger: Logger;
  readonly #workers: MediaWorker[] = [];
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(opts: WorkerPoolOptions) {
    super((event, error) => opts.logger.error({ err: error, event }, 'WorkerPool listener threw'));
    this.#opts = opts;
    this.#logger = opts.logger;
  }

  /**
   * Starts `numWorkers` workers with their WebRtcServers.
   * @throws AppError('BAD_REQUEST') for inconsistent options (e.g. 0.0.0.0 without announcedAddress).
   */
  static async create(opts: WorkerPoolOptions): Promise<WorkerPool> {
    validateOptions(opts);
    const pool = new WorkerPool(opts);
    pool.#routeMediasoupLogs();
    const results = await Promise.allSettled(
      Array.from({ length: opts.numWorkers }, (_, index) => pool.#spawn(index, 1)),
    );
    for (const r of results) if (r.status === 'fulfilled') pool.#workers[r.value.index] = r.value;
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      await pool.close();
      throw new AppError('UNAVAILABLE', `could not start the media workers: ${errorMessage(failed.reason)}`, {
        cause: failed.reason,
      });
    }
    pool.#logger.info({ workers: pool.#workers.map((w) => ({ index: w.index, pid: w.pid })) }, 'media workers started');
    return pool;
  }

  /** Current workers by index. A slot may briefly hold a dead worker while it is being replaced. */
  get workers(): readonly MediaWorker[] {
    return this.#workers;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The IP media sockets bind to (also the source of recording RTP). */
  get listenIp(): string {
    return this.#opts.listenIp;
  }

  /** The address other hosts reach this one's media sockets on (default: `listenIp`). */
  get announcedAddress(): string {
    return this.#opts.announcedAddress ?? this.#opts.listenIp;
  }

  /**
   * The least-loaded live worker (see {@link MediaWorker.load}); ties go to the lower index.
   * @param exclude worker indexes to avoid.
   * @throws AppError('UNAVAILABLE') if no live worker is left outside `exclude`.
   */
  pick(exclude?: ReadonlySet<number>): MediaWorker {
    if (this.#closed) throw new AppError('UNAVAILABLE', 'the media worker pool is closed');
    let best: MediaWorker | undefined;
    for (const w of this.#workers) {
      if (!w.alive || exclude?.has(w.index)) continue;
      if (!best || w.load < best.load) best = w;
    }
    if (!best) throw new AppError('UNAVAILABLE', 'no media worker available');
    return best;
  }

  /** Closes every worker and waits for their processes to exit. Idempotent. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    const exits = this.#workers.map((w) => closeWorker(w.worker));
    setLogEventListeners();
    this.#closing = Promise.all(exits).then(() => {
      this.#logger.info('media workers closed');
    });
    return this.#closing;
  }

  /** Starts worker `index` and its WebRtcServer, retrying the server while its port is busy. */
  async #spawn(index: number, attempts: number): Promise<MediaWorker> {
    const { logLevel, rtcMinPort, rtcMaxPort } = this.#opts;
    const worker = await createWorker({ logLevel, rtcMinPort, rtcMaxPort, appData: { index } });
    const log = this.#logger.child({ workerIndex: index, pid: worker.pid });
    // Registered at once: a worker can die before its WebRtcServer exists.
    worker.on('died', (error) => this.#onDied(index, worker, error));
    let webRtcServer: ms.WebRtcServer | undefined;
    for (let attempt = 1; !webRtcServer; attempt += 1) {
      try {
        webRtcServer = await worker.createWebRtcServer({ listenInfos: this.#listenInfos(index) });
      } catch (error) {
        if (attempt >= attempts || this.#closed || worker.closed) {
          worker.close();
          throw error;
        }
        // The dead worker's sockets may not be released yet.
        log.warn({ err: error, attempt }, 'WebRtcServer port busy, retrying');
        await sleep(REPLACE_DELAY_MS * attempt);
      }
    }
    log.info({ udpTcpPort: this.#opts.webRtcPort === 0 ? 'auto' : this.#opts.webRtcPort + index }, 'media worker ready');
    return new MediaWorker(index, worker, webRtcServer);
  }

  #listenInfos(index: number): ms.TransportListenInfo[] {
    const { listenIp, announcedAddress, webRtcPort } = this.#opts;
    const base = {
      ip: listenIp,
      ...(announcedAddress !== undefined ? { announcedAddress } : {}),
      ...(webRtcPort !== 0 ? { port: webRtcPort + index } : {}),
    };
    return [
      { ...base, protocol: 'udp' },
      { ...base, protocol: 'tcp' },
    ];
  }

  #onDied(index: number, worker: ms.Worker, error: Error): void {
    const pid = worker.pid;
    this.#logger.error({ workerIndex: index, pid, err: error }, 'media worker died');
    if (this.#closed) return;
    this.emit('workerdied', { index, pid, error });
    void this.#replace(index);
  }

  /** Replaces the worker at `index`; keeps trying (with a capped backoff) until it works or the pool closes. */
  async #replace(index: number): Promise<void> {
    for (let round = 0; !this.#closed; round += 1) {
      try {
        const replacement = await this.#spawn(index, REPLACE_ATTEMPTS);
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may run during the await above; TS keeps the narrowing across it
        if (this.#closed) {
          await closeWorker(replacement.worker);
          return;
        }
        this.#workers[index] = replacement;
        this.#logger.info({ workerIndex: index, pid: replacement.pid }, 'media worker replaced');
        this.emit('workerreplaced', { index, pid: replacement.pid });
        return;
      } catch (error) {
        this.#logger.error({ err: error, workerIndex: index, round }, 'could not replace media worker; will retry');
        await sleep(Math.min(5000, 500 * 2 ** round), undefined, { ref: false });
      }
    }
  }

  /** Sends mediasoup's warnings and errors (including worker stderr) to our logger. */
  #routeMediasoupLogs(): void {
    const bind = (log: string): Logger => {
      const pid = Number(/pid:(\d+)/.exec(log)?.[1]);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a worker that failed to start leaves a hole in the array until it is replaced
      const worker = this.#workers.find((w) => w?.pid === pid);
      return worker ? this.#logger.child({ workerIndex: worker.index, pid }) : this.#logger;
    };
    setLogEventListeners({
      ...(this.#opts.logLevel === 'debug' ? { ondebug: (ns: string, log: string) => bind(log).debug({ ns }, log) } : {}),
      onwarn: (ns, log) => bind(log).warn({ ns }, log),
      onerror: (ns, log, error) => bind(log).error({ ns, err: error }, log),
    });
  }
}

function validateOptions(o: WorkerPoolOptions): void {
  const bad = (msg: string): never => {
    throw new AppError('BAD_REQUEST', `media worker pool: ${msg}`);
  };
  if (!Number.isInteger(o.numWorkers) || o.numWorkers < 1) bad('numWorkers must be a positive integer');
  if ((o.listenIp === '0.0.0.0' || o.listenIp === '::') && !o.announcedAddress) {
    bad(`listening on ${o.listenIp} needs an announcedAddress that browsers can reach`);
  }
  if (!Number.isInteger(o.webRtcPort) || o.webRtcPort < 0 || o.webRtcPort + o.numWorkers - 1 > 65535) {
    bad('webRtcPort + numWorkers must stay within 0..65535');
  }
  if (!(o.rtcMinPort > 0 && o.rtcMinPort <= o.rtcMaxPort && o.rtcMaxPort <= 65535)) {
    bad('rtcMinPort..rtcMaxPort must be a valid port range');
  }
}

/** Closes a worker and resolves when its process has exited (or after a timeout). */
function closeWorker(worker: ms.Worker): Promise<void> {
  if (worker.subprocessClosed) {
    worker.close();
    return Promise.resolve();
  }
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
    timer.unref();
    worker.once('subprocessclose', () => {
      clearTimeout(timer);
      resolve();
    });
    worker.close();
  });
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
