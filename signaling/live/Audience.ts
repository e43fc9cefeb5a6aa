import type { Logger } from '../../common/logger.ts';
import type { BroadcastId } from '../../common/protocol/ids.ts';
import type { Viewer } from '../../sfu/Viewer.ts';
import type { Notifier, ViewerTally } from './ports.ts';

/** Viewer-count pushes are coalesced to at most one per this interval per broadcast. */
const COUNT_PUSH_MS = 250;

/** One connection's viewer, and who it counts as. */
interface Watching {
  viewer: Viewer;
  /** Who this is for the count: a user by id, an anonymous viewer by address; null for the owner (never counted). */
  key: string | null;
}

export interface AudienceOptions {
  broadcastId: BroadcastId;
  /** The broadcaster: watching their own broadcast from another tab is not an audience. */
  ownerId: string;
  notifier: Notifier;
  /** Adds up the counts of every node (the one-host tally is this node's count). */
  tally: ViewerTally;
  /** With a shared tally, how often other nodes' changes are picked up. */
  refreshMs: number;
  logger: Logger;
}

/**
 * The viewers of one broadcast on this node and their count. The count is of distinct people
 * (one person's many connections count once; the owner never counts), summed over nodes by
 * the tally, and pushed to this node's connections at most every 250 ms, and every
 * `refreshMs` while the tally is shared.
 */
export class Audience {
  readonly #o: AudienceOptions;
  readonly #viewers = new Map<string, Watching>();
  #countTimer: NodeJS.Timeout | undefined;
  readonly #refresh: NodeJS.Timeout | undefined;
  #lastPushed = -1;
  #total = 0;
  #closed = false;

  constructor(o: AudienceOptions) {
    this.#o = o;
    if (o.tally.shared) {
      this.#refresh = setInterval(() => void this.#push(), o.refreshMs);
      this.#refresh.unref();
    }
  }

  /** Distinct viewers on this node. */
  get localCount(): number {
    const keys = new Set<string>();
    for (const w of this.#viewers.values()) if (w.key !== null) keys.add(w.key);
    return keys.size;
  }

  /** The count as last added up over nodes (this node's count when it is alone). */
  get total(): number {
    return this.#o.tally.shared ? Math.max(this.#total, this.localCount) : this.localCount;
  }

  get size(): number {
    return this.#viewers.size;
  }

  has(peerId: string): boolean {
    return this.#viewers.has(peerId);
  }

  /** `peerId`'s viewer, if it watches and its viewer is alive. */
  viewerOf(peerId: string): Viewer | undefined {
    const v = this.#viewers.get(peerId)?.viewer;
    return v && !v.closed ? v : undefined;
  }

  /**
   * `peerId` watches through `viewer`. When the viewer's router is lost (its worker died),
   * the connection is told to rejoin.
   */
  add(peerId: string, viewer: Viewer, key: string, userId: string | undefined): void {
    this.#viewers.set(peerId, { viewer, key: userId !== undefined && userId === this.#o.ownerId ? null : key });
    viewer.on('close', (reason) => {
      if (reason !== 'worker-died' || this.#viewers.get(peerId)?.viewer !== viewer) return;
      this.#viewers.delete(peerId);
      this.#o.notifier.toPeer(peerId, 'broadcast:interrupted', { broadcastId: this.#o.broadcastId, reason: 'media-worker-died' });
      this.scheduleCount();
    });
    this.#o.notifier.join(peerId, this.#o.broadcastId);
    this.scheduleCount();
  }

  /** Forgets `peerId`'s viewer (the caller closes it); undefined when it was not watching. */
  remove(peerId: string): Viewer | undefined {
    const watching = this.#viewers.get(peerId);
    if (!watching) return undefined;
    this.#viewers.delete(peerId);
    this.scheduleCount();
    return watching.viewer;
  }

  /** Forgets every viewer (their media is gone); they stay in the broadcast's room. */
  clear(): string[] {
    const peers = [...this.#viewers.keys()];
    this.#viewers.clear();
    this.scheduleCount();
    return peers;
  }

  /** Pushes the count to this node's connections once the coalescing interval has passed. */
  scheduleCount(): void {
    if (this.#countTimer || this.#closed) return;
    this.#countTimer = setTimeout(() => {
      this.#countTimer = undefined;
      void this.#push(true);
    }, COUNT_PUSH_MS);
  }

  /** Stops pushing and withdraws this node's count from the tally. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#countTimer) clearTimeout(this.#countTimer);
    if (this.#refresh) clearInterval(this.#refresh);
    this.#viewers.clear();
    this.#o.tally.withdraw(this.#o.broadcastId).catch((err: unknown) => this.#o.logger.warn({ err }, 'could not withdraw a viewer count (it lapses by itself)'));
  }

  async #push(changedHere = false): Promise<void> {
    if (this.#closed) return;
    try {
      this.#total = await this.#o.tally.report(this.#o.broadcastId, this.localCount);
    } catch (err) {
      // Redis away: this node's own count is the best it knows.
      this.#o.logger.debug({ err }, 'viewer tally unavailable');
      this.#total = this.localCount;
    }
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may run during the await above; TS keeps the narrowing across it
    if (this.#closed || (!changedHere && this.#total === this.#lastPushed)) return;
    this.#lastPushed = this.#total;
    this.#o.notifier.toBroadcastHere(this.#o.broadcastId, 'viewers:count', { broadcastId: this.#o.broadcastId, count: this.#total });
  }
}
