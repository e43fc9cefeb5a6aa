import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * Which mediasoup worker binary each fan-out path runs: BENCH_RAW_WORKER_BIN for raw mediasoup
 * (e.g. the stock offline build), BENCH_SPYGLASS_WORKER_BIN for Spyglass (its own build); unset,
 * MEDIASOUP_WORKER_BIN or mediasoup's own binary. Both paths live in the bench process, and
 * mediasoup reads MEDIASOUP_WORKER_BIN once, when it loads, into `workerBin` of its Worker
 * module; it reads that export again at each spawn, so {@link withWorkerBin} sets it around the
 * creation of one path's workers. (A child process per path would need the viewers' transports
 * and stats over IPC; this is the smaller change.)
 */

export interface WorkerBinaries {
  /** null: mediasoup's default (MEDIASOUP_WORKER_BIN or its prebuilt/built binary). */
  raw: string | null;
  spyglass: string | null;
  /** The default, for the record. */
  default: string;
}

const require = createRequire(import.meta.url);
const workerModule = require(path.join(path.dirname(require.resolve('mediasoup')), 'Worker.js')) as { workerBin: string };
const defaultBin = workerModule.workerBin;

export function workerBinaries(): WorkerBinaries {
  const pick = (name: string) => {
    const bin = process.env[name];
    if (!bin) return null;
    if (!existsSync(bin)) throw new Error(`${name}: ${bin} does not exist`);
    return path.resolve(bin) === path.resolve(defaultBin) ? null : path.resolve(bin);
  };
  return { raw: pick('BENCH_RAW_WORKER_BIN'), spyglass: pick('BENCH_SPYGLASS_WORKER_BIN'), default: defaultBin };
}

/** Runs `create` with mediasoup spawning `bin` (null: the default), then restores the default. */
export async function withWorkerBin<T>(bin: string | null, create: () => Promise<T>): Promise<T> {
  workerModule.workerBin = bin ?? defaultBin;
  try {
    return await create();
  } finally {
    workerModule.workerBin = defaultBin;
  }
}
