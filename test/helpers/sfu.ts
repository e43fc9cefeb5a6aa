import type { types as ms } from 'mediasoup';
import { pino } from 'pino';
import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { Broadcast, WorkerPool, type EventMap, type TypedEmitter, type WorkerPoolOptions } from '../../sfu/index.ts';

/** A logger that drops everything (tests assert on behaviour, not on log lines). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A pool on loopback with mediasoup-chosen ports, as every SFU integration suite uses. */
export function createTestPool(overrides: Partial<WorkerPoolOptions> = {}): Promise<WorkerPool> {
  return WorkerPool.create({
    numWorkers: 1,
    listenIp: '127.0.0.1',
    webRtcPort: 0,
    rtcMinPort: 40000,
    rtcMaxPort: 49999,
    logLevel: 'none',
    logger: silentLogger(),
    ...overrides,
  });
}

let counter = 0;

/** A broadcast with a unique, well-formed id on `pool`. */
export function createTestBroadcast(pool: WorkerPool, maxViewersPerRouter = 100): Promise<Broadcast> {
  counter += 1;
  return Broadcast.create({
    id: `b_test${String(counter).padStart(6, '0')}`,
    pool,
    maxViewersPerRouter,
    logger: silentLogger(),
  });
}

/** Resolves with the arguments of the first emission of `event`, or rejects after `ms`. */
export function waitFor<E extends EventMap, K extends keyof E & string>(
  emitter: TypedEmitter<E>,
  event: K,
  ms = 10_000,
): Promise<E[K]> {
  return new Promise<E[K]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for '${event}'`)), ms);
    emitter.once(event, (...args: E[K]) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

/** True while a process with `pid` exists. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Collects every consumer mediasoup creates on the pool's current workers from now on, so
 * tests can check state the wire does not show (paused, preferred layers, type).
 */
export function captureConsumers(pool: WorkerPool): ms.Consumer[] {
  const consumers: ms.Consumer[] = [];
  for (const w of pool.workers) {
    w.worker.observer.on('newrouter', (router) => {
      router.observer.on('newtransport', (transport) => {
        transport.observer.on('newconsumer', (consumer) => consumers.push(consumer));
      });
    });
  }
  return consumers;
}

/** The AppError `p` rejects with (throws when it resolves or rejects with anything else). */
export async function appError(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof AppError)) throw new Error(`expected an AppError, got ${String(err)}`);
  return err;
}

/** The AppError `fn` throws (throws when it returns or throws anything else): appError's synchronous twin. */
export function thrownAppError(fn: () => unknown): AppError {
  try {
    fn();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected an AppError');
}
