import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../common/logger.ts';
import type { SpoolDir } from '../../common/storage/Storage.ts';
import { AAC_SEGMENT_LIST, RUN_INDEX, SEGMENT_LIST, parseSegmentList, writeRunIndex, type RunIndex, type SegmentEntry } from '../media/runIndex.ts';
import { aacSegmentIndex, segmentIndex } from '../media/segments.ts';
import type { RecorderStats } from './RecorderStats.ts';
import { SegmentStoreError } from './SegmentStoreError.ts';

export interface SegmentUploaderOptions {
  /** The run's directory, where ffmpeg writes its segments (Storage.spoolDir). */
  spool: SpoolDir;
  logger: Logger;
  /** Counts what was stored and what failed (/metrics). */
  stats?: RecorderStats | undefined;
  /** How often the directory is looked at while ffmpeg runs (default 500 ms). */
  pollMs?: number;
  /** After ffmpeg exited, a segment that does not store is tried 5 times, this far apart and doubling (default 1 s). */
  retryMs?: number;
}

/** Tries after the run ended, before its segments are given up on (left in the local directory). */
const FINAL_ATTEMPTS = 5;

/**
 * Stores a recorder run's segments as soon as ffmpeg has finished them, so that a crash of
 * the workers host loses at most the segment in flight. ffmpeg's segment muxer writes a
 * segment's trailer and closes it before it opens the next one: while ffmpeg runs every
 * segment but the newest is finished, and once it has exited all of them are. The directory
 * is polled (one readdir every `pollMs`), not watched: a file event does not say that a
 * segment is complete, the next segment's existence does. The run's AAC segments
 * (`aac-NNNNN.mka`, an output of their own: recorderArgs with `aac`) are a second series,
 * stored the same way (finished when the next AAC segment exists). Zero-byte segments are left out,
 * as `listRuns` leaves them out. A segment that fails to store is tried again at the next look.
 *
 * After each look that stored something, it also writes and stores the run's segment index
 * (`index.json`, runIndex.ts): the stored segments' start and end times as ffmpeg listed them
 * in `segments.csv` when it closed each one (and the AAC segments', from `aac.csv`, as `aac`). The finalize job reads it instead of probing every
 * segment. An index that cannot be written or stored is only logged: finalize then probes.
 */
export class SegmentUploader {
  readonly #spool: SpoolDir;
  readonly #log: Logger;
  readonly #stats: RecorderStats | undefined;
  readonly #pollMs: number;
  readonly #retryMs: number;
  /** Segments stored, or passed over because empty. */
  readonly #done = new Set<string>();
  /** Segments stored (not the empty ones), in the order stored. */
  readonly #storedNames = new Set<string>();
  /** Entries in the last index stored (segments and AAC segments; 0: none yet). */
  #indexed = 0;
  #indexedAac = 0;
  #stored = 0;
  #timer: NodeJS.Timeout | undefined;
  #looking: Promise<unknown> = Promise.resolve();
  #finishing = false;

  constructor(o: SegmentUploaderOptions) {
    this.#spool = o.spool;
    this.#log = o.logger;
    this.#stats = o.stats;
    this.#pollMs = o.pollMs ?? 500;
    this.#retryMs = o.retryMs ?? 1000;
  }

  /** Starts looking for finished segments (ffmpeg is running). */
  start(): void {
    const look = async (): Promise<void> => {
      this.#looking = this.#storeFinished(false);
      await this.#looking;
      if (!this.#finishing) this.#timer = setTimeout(() => void look(), this.#pollMs);
    };
    this.#timer = setTimeout(() => void look(), this.#pollMs);
  }

  /**
   * After ffmpeg has exited: stops looking and stores every segment not stored yet, the last
   * one included. Resolves with the number of segments the run stored.
   * @throws SegmentStoreError when some could not be stored after 5 tries.
   */
  async finish(): Promise<number> {
    this.#finishing = true;
    clearTimeout(this.#timer);
    await this.#looking;
    for (let attempt = 1; ; attempt++) {
      const failed = await this.#storeFinished(true);
      if (failed.files.length === 0) return this.#stored;
      if (attempt === FINAL_ATTEMPTS) throw new SegmentStoreError(failed.files, this.#spool.path, { cause: failed.error });
      await sleep(this.#retryMs * 2 ** (attempt - 1));
    }
  }

  /** Stores the finished segments not stored yet (all of them when `all`); says which failed. */
  async #storeFinished(all: boolean): Promise<{ files: string[]; error?: unknown }> {
    const failed: { files: string[]; error?: unknown } = { files: [] };
    let names: string[];
    try {
      names = await readdir(this.#spool.path);
    } catch (err) {
      this.#log.warn({ err }, 'could not list the run directory');
      return { files: ['(the run directory)'], error: err };
    }
    // Two series, each finished up to its newest file: the segments, and the AAC segments.
    const series = (number: (name: string) => number | null) =>
      names
        .map((name) => ({ name, index: number(name) }))
        .filter((s): s is { name: string; index: number } => s.index !== null)
        .sort((a, b) => a.index - b.index);
    const finished = [series(segmentIndex), series(aacSegmentIndex)].flatMap((s) => (all ? s : s.slice(0, -1)));
    for (const { name } of finished) {
      if (this.#done.has(name)) continue;
      try {
        const { size } = await stat(path.join(this.#spool.path, name));
        if (size === 0) {
          this.#done.add(name);
          continue;
        }
        await this.#spool.store(name);
        this.#done.add(name);
        this.#storedNames.add(name);
        this.#stored++;
        this.#stats?.segmentStored(size);
        this.#log.debug({ segment: name }, 'segment stored');
      } catch (err) {
        this.#log.warn({ err, segment: name }, 'storing a segment failed; trying again');
        this.#stats?.segmentFailed();
        failed.files.push(name);
        failed.error = err;
      }
    }
    await this.#storeIndex();
    return failed;
  }

  /** Writes and stores `index.json` when ffmpeg has listed more stored segments (or AAC segments) than the last one holds. */
  async #storeIndex(): Promise<void> {
    try {
      const segments = await this.#listedAndStored(SEGMENT_LIST, 'video');
      const aac = await this.#listedAndStored(AAC_SEGMENT_LIST, 'aac');
      if (segments.length === 0 || (segments.length === this.#indexed && aac.length === this.#indexedAac)) return;
      const index: RunIndex = { version: 1, segments, ...(aac.length > 0 ? { aac } : {}) };
      await writeRunIndex(this.#spool.path, index);
      await this.#spool.store(RUN_INDEX);
      this.#indexed = segments.length;
      this.#indexedAac = aac.length;
    } catch (err) {
      this.#log.warn({ err }, 'could not store the segment index; finalize will probe the segments');
    }
  }

  /**
   * The segments ffmpeg listed in `list` that are stored, up to the first that is not (yet): the
   * index names a prefix of the series, so a segment missing from it is the last one(s).
   */
  async #listedAndStored(list: string, kind: 'video' | 'aac'): Promise<SegmentEntry[]> {
    const csv = await readFile(path.join(this.#spool.path, list), 'utf8').catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw err;
    });
    const out: SegmentEntry[] = [];
    for (const entry of parseSegmentList(csv, kind)) {
      if (this.#storedNames.has(entry.file)) out.push(entry);
      else if (!this.#done.has(entry.file)) break; // empty segments are left out, not waited for
    }
    return out;
  }
}
