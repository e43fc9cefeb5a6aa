import type { Logger } from '../../common/logger.ts';
import type { BroadcastId, UserId } from '../../common/protocol/ids.ts';
import type { Storage } from '../../common/storage/Storage.ts';
import { recordingPrefix, replayPrefix } from '../../common/storage/storageKeys.ts';
import type { Stores } from '../store/index.ts';
import type { ReplayTombstone } from '../store/ReplayStore.ts';

/** What removal needs of the archives: dropping a broadcast from the user's archive being built. */
export interface PendingArchiveInputs {
  dropBroadcast(userId: UserId, broadcastId: BroadcastId): Promise<boolean>;
}

export interface ReplayRemovalOptions {
  stores: Stores;
  storage: Storage;
  logger: Logger;
  /** Absent when background jobs are disabled (no archive can be pending then). */
  archives?: PendingArchiveInputs | undefined;
  /** How often the sweep retries files still to be removed. Default 20 s (a deletion's files are gone within a minute). */
  sweepIntervalMs?: number;
}

/**
 * Deletes replays (docs/http-api.md, "Deleting a replay"): the database first, in one
 * transaction (the broadcast row, its replay, chat, hearts and invitees go; a tombstone
 * stays), so the replay leaves every list and its links answer 410 at once; then its files.
 * Files are removed right away and, should that fail (S3 unreachable) or a worker write more
 * afterwards (a finalize job that was running: RecordingService marks the tombstone unpurged),
 * by the sweep, every `sweepIntervalMs`, on every node (deleting is idempotent).
 */
export class ReplayRemoval {
  readonly #o: ReplayRemovalOptions;
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<number> | undefined;
  #closed = false;

  constructor(o: ReplayRemovalOptions) {
    this.#o = o;
  }

  /**
   * Deletes the replay (the caller has checked that the caller owns it). Returns its
   * tombstone, or undefined when it did not exist. The files are removed before it returns
   * when the storage answers; else the sweep removes them.
   */
  async delete(broadcastId: BroadcastId): Promise<ReplayTombstone | undefined> {
    const tombstone = await this.#o.stores.replays.delete(broadcastId);
    if (!tombstone) return undefined;
    this.#o.logger.info({ broadcastId, ownerId: tombstone.ownerId }, 'replay deleted');
    try {
      await this.purge(tombstone);
    } catch (err) {
      this.#o.logger.warn({ err, broadcastId }, 'could not remove the files of a deleted replay yet (the sweep tries again)');
    }
    return tombstone;
  }

  /** Removes a deleted replay's files: from its owner's pending archive input, the replay and the recording. */
  async purge(t: ReplayTombstone): Promise<void> {
    await this.#o.archives?.dropBroadcast(t.ownerId, t.broadcastId);
    await this.#o.storage.deletePrefix(replayPrefix(t.broadcastId));
    await this.#o.storage.deletePrefix(recordingPrefix(t.broadcastId));
    await this.#o.stores.replays.markPurged(t.broadcastId);
  }

  /** Removes the files of every tombstone still to do; returns how many were done. One sweep at a time. */
  sweep(): Promise<number> {
    return (this.#sweeping ??= this.#sweepOnce().finally(() => (this.#sweeping = undefined)));
  }

  async #sweepOnce(): Promise<number> {
    let done = 0;
    for (const t of await this.#o.stores.replays.listUnpurged()) {
      try {
        await this.purge(t);
        done += 1;
      } catch (err) {
        this.#o.logger.warn({ err, broadcastId: t.broadcastId }, 'could not remove the files of a deleted replay (tried again at the next sweep)');
      }
    }
    if (done > 0) this.#o.logger.info({ replays: done }, 'removed the files of deleted replays');
    return done;
  }

  /** Sweeps now and every `sweepIntervalMs` until closed. */
  start(): void {
    if (this.#closed || this.#timer) return;
    const tick = () => void this.sweep().catch((err: unknown) => this.#o.logger.warn({ err }, 'replay file sweep failed'));
    tick();
    this.#timer = setInterval(tick, this.#o.sweepIntervalMs ?? 20_000);
    this.#timer.unref();
  }

  /** Stops the sweep and waits for a running one. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sweeping?.catch(() => undefined);
  }
}
