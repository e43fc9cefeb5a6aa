import { createHmac, timingSafeEqual } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Config } from '../../common/config.ts';
import { AppError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { ArchiveSummary } from '../../common/protocol/archives.ts';
import type { UserId } from '../../common/protocol/ids.ts';
import { redisConnection } from '../../common/redisRpc.ts';
import { QUEUES, archiveJobId, type ArchiveJob } from '../../common/jobs/queues.ts';
import type { ArchiveResult } from '../../common/jobs/results.ts';
import type { ArchiveInput } from '../../common/jobs/archiveInput.ts';
import type { Storage } from '../../common/storage/Storage.ts';
import { ARCHIVE_INPUT_FILE, archiveKey, archivePrefix } from '../../common/storage/storageKeys.ts';
import type { ArchiveRecord } from '../store/ArchiveStore.ts';
import type { ArchivedChatMessage } from '../store/ChatStore.ts';
import type { Stores } from '../store/index.ts';
import type { UserRecord } from '../store/UserStore.ts';

export interface ArchiveServiceOptions {
  config: Pick<Config, 'redisUrl' | 'queuePrefix' | 'secret' | 'archives'>;
  stores: Stores;
  /** Where the input snapshots and the zips are (`archives/<archiveId>/…`). */
  storage: Storage;
  logger: Logger;
  appVersion: string;
  /** Pushes an event to every connection of a user. */
  notifyUser: (userId: UserId, archive: ArchiveSummary) => void;
  /**
   * During a sunset, when the service goes off (ms), or null: a link made during a sunset
   * works at least until then, so a pre-generated archive does not expire before the end.
   */
  serviceEndsAt?: () => number | null;
  clock?: () => number;
}

export interface ArchiveRequestOptions {
  /**
   * A background build (the sunset pre-generation): queued behind every archive a user
   * asked for, and written no faster than `archives.backgroundMbPerSecond`.
   */
  background?: boolean;
}

/** BullMQ priority of background archives; a user's own request has none, so it goes first. */
const BACKGROUND_PRIORITY = 100;

/** How often, and past what age, archives being built are checked for a lost job (requeueLost). */
const REPAIR_INTERVAL_MS = 15_000;
const REPAIR_MIN_AGE_MS = 10_000;

/** Replay files that go into an archive (the download and its poster). */
const ARCHIVED_REPLAY_FILES = ['replay.mp4', 'poster.jpg'] as const;

/**
 * "Download your data": snapshots a user's data into `archives/<id>/input.json` in the storage,
 * enqueues the `archive` job (the workers process streams the zip), applies its progress
 * and result, and signs expiring download links.
 */
export class ArchiveService {
  readonly #o: ArchiveServiceOptions;
  readonly #queue: Queue<ArchiveJob>;
  readonly #clock: () => number;
  #repairTimer: NodeJS.Timeout | undefined;

  constructor(o: ArchiveServiceOptions) {
    this.#o = o;
    this.#clock = o.clock ?? Date.now;
    this.#queue = new Queue<ArchiveJob>(QUEUES.archive, { connection: redisConnection(o.config.redisUrl), prefix: o.config.queuePrefix });
    this.#queue.on('error', (err) => o.logger.warn({ err }, 'archive queue error'));
  }

  get queue(): Queue {
    return this.#queue as Queue;
  }

  /** Starts building the user's archive. AppError ARCHIVE_IN_PROGRESS if one is being built. */
  async request(user: UserRecord, options: ArchiveRequestOptions = {}): Promise<ArchiveSummary> {
    const record = await this.#o.stores.archives.create(user.id);
    try {
      await this.#o.storage.writeFile(archiveKey(record.id, ARCHIVE_INPUT_FILE), JSON.stringify(await this.#snapshot(user, record)));
      const mbps = this.#o.config.archives.backgroundMbPerSecond;
      const job: ArchiveJob = options.background && mbps > 0 ? { archiveId: record.id, maxBytesPerSecond: Math.round(mbps * 1024 * 1024) } : { archiveId: record.id };
      await this.#enqueue(job, options.background === true);
    } catch (err) {
      await this.#o.stores.archives.markFailed(record.id, 'could not start building the archive; try again');
      this.#o.logger.error({ err, archiveId: record.id }, 'could not enqueue an archive');
      throw new AppError('UNAVAILABLE', 'could not start building your archive; try again in a moment');
    }
    this.#o.logger.info({ archiveId: record.id, userId: user.id, background: options.background === true }, 'archive requested');
    return this.summary(record);
  }

  /**
   * A replay of the user was deleted: its broadcast leaves the input of the user's archive
   * being built, if any (at most one is), so the job skips it (its files are being removed).
   * A job that already read the input and then misses the files fails its attempt and is
   * retried (up to 3 attempts) on the new input. Returns whether an input changed.
   */
  async dropBroadcast(userId: UserId, broadcastId: string): Promise<boolean> {
    const record = await this.#o.stores.archives.latestForUser(userId);
    if (record?.state !== 'building') return false;
    const key = archiveKey(record.id, ARCHIVE_INPUT_FILE);
    let input: ArchiveInput;
    try {
      input = JSON.parse((await this.#o.storage.readFile(key)).toString('utf8')) as ArchiveInput;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    const kept = input.broadcasts.filter((b) => b.id !== broadcastId);
    if (kept.length === input.broadcasts.length) return false;
    await this.#o.storage.writeFile(key, JSON.stringify({ ...input, broadcasts: kept }));
    this.#o.logger.info({ archiveId: record.id, broadcastId }, 'deleted replay dropped from a pending archive');
    return true;
  }

  /** The user's newest archive, if any. */
  async latest(userId: UserId): Promise<ArchiveSummary | null> {
    const record = await this.#o.stores.archives.latestForUser(userId);
    return record ? this.summary(record) : null;
  }

  /** Applies a result of the archive job and tells the user. */
  async applyResult(r: ArchiveResult): Promise<void> {
    const archives = this.#o.stores.archives;
    if (r.state === 'progress') await archives.setProgress(r.archiveId, r.percent);
    else if (r.state === 'failed') await archives.markFailed(r.archiveId, r.reason);
    else {
      const ttlMs = this.#o.config.archives.linkTtlHours * 3600 * 1000;
      const expiresAt = Math.max(this.#clock() + ttlMs, this.#o.serviceEndsAt?.() ?? 0);
      await archives.markReady(r.archiveId, { fileName: r.fileName, sizeBytes: r.sizeBytes, sha256: r.sha256, expiresAt });
    }
    const record = await archives.get(r.archiveId);
    if (record) this.#o.notifyUser(record.userId, this.summary(record));
    if (record?.state === 'ready') await this.pruneSuperseded(record.userId);
  }

  /**
   * Deletes the zips of the user's superseded archives: every ready archive but the newest
   * is marked deleted (its link then answers 410) and its directory removed. Archives being
   * built are never touched. During a sunset an archive whose link was promised to work
   * until the service goes off (expiry at or after offAt: the sweep's archive, and any made
   * during the sunset) is kept until it expires. Returns the ids deleted.
   */
  async pruneSuperseded(userId: UserId): Promise<string[]> {
    const [, ...superseded] = await this.#o.stores.archives.keptReady(userId);
    const endsAt = this.#o.serviceEndsAt?.() ?? null;
    const deleted: string[] = [];
    for (const a of superseded) {
      if (endsAt !== null && a.expiresAt !== null && Date.parse(a.expiresAt) >= endsAt) continue;
      if (await this.#deleteFiles(a, 'superseded')) deleted.push(a.id);
    }
    return deleted;
  }

  /**
   * The start-up sweep: deletes the zips of ready archives past their link expiry, and of
   * superseded archives left over (a crash between "ready" and the pruning, or archives made
   * before pruning existed). Returns how many were deleted.
   */
  async sweepFiles(): Promise<{ expired: number; superseded: number }> {
    const archives = this.#o.stores.archives;
    let expired = 0;
    for (const a of await archives.expiredKept(this.#clock())) if (await this.#deleteFiles(a, 'expired')) expired += 1;
    let superseded = 0;
    for (const userId of await archives.usersWithSuperseded()) superseded += (await this.pruneSuperseded(userId)).length;
    if (expired + superseded > 0) this.#o.logger.info({ expired, superseded }, 'deleted old archive files');
    return { expired, superseded };
  }

  /** Marks the archive deleted first (its link stops working), then removes its directory. */
  async #deleteFiles(a: ArchiveRecord, why: 'superseded' | 'expired'): Promise<boolean> {
    if (!(await this.#o.stores.archives.markDeleted(a.id))) return false;
    // The id matched the archive id pattern when it was made; check again before a recursive rm.
    if (!/^a_[A-Za-z0-9_-]{8,40}$/.test(a.id)) throw new Error(`refusing to delete an archive with a malformed id: ${JSON.stringify(a.id)}`);
    // A download in progress keeps its open file; the space is freed when it ends.
    await this.#o.storage.deletePrefix(archivePrefix(a.id));
    this.#o.logger.info({ archiveId: a.id, userId: a.userId, why }, 'archive file deleted');
    return true;
  }

  /**
   * Checks a download link and returns the storage key of the archive's zip. The link is signed over the
   * archive id and its expiry: another archive's id, a changed expiry or signature → 403;
   * past its expiry, or its zip deleted because a newer archive replaced it → 410
   * LINK_EXPIRED with a message saying which.
   */
  async resolveDownload(id: string, expires: string | undefined, sig: string | undefined): Promise<{ key: string; record: ArchiveRecord }> {
    if (!/^a_[A-Za-z0-9_-]{8,40}$/.test(id) || !expires || !/^\d{1,16}$/.test(expires) || !sig || !/^[0-9a-f]{64}$/.test(sig)) {
      throw new AppError('FORBIDDEN', 'this download link is not valid');
    }
    const expected = Buffer.from(this.#sign(id, Number(expires)), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(sig, 'hex'))) throw new AppError('FORBIDDEN', 'this download link is not valid');
    const record = await this.#o.stores.archives.get(id);
    if (!record || record.state !== 'ready' || !record.fileName) throw new AppError('NOT_FOUND', 'archive not found');
    if (Number(expires) <= this.#clock() || (record.expiresAt && Date.parse(record.expiresAt) <= this.#clock())) {
      throw new AppError('LINK_EXPIRED', 'this download link has expired; ask for your archive again');
    }
    if (record.deletedAt) {
      throw new AppError('LINK_EXPIRED', 'a newer archive replaced this one; download the newer one from your account page');
    }
    return { key: archiveKey(id, record.fileName), record };
  }

  summary(r: ArchiveRecord): ArchiveSummary {
    const expiresMs = r.expiresAt ? Date.parse(r.expiresAt) : null;
    const usable = r.state === 'ready' && r.deletedAt === null && expiresMs !== null && expiresMs > this.#clock();
    return {
      id: r.id,
      state: r.state,
      percent: r.percent,
      sizeBytes: r.sizeBytes,
      sha256: r.sha256,
      reason: r.reason,
      createdAt: r.createdAt,
      expiresAt: r.expiresAt,
      downloadUrl: usable ? `/api/archives/${r.id}/download?expires=${expiresMs}&sig=${this.#sign(r.id, expiresMs)}` : null,
    };
  }

  /**
   * Archives still building whose job is gone from the queue — Redis restarted without its data
   * after the request (the job, or its result, was lost) — are enqueued again from their stored
   * input. Only archives older than `minAgeMs` (a request being enqueued right now is not taken
   * for lost). Returns how many were enqueued. Runs at start and every `repairMs` (start()).
   */
  async requeueLost(minAgeMs = REPAIR_MIN_AGE_MS): Promise<number> {
    let n = 0;
    for (const r of await this.#o.stores.archives.listBuilding()) {
      if (this.#clock() - Date.parse(r.createdAt) < minAgeMs) continue;
      if (await this.#queue.getJob(archiveJobId(r.id))) continue;
      await this.#enqueue({ archiveId: r.id }, false);
      this.#o.logger.warn({ archiveId: r.id }, 'an archive being built had no job (Redis lost it): enqueued again');
      n++;
    }
    return n;
  }

  /** Repairs lost jobs now and every `repairMs` until closed. */
  start(repairMs = REPAIR_INTERVAL_MS): void {
    const tick = () => {
      this.requeueLost().catch((err: unknown) => this.#o.logger.warn({ err }, 'could not look for lost archive jobs (trying again)'));
    };
    tick();
    this.#repairTimer = setInterval(tick, repairMs);
    this.#repairTimer.unref();
  }

  async close(): Promise<void> {
    if (this.#repairTimer) clearInterval(this.#repairTimer);
    await this.#queue.close();
  }

  async #enqueue(job: ArchiveJob, background: boolean): Promise<void> {
    await this.#queue.add('archive', job, {
      jobId: archiveJobId(job.archiveId),
      ...(background ? { priority: BACKGROUND_PRIORITY } : {}),
      attempts: 3,
      backoff: { type: 'exponential', delay: 2000 },
      removeOnComplete: { age: 7 * 24 * 3600 },
      removeOnFail: { age: 30 * 24 * 3600 },
    });
  }

  #sign(id: string, expiresMs: number): string {
    return createHmac('sha256', this.#o.config.secret).update(`archive:${id}:${expiresMs}`).digest('hex');
  }

  /** Everything of the user's that goes into the archive, read once from the database. */
  async #snapshot(user: UserRecord, record: ArchiveRecord): Promise<ArchiveInput> {
    const { stores } = this.#o;
    const broadcasts = await stores.broadcasts.listByOwner(user.id);
    const [profile, following, followers, notifications] = await Promise.all([
      stores.profiles.get(user.id),
      stores.follows.listFollowing(user.id),
      stores.follows.listFollowers(user.id),
      stores.notifications.listAll(user.id),
    ]);
    // Removed messages reach only their author's archive (listForArchive, listByUserElsewhere), marked.
    const toChat = (m: ArchivedChatMessage) => ({
      id: m.id,
      username: m.user.username,
      text: m.text,
      offsetMs: m.offsetMs,
      sentAt: m.sentAt,
      ...(m.removed ? { removed: { by: m.removed.as, at: m.removed.at } } : {}),
    });
    return {
      archiveId: record.id,
      createdAt: record.createdAt,
      appVersion: this.#o.appVersion,
      profile: {
        id: user.id,
        username: user.username,
        createdAt: user.createdAt,
        displayName: profile?.displayName ?? null,
        bio: profile?.bio ?? '',
        avatar: profile?.avatar ?? null,
      },
      follows: {
        following: following.map((f) => ({ username: f.username, since: f.since })),
        followers: followers.map((f) => ({ username: f.username, since: f.since })),
      },
      notifications: notifications.map((n) => ({
        id: n.id,
        kind: n.kind,
        actor: n.actor.username,
        broadcastId: n.broadcast.id,
        broadcastTitle: n.broadcast.title,
        createdAt: n.createdAt,
        readAt: n.readAt,
      })),
      broadcasts: await Promise.all(
        broadcasts.map(async (b) => {
          const replay = await stores.replays.get(b.id);
          const files = replay?.state === 'ready' ? ARCHIVED_REPLAY_FILES.filter((f) => (f === 'poster.jpg' ? replay.poster === f : replay.mp4?.name === f)) : [];
          return {
            id: b.id,
            title: b.title,
            visibility: b.visibility,
            startedAt: b.startedAt,
            endedAt: b.endedAt,
            replay:
              replay && files.length > 0
                ? {
                    durationMs: replay.durationMs,
                    timeline: replay.timeline,
                    files: [...files],
                    // The MP4's size, SHA-256 and CRC-32 (when recorded) from finalize: the archive does not hash it again.
                    ...(replay.mp4 && files.some((f) => f === replay.mp4?.name)
                      ? {
                          hashes: {
                            [replay.mp4.name]: {
                              sizeBytes: replay.mp4.sizeBytes,
                              sha256: replay.mp4.sha256,
                              ...(replay.mp4.crc32 !== undefined ? { crc32: replay.mp4.crc32 } : {}),
                            },
                          },
                        }
                      : {}),
                  }
                : null,
            chat: (await stores.chat.listForArchive(b.id, user.id)).map(toChat),
            hearts: (await stores.chat.hearts(b.id)).map((h) => ({ offsetMs: h.offsetMs, count: h.count })),
          };
        }),
      ),
      chatElsewhere: (await stores.chat.listByUserElsewhere(user.id)).map((m) => ({
        ...toChat(m),
        broadcastId: m.broadcastId,
        broadcastTitle: m.broadcastTitle,
      })),
    };
  }
}
